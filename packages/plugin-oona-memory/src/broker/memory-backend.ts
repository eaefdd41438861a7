import { SystemClock, type Clock } from '@esper/core';
import {
  OonaBackendError,
  OonaBusyGroupError,
  OonaClosedError,
  OonaIdTooSmallError,
  OonaNoGroupError,
  OonaReadCancelledError,
  MAX_STREAM_ID_PART,
  parseStreamId,
  ZERO_ID,
  type AppendOptions,
  type AppendRequest,
  type AutoClaimResult,
  type ClaimedEntry,
  type EntryFields,
  type GroupInfo,
  type ReadGroupOptions,
  type StreamBackend,
  type StreamEntry,
} from '@esper/core/oona';
import { compareHalves, EntryLog, partText } from './entry-log.js';

/**
 * Delivery state of one pending id. Records are never mutated: one read shares a single
 * record among every id it delivers (the cheap, common case), and a claim replaces the
 * claimed id's record with a new one.
 */
interface PendingEntry {
  readonly consumer: string;
  readonly deliveries: number;
  readonly lastDeliveryMs: number;
}

/**
 * A stream id as four unsigned 32-bit halves: ids are pairs of 64-bit integers (an explicit
 * `XADD` may write `18446744073709551000-0`, and later auto ids inherit its millisecond part).
 */
interface Halves {
  msHi: number;
  msLo: number;
  seqHi: number;
  seqLo: number;
}

const TWO_32 = 4_294_967_296;
const MAX_HALF = 0xffff_ffff;
const SAFE_HI = 1 << 21;

function halvesOf(id: string): Halves {
  const { ms, seq } = parseStreamId(id);
  return { msHi: Number(ms >> 32n), msLo: Number(ms & 0xffff_ffffn), seqHi: Number(seq >> 32n), seqLo: Number(seq & 0xffff_ffffn) };
}

function textOf(h: Halves): string {
  return `${partText(h.msHi, h.msLo)}-${partText(h.seqHi, h.seqLo)}`;
}

function cmp(a: Halves, b: Halves): number {
  return compareHalves(a.msHi, a.msLo, a.seqHi, a.seqLo, b.msHi, b.msLo, b.seqHi, b.seqLo);
}

/** The millisecond part as a number when it is below 2^53 (exact), else Infinity. */
function msNumber(h: Halves): number {
  return h.msHi < SAFE_HI ? h.msHi * TWO_32 + h.msLo : Infinity;
}

interface MemGroup extends Halves {
  readonly pel: Map<string, PendingEntry>;
}

interface MemStream extends Halves {
  readonly entries: EntryLog;
  /** The last id's millisecond part as a number (auto ids compare the clock with it); Infinity past 2^53. */
  lastMsNumber: number;
  /** `<last ms>-`, kept so that auto ids in one millisecond cost one string concatenation. */
  idPrefix: string;
  readonly groups: Map<string, MemGroup>;
  waiters: Set<() => void>;
}

function boundId(id: string, low: boolean): Halves {
  if (id === '-') return { msHi: 0, msLo: 0, seqHi: 0, seqLo: 0 };
  if (id === '+') return { msHi: MAX_HALF, msLo: MAX_HALF, seqHi: MAX_HALF, seqLo: MAX_HALF };
  const h = halvesOf(id);
  if (id.indexOf('-') < 0 && !low) {
    h.seqHi = MAX_HALF;
    h.seqLo = MAX_HALF;
  }
  return h;
}

/**
 * Process-local Redis Streams: the shared state behind every {@link MemoryStreamBackend}
 * made from it, so clients with different consumer groups see the same entries (fan-out) and
 * clients in one group share them (work sharing). Ids come from the injected wall clock
 * (`<ms>-<seq>`, strictly increasing even when the clock goes back); idle times for claims
 * are measured on the same clock. Trimming is exact. Deterministic under a `ManualClock`.
 */
export class MemoryBroker {
  private static readonly registry = new Map<string, MemoryBroker>();
  private readonly streams = new Map<string, MemStream>();

  constructor(readonly clock: Clock = new SystemClock()) {}

