import { SystemClock, type Clock } from '@esper/core';
import {
  OonaBusyGroupError,
  OonaClosedError,
  OonaIdTooSmallError,
  OonaNoGroupError,
  OonaReadCancelledError,
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
import { EntryLog } from './entry-log.js';

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

interface MemGroup {
  lastMs: number;
  lastSeq: number;
  readonly pel: Map<string, PendingEntry>;
}

interface MemStream {
  readonly entries: EntryLog;
  lastMs: number;
  lastSeq: number;
  /** `${lastMs}-`, kept so that auto ids in one millisecond cost one string concatenation. */
  idPrefix: string;
  readonly groups: Map<string, MemGroup>;
  waiters: Set<() => void>;
}

function cmp(ams: number, aseq: number, bms: number, bseq: number): number {
  return ams === bms ? aseq - bseq : ams - bms;
}

function boundId(id: string, low: boolean): { ms: number; seq: number } {
  if (id === '-') return { ms: 0, seq: 0 };
  if (id === '+') return { ms: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER };
  const dash = id.indexOf('-');
  if (dash < 0) {
    const ms = Number(id);
    return low ? { ms, seq: 0 } : { ms, seq: Number.MAX_SAFE_INTEGER };
  }
  return parseStreamId(id);
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
      s = { entries: new EntryLog(), lastMs: 0, lastSeq: 0, idPrefix: '0-', groups: new Map(), waiters: new Set() };
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

  /** @internal Appends every entry (auto ids, in order) and wakes blocked readers once. */
  appendMany(stream: string, entries: readonly EntryFields[]): string[] {
    const s = this.stream(stream, true)!;
    const ids = new Array<string>(entries.length);
    // One clock reading for the batch: its entries share a millisecond, ids stay increasing.
    const now = Math.floor(this.clock.nowMs());
    for (let i = 0; i < entries.length; i++) ids[i] = this.push(s, entries[i]!, now);
    if (entries.length > 0) this.wake(s);
    return ids;
  }

  private push(s: MemStream, fields: EntryFields, now = Math.floor(this.clock.nowMs())): string {
    if (now > s.lastMs) {
      s.lastMs = now;
      s.lastSeq = 0;
      s.idPrefix = `${now}-`;
    } else {
      s.lastSeq += 1;
    }
    // The log copies the field bytes into its own blocks (see EntryLog): no object per entry outlives the call.
    s.entries.push(s.lastMs, s.lastSeq, fields);
    return s.idPrefix + s.lastSeq;
  }

  private pushWithId(s: MemStream, stream: string, id: string, fields: EntryFields): string {
    const { ms, seq } = parseStreamId(id);
    if (cmp(ms, seq, s.lastMs, s.lastSeq) <= 0) {
      throw new OonaIdTooSmallError(stream, id, `${s.lastMs}-${s.lastSeq}`);
    }
    s.lastMs = ms;
    s.lastSeq = seq;
    s.idPrefix = `${ms}-`;
    s.entries.push(ms, seq, fields);
    return s.idPrefix + seq;
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
    const start = log.upperBound(g.lastMs, g.lastSeq);
    const end = Math.min(log.length, start + Math.max(1, count));
    if (start >= end) return [];
    const delivery: PendingEntry = { consumer, deliveries: 1, lastDeliveryMs: this.clock.nowMs() };
    const out = log.entries(start, end);
    for (let i = 0; i < out.length; i++) g.pel.set(out[i]!.id, delivery);
    g.lastMs = log.ms(end - 1);
    g.lastSeq = log.seq(end - 1);
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
        lastDeliveredId: `${g.lastMs}-${g.lastSeq}`,
        lag: s.entries.length - s.entries.upperBound(g.lastMs, g.lastSeq),
      });
    }
    return Promise.resolve(out);
  }

  async oldestPending(stream: string, group: string): Promise<string | undefined> {
    this.check();
    const { g } = this.broker.group(stream, group);
    let min: string | undefined;
    let minMs = Infinity;
    let minSeq = Infinity;
    for (const id of g.pel.keys()) {
      const p = parseStreamId(id);
      if (cmp(p.ms, p.seq, minMs, minSeq) < 0) {
        minMs = p.ms;
        minSeq = p.seq;
        min = id;
      }
    }
    return Promise.resolve(min);
  }

  async createGroup(stream: string, group: string): Promise<void> {
    this.check();
    const s = this.broker.stream(stream, true)!;
    if (s.groups.has(group)) throw new OonaBusyGroupError(stream, group);
    s.groups.set(group, { lastMs: s.lastMs, lastSeq: s.lastSeq, pel: new Map() });
    return Promise.resolve();
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
    const c = parseStreamId(cursor);
    const ids = [...g.pel.keys()]
      .map((id) => ({ id, ...parseStreamId(id) }))
      .filter((p) => cmp(p.ms, p.seq, c.ms, c.seq) >= 0)
      .sort((a, b) => cmp(a.ms, a.seq, b.ms, b.seq));
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
      const idx = s.entries.indexOf(p.ms, p.seq);
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
    const { ms, seq } = parseStreamId(minId);
    const n = s.entries.lowerBound(ms, seq);
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
    const from = s.entries.lowerBound(l.ms, l.seq);
    const to = Math.max(from, s.entries.upperBound(h.ms, h.seq));
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
