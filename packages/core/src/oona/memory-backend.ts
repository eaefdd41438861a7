import type { Clock } from '../kernel/ports/clock.js';
import { SystemClock } from '../kernel/ports/clock.js';
import type {
  AppendOptions,
  AutoClaimResult,
  ClaimedEntry,
  EntryFields,
  GroupInfo,
  ReadGroupOptions,
  StreamBackend,
  StreamEntry,
} from './backend.js';
import { OonaBusyGroupError, OonaClosedError, OonaIdTooSmallError, OonaNoGroupError, OonaReadCancelledError } from './errors.js';
import { parseStreamId, ZERO_ID } from './ids.js';

interface MemEntry {
  readonly ms: number;
  readonly seq: number;
  readonly id: string;
  readonly fields: EntryFields;
}

interface PendingEntry {
  consumer: string;
  deliveries: number;
  lastDeliveryMs: number;
}

interface MemGroup {
  lastMs: number;
  lastSeq: number;
  readonly pel: Map<string, PendingEntry>;
}

interface MemStream {
  readonly entries: MemEntry[];
  lastMs: number;
  lastSeq: number;
  readonly groups: Map<string, MemGroup>;
  readonly waiters: Set<() => void>;
}

function cmp(ams: number, aseq: number, bms: number, bseq: number): number {
  return ams === bms ? aseq - bseq : ams - bms;
}

/** Index of the first entry with id > (ms, seq). */
function upperBound(entries: readonly MemEntry[], ms: number, seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid]!;
    if (cmp(e.ms, e.seq, ms, seq) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first entry with id ≥ (ms, seq). */
function lowerBound(entries: readonly MemEntry[], ms: number, seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid]!;
    if (cmp(e.ms, e.seq, ms, seq) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
      s = { entries: [], lastMs: 0, lastSeq: 0, groups: new Map(), waiters: new Set() };
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
    let ms: number;
    let seq: number;
    if (options?.id !== undefined) {
      ({ ms, seq } = parseStreamId(options.id));
      if (cmp(ms, seq, s.lastMs, s.lastSeq) <= 0) {
        throw new OonaIdTooSmallError(stream, options.id, `${s.lastMs}-${s.lastSeq}`);
      }
    } else {
      const now = Math.floor(this.clock.nowMs());
      if (now > s.lastMs) {
        ms = now;
        seq = 0;
      } else {
        ms = s.lastMs;
        seq = s.lastSeq + 1;
      }
    }
    s.lastMs = ms;
    s.lastSeq = seq;
    const id = `${ms}-${seq}`;
    // Entries keep the caller's arrays (Oona never mutates them after append); copying cost a third of the throughput.
    s.entries.push({ ms, seq, id, fields });
    if (s.waiters.size > 0) {
      const waiters = [...s.waiters];
      s.waiters.clear();
      for (const wake of waiters) wake();
    }
    return id;
  }

  /** @internal */
  readNew(stream: string, group: string, consumer: string, count: number): StreamEntry[] {
    const { s, g } = this.group(stream, group);
    const start = upperBound(s.entries, g.lastMs, g.lastSeq);
    const end = Math.min(s.entries.length, start + Math.max(1, count));
    if (start >= end) return [];
    const now = this.clock.nowMs();
    const out: StreamEntry[] = [];
    for (let i = start; i < end; i++) {
      const e = s.entries[i]!;
      g.pel.set(e.id, { consumer, deliveries: 1, lastDeliveryMs: now });
      out.push(e);
    }
    const last = s.entries[end - 1]!;
    g.lastMs = last.ms;
    g.lastSeq = last.seq;
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

  constructor(readonly broker: MemoryBroker) {}

  private check(): void {
    if (this.closed) throw new OonaClosedError('Memory stream backend');
  }

  async append(stream: string, fields: EntryFields, options?: AppendOptions): Promise<string> {
    this.check();
    return Promise.resolve(this.broker.append(stream, fields, options));
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
        lag: s.entries.length - upperBound(s.entries, g.lastMs, g.lastSeq),
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

  async ack(stream: string, group: string, ids: readonly string[]): Promise<number> {
    this.check();
    const { g } = this.broker.group(stream, group);
    let n = 0;
    for (const id of ids) if (g.pel.delete(id)) n++;
    return Promise.resolve(n);
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
      const idx = lowerBound(s.entries, p.ms, p.seq);
      const e = s.entries[idx];
      if (e === undefined || e.id !== p.id) {
        g.pel.delete(p.id);
        deletedIds.push(p.id);
        continue;
      }
      pe.consumer = consumer;
      pe.deliveries += 1;
      pe.lastDeliveryMs = now;
      entries.push({ id: e.id, fields: e.fields, deliveries: pe.deliveries });
    }
    return Promise.resolve({ next, entries, deletedIds });
  }

  async trimMinId(stream: string, minId: string): Promise<number> {
    this.check();
    const s = this.broker.stream(stream, false);
    if (s === undefined) return Promise.resolve(0);
    const { ms, seq } = parseStreamId(minId);
    const n = lowerBound(s.entries, ms, seq);
    s.entries.splice(0, n);
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
    const from = lowerBound(s.entries, l.ms, l.seq);
    const to = upperBound(s.entries, h.ms, h.seq);
    const slice = s.entries.slice(from, Math.max(from, to));
    const ordered = reverse ? slice.reverse() : slice;
    return Promise.resolve(ordered.slice(0, count).map((e) => ({ id: e.id, fields: e.fields })));
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