  /**
   * A process-wide broker by name (the embedded default uses `default`), created with `clock`
   * on first use. Several plugins or runs in one process that name the same broker share streams.
   */
  static named(name: string, clock?: Clock): MemoryBroker {
    let broker = MemoryBroker.registry.get(name);
    if (broker === undefined) {
      broker = new MemoryBroker(clock);
      MemoryBroker.registry.set(name, broker);
    }
    return broker;
  }

  /** Forgets a named broker (its streams are dropped with it once no backend uses them). */
  static forget(name: string): void {
    MemoryBroker.registry.delete(name);
  }

  /** A new connection-like backend on this broker. */
  backend(): MemoryStreamBackend {
    return new MemoryStreamBackend(this);
  }

  /** Names of the streams that exist. */
  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  /** @internal */
  stream(name: string, create: boolean): MemStream | undefined {
    let s = this.streams.get(name);
    if (s === undefined && create) {
      s = { entries: new EntryLog(), msHi: 0, msLo: 0, seqHi: 0, seqLo: 0, lastMsNumber: 0, idPrefix: '0-', groups: new Map(), waiters: new Set() };
      this.streams.set(name, s);
    }
    return s;
  }

  /** @internal */
  drop(name: string): void {
    this.streams.delete(name);
  }

  /** @internal */
  group(stream: string, group: string): { s: MemStream; g: MemGroup } {
    const s = this.streams.get(stream);
    const g = s?.groups.get(group);
    if (s === undefined || g === undefined) throw new OonaNoGroupError(stream, group);
    return { s, g };
  }

  /** @internal */
  append(stream: string, fields: EntryFields, options?: AppendOptions): string {
    const s = this.stream(stream, true)!;
    const id = options?.id === undefined ? this.push(s, fields) : this.pushWithId(s, stream, options.id, fields);
    this.wake(s);
    return id;
  }

  /** @internal Appends every entry (auto ids, in order) and wakes blocked readers once; per entry its id or the Error that kept it out. */
  appendMany(stream: string, entries: readonly EntryFields[]): Array<string | Error> {
    const s = this.stream(stream, true)!;
    const ids = new Array<string | Error>(entries.length);
    // One clock reading for the batch: its entries share a millisecond, ids stay increasing.
    const now = Math.floor(this.clock.nowMs());
    let i = 0;
    try {
      for (; i < entries.length; i++) ids[i] = this.push(s, entries[i]!, now);
    } catch (error) {
      // Only an exhausted id space fails a push, and then every later one fails too.
      for (; i < entries.length; i++) ids[i] = error as Error;
    }
    if (entries.length > 0) this.wake(s);
    return ids;
  }

  /**
   * An auto id, as Redis makes it: the clock's millisecond when it is past the last id's, else
   * the last id's millisecond with the next sequence number (so a future-dated or huge id makes
   * every later id inherit its millisecond part).
   */
  private push(s: MemStream, fields: EntryFields, now = Math.floor(this.clock.nowMs())): string {
    if (now > s.lastMsNumber) {
      s.msHi = Math.floor(now / TWO_32);
      s.msLo = now >>> 0;
      s.seqHi = 0;
      s.seqLo = 0;
      s.lastMsNumber = now;
      s.idPrefix = `${now}-`;
    } else if (s.seqLo !== MAX_HALF) {
      s.seqLo += 1;
    } else if (s.seqHi !== MAX_HALF) {
      s.seqHi += 1;
      s.seqLo = 0;
    } else {
      if (s.msHi === MAX_HALF && s.msLo === MAX_HALF) {
        throw new OonaBackendError('The stream has exhausted the last possible id (18446744073709551615-18446744073709551615): delete or recreate it.');
      }
      if (s.msLo === MAX_HALF) {
        s.msHi += 1;
        s.msLo = 0;
      } else s.msLo += 1;
      s.seqHi = 0;
      s.seqLo = 0;
      s.lastMsNumber = msNumber(s);
      s.idPrefix = `${partText(s.msHi, s.msLo)}-`;
    }
    // The log copies the field bytes into its own blocks (see EntryLog): no object per entry outlives the call.
    s.entries.push(s.msHi, s.msLo, s.seqHi, s.seqLo, fields);
    return s.idPrefix + (s.seqHi === 0 ? s.seqLo : partText(s.seqHi, s.seqLo));
  }

  private pushWithId(s: MemStream, stream: string, id: string, fields: EntryFields): string {
    const h = halvesOf(id);
    if (cmp(h, s) <= 0) {
      throw new OonaIdTooSmallError(stream, id, textOf(s));
    }
    s.msHi = h.msHi;
    s.msLo = h.msLo;
    s.seqHi = h.seqHi;
    s.seqLo = h.seqLo;
    s.lastMsNumber = msNumber(h);
    s.idPrefix = `${partText(h.msHi, h.msLo)}-`;
    s.entries.push(h.msHi, h.msLo, h.seqHi, h.seqLo, fields);
    return textOf(h);
  }

  /** Wakes every read blocked on `s` (each re-registers if it still finds nothing). */
  private wake(s: MemStream): void {
    if (s.waiters.size === 0) return;
    const waiters = s.waiters;
    s.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** @internal */
  readNew(stream: string, group: string, consumer: string, count: number): StreamEntry[] {
    const { s, g } = this.group(stream, group);
    const log = s.entries;
    const start = log.upperBound(g.msHi, g.msLo, g.seqHi, g.seqLo);
    const end = Math.min(log.length, start + Math.max(1, count));
    if (start >= end) return [];
    const delivery: PendingEntry = { consumer, deliveries: 1, lastDeliveryMs: this.clock.nowMs() };
    const out = log.entries(start, end);
    for (let i = 0; i < out.length; i++) g.pel.set(out[i]!.id, delivery);
    g.msHi = log.half(end - 1, 0);
    g.msLo = log.half(end - 1, 1);
    g.seqHi = log.half(end - 1, 2);
    g.seqLo = log.half(end - 1, 3);
    return out;
  }
}


/**
 * A {@link StreamBackend} over a {@link MemoryBroker}: one per client, like a connection.
 * Blocking reads wait for an append on the stream (or the timeout, or their AbortSignal);
 * `close()` cancels this backend's waiting reads only.
 */
export class MemoryStreamBackend implements StreamBackend {
  private closed = false;
  private readonly cancels = new Set<() => void>();
  /** Requests appended this tick, and their errors (undefined: stored), settled in one microtask. */
  private toSettle: AppendRequest[] = [];
  private settleErrors: Array<Error | undefined> = [];
  private readonly settleSubmitted = (): void => {
    const requests = this.toSettle;
    const errors = this.settleErrors;
    this.toSettle = [];
    this.settleErrors = [];
    for (let i = 0; i < requests.length; i++) requests[i]!.settle(errors[i]);
  };

  constructor(readonly broker: MemoryBroker) {}

  private check(): void {
    if (this.closed) throw new OonaClosedError('Memory stream backend');
  }

  // The hot operations are plain functions that settle one promise (an async function that
  // returns a promise settles two): errors still arrive as rejections, never as throws.
  append(stream: string, fields: EntryFields, options?: AppendOptions): Promise<string> {
    try {
      this.check();
      return Promise.resolve(this.broker.append(stream, fields, options));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * Appends at once and settles `request` in a microtask shared by every request of the tick
   * (entries are readable before their publishers hear back, as with `append`).
   */
  submitAppend(request: AppendRequest): void {
    this.check();
    let error: Error | undefined;
    try {
      this.broker.append(request.stream, request.fields);
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
    }
    if (this.toSettle.length === 0) queueMicrotask(this.settleSubmitted);
    this.toSettle.push(request);
    this.settleErrors.push(error);
  }

  /** Appends the batch in one step: every entry, or none when this backend is closed. */
  appendMany(stream: string, entries: readonly EntryFields[]): Promise<ReadonlyArray<string | Error>> {
    try {
      this.check();
      return Promise.resolve(this.broker.appendMany(stream, entries));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  async length(stream: string): Promise<number> {
    this.check();
    return Promise.resolve(this.broker.stream(stream, false)?.entries.length ?? 0);
  }

  async pendingCount(stream: string, group: string): Promise<number> {
    this.check();
    return Promise.resolve(this.broker.group(stream, group).g.pel.size);
  }

  async groups(stream: string): Promise<readonly GroupInfo[]> {
    this.check();
    const s = this.broker.stream(stream, false);
    if (s === undefined) return Promise.resolve([]);
    const out: GroupInfo[] = [];
    for (const [name, g] of s.groups) {
      out.push({
        name,
        pending: g.pel.size,
        lastDeliveredId: textOf(g),
        lag: s.entries.length - s.entries.upperBound(g.msHi, g.msLo, g.seqHi, g.seqLo),
      });
    }
    return Promise.resolve(out);
  }

  async oldestPending(stream: string, group: string): Promise<string | undefined> {
    this.check();
    const { g } = this.broker.group(stream, group);
    let min: string | undefined;
    let minMs = MAX_STREAM_ID_PART + 1n;
    let minSeq = 0n;
    for (const id of g.pel.keys()) {
      const p = parseStreamId(id);
      if (p.ms < minMs || (p.ms === minMs && p.seq < minSeq)) {
        minMs = p.ms;
        minSeq = p.seq;
        min = id;
      }
    }
    return Promise.resolve(min);
  }

  async createGroup(stream: string, group: string, startId?: string): Promise<void> {
    this.check();
    const s = this.broker.stream(stream, true)!;
    if (s.groups.has(group)) throw new OonaBusyGroupError(stream, group);
    // Without startId the group starts at the stream's last id (`$`).
    const { msHi, msLo, seqHi, seqLo } = startId === undefined ? s : halvesOf(startId);
    s.groups.set(group, { msHi, msLo, seqHi, seqLo, pel: new Map() });
    return Promise.resolve();
  }

  async deleteGroup(stream: string, group: string): Promise<boolean> {
    this.check();
    const s = this.broker.stream(stream, false);
    if (s === undefined || !s.groups.delete(group)) return Promise.resolve(false);
    // Reads blocked on the group wake and find it gone (OonaNoGroupError), as after deleteStream.
    for (const wake of [...s.waiters]) wake();
    return Promise.resolve(true);
  }

  async readGroup(
    stream: string,
    group: string,
    consumer: string,
    options: ReadGroupOptions,
  ): Promise<readonly StreamEntry[]> {
    this.check();
    const first = this.broker.readNew(stream, group, consumer, options.count);
    if (first.length > 0 || options.blockMs === undefined) return first;
    const deadline = options.blockMs > 0 ? Date.now() + options.blockMs : Infinity;
    for (;;) {
      const outcome = await this.waitForAppend(stream, deadline, options.signal);
      if (outcome === 'cancelled') throw new OonaReadCancelledError();
      this.check();
      const entries = this.broker.readNew(stream, group, consumer, options.count);
      if (entries.length > 0 || outcome === 'timeout') return entries;
    }
  }

  private waitForAppend(stream: string, deadline: number, signal?: AbortSignal): Promise<'appended' | 'timeout' | 'cancelled'> {
    if (signal?.aborted === true) return Promise.resolve('cancelled');
    const s = this.broker.stream(stream, true)!;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (outcome: 'appended' | 'timeout' | 'cancelled'): void => {
        s.waiters.delete(wake);
        this.cancels.delete(cancel);
        signal?.removeEventListener('abort', cancel);
        if (timer !== undefined) clearTimeout(timer);
        resolve(outcome);
      };
      const wake = (): void => done('appended');
      const cancel = (): void => done('cancelled');
      s.waiters.add(wake);
      this.cancels.add(cancel);
      signal?.addEventListener('abort', cancel, { once: true });
      if (deadline !== Infinity) timer = setTimeout(() => done('timeout'), Math.max(0, deadline - Date.now()));
    });
  }

  ack(stream: string, group: string, ids: readonly string[]): Promise<number> {
    try {
      this.check();
      const { g } = this.broker.group(stream, group);
      let n = 0;
      for (let i = 0; i < ids.length; i++) if (g.pel.delete(ids[i]!)) n++;
      return Promise.resolve(n);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * This consumer's pending entries with ids after `after`, in id order, up to `count` (as
   * `XREADGROUP … STREAMS stream <after>`: delivery counts and times do not change; a trimmed
   * entry comes back with no fields).
   */
  async readPending(stream: string, group: string, consumer: string, after: string, count: number): Promise<readonly StreamEntry[]> {
    this.check();
    const { s, g } = this.broker.group(stream, group);
    const a = halvesOf(after);
    const mine: Array<{ id: string; h: Halves }> = [];
    for (const [id, pe] of g.pel) {
      if (pe.consumer !== consumer) continue;
      const h = halvesOf(id);
      if (cmp(h, a) > 0) mine.push({ id, h });
    }
    mine.sort((x, y) => cmp(x.h, y.h));
    return Promise.resolve(
      mine.slice(0, Math.max(1, count)).map(({ id, h }) => {
        const idx = s.entries.indexOf(h.msHi, h.msLo, h.seqHi, h.seqLo);
        return idx < 0 ? { id, fields: {} } : s.entries.entry(idx);
      }),
    );
  }

  async autoClaim(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    cursor: string,
    count: number,
  ): Promise<AutoClaimResult> {
    this.check();
    const { s, g } = this.broker.group(stream, group);
    const c = halvesOf(cursor);
    const ids = [...g.pel.keys()]
      .map((id) => ({ id, h: halvesOf(id) }))
      .filter((p) => cmp(p.h, c) >= 0)
      .sort((a, b) => cmp(a.h, b.h));
    const now = this.broker.clock.nowMs();
    const entries: ClaimedEntry[] = [];
    const deletedIds: string[] = [];
    let scanned = 0;
    let next = ZERO_ID;
    for (const p of ids) {
      if (entries.length >= count || scanned >= count * 10) {
        next = p.id;
        break;
      }
      scanned++;
      const pe = g.pel.get(p.id)!;
      if (now - pe.lastDeliveryMs < minIdleMs) continue;
      const idx = s.entries.indexOf(p.h.msHi, p.h.msLo, p.h.seqHi, p.h.seqLo);
      if (idx < 0) {
        g.pel.delete(p.id);
        deletedIds.push(p.id);
        continue;
      }
      const claimed: PendingEntry = { consumer, deliveries: pe.deliveries + 1, lastDeliveryMs: now };
      g.pel.set(p.id, claimed);
      entries.push({ id: s.entries.id(idx), fields: s.entries.fields(idx), deliveries: claimed.deliveries });
    }
    return Promise.resolve({ next, entries, deletedIds });
  }

  async trimMinId(stream: string, minId: string): Promise<number> {
    this.check();
    const s = this.broker.stream(stream, false);
    if (s === undefined) return Promise.resolve(0);
    const m = halvesOf(minId);
    const n = s.entries.lowerBound(m.msHi, m.msLo, m.seqHi, m.seqLo);
    s.entries.removeFirst(n);
    return Promise.resolve(n);
  }

  async range(stream: string, start: string, end: string, count: number, reverse = false): Promise<readonly StreamEntry[]> {
    this.check();
    const s = this.broker.stream(stream, false);
    if (s === undefined) return Promise.resolve([]);
    // XREVRANGE takes (end, start); accept both orders as Redis does for each command.
    const [lo, hi] = reverse ? [end, start] : [start, end];
    const l = boundId(lo, true);
    const h = boundId(hi, false);
    const from = s.entries.lowerBound(l.msHi, l.msLo, l.seqHi, l.seqLo);
    const to = Math.max(from, s.entries.upperBound(h.msHi, h.msLo, h.seqHi, h.seqLo));
    const n = Math.max(0, Math.min(count, to - from));
    if (!reverse) return Promise.resolve(s.entries.entries(from, from + n));
    const out: StreamEntry[] = [];
    for (let i = to - 1; i >= to - n; i--) out.push(s.entries.entry(i));
    return Promise.resolve(out);
  }

  async deleteStream(stream: string): Promise<void> {
    this.check();
    const s = this.broker.stream(stream, false);
    if (s !== undefined) {
      for (const wake of s.waiters) wake();
      this.broker.drop(stream);
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const cancel of [...this.cancels]) cancel();
    return Promise.resolve();
  }
}
