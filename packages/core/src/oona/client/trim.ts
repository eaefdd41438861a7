import { compareStreamIds, maxStreamId, minStreamId, nextStreamId, streamIdAfter, streamIdAt } from '../ids.js';
import type { ClientCore } from './core.js';

/** What housekeeping remembers of one stream: its newest id at a wall-clock time. */
interface Watermark {
  readonly atMs: number;
  readonly top: string;
}

/**
 * Housekeeping of one client's streams: trims every working stream by TTL and the normal and
 * kernel-request streams by `maxStreamLength`, the dead letter by its own TTL and cap — exactly,
 * and never past an entry some consumer group still needs (`trim_blocked` counts when that holds
 * a trim back).
 *
 * The age bound is the larger of two ids, so that no entry id can freeze it: `now − ttl` as an
 * id (entry-id time, as the reference trims), and the newest id this client saw on the stream
 * at least `ttl` ago (a watermark taken at every run). An entry with a future or huge id — any
 * producer can `XADD 9999999999999-0`, and every later auto id inherits that millisecond part —
 * is older than `ttl` by the watermark once it was seen `ttl` ago, whatever its id says; such
 * entries are counted (`future_ids`) when consumed. Watermarks live in the client: after a
 * restart, trimming by them resumes `ttl` later. Ids are compared as 64-bit integer pairs.
 */
export class Housekeeper {
  private readonly marks = new Map<string, Watermark[]>();

  constructor(private readonly core: ClientCore) {}

  /** One housekeeping run; resolves the entries removed per stream. */
  async run(): Promise<Readonly<Record<string, number>>> {
    const core = this.core;
    const s = core.settings;
    const now = core.clock.nowMs();
    const plan: Array<{ stream: string; ttl: number | null; cap: number | null }> = core.working.map((stream) => ({
      stream,
      ttl: s.messageTtlMs,
      cap: stream === core.streams.normal || stream === core.streams.kernelRequests ? s.maxStreamLength : null,
    }));
    if (core.streams.deadLetter !== undefined && !core.working.includes(core.streams.deadLetter)) {
      plan.push({ stream: core.streams.deadLetter, ttl: s.deadLetterTtlMs, cap: s.deadLetterMaxLength });
    }
    const removed: Record<string, number> = {};
    for (const { stream, ttl, cap } of plan) {
      if (!ttl && !cap) continue;
      removed[stream] = await this.trim(stream, ttl, cap, now);
    }
    return removed;
  }

  /**
   * Trims one stream by `ttl` (ms, by entry-id time and watermarks) and `cap` (entries), with
   * the same rules as a housekeeping run; null or 0 leaves that bound off. Resolves the count
   * removed. Used by {@link run} and for streams outside the catalogue (`Oona.trimStream`).
   */
  async trim(stream: string, ttl: number | null, cap: number | null, now: number = this.core.clock.nowMs()): Promise<number> {
    const core = this.core;
    let bound: string | undefined = ttl ? await this.ageBound(stream, ttl, now) : undefined;
    if (cap) {
      const length = await core.backend.length(stream);
      if (length > cap) {
        // The first entry to keep; at most 10 000 are looked at per run (the next run continues).
        const k = Math.min(length - cap, 10_000);
        const head = await core.backend.range(stream, '-', '+', k + 1);
        const keep = head[head.length - 1];
        if (keep !== undefined) bound = bound === undefined ? keep.id : maxStreamId(keep.id, bound);
      }
    }
    if (bound === undefined) return 0;
    const safe = await this.safeTrimBound(stream);
    const minId = safe === undefined ? bound : minStreamId(bound, safe);
    if (safe !== undefined && compareStreamIds(safe, bound) < 0) {
      // Blocked only if an entry the bound would have removed is still needed.
      const [first] = await core.backend.range(stream, safe, '+', 1);
      if (first !== undefined && compareStreamIds(first.id, bound) < 0) core.metrics.inc('trim_blocked');
    }
    return core.backend.trimMinId(stream, minId);
  }

  /** Forgets the watermarks of a stream that was deleted. */
  forget(stream: string): void {
    this.marks.delete(stream);
  }

  /**
   * The TTL bound of `stream`: `now − ttl` as an id, raised past the newest id seen at least
   * `ttl` ago. Records this run's watermark (the stream's newest id now).
   */
  private async ageBound(stream: string, ttl: number, now: number): Promise<string> {
    let bound = streamIdAt(now - ttl);
    const [top] = await this.core.backend.range(stream, '+', '-', 1, true);
    let marks = this.marks.get(stream);
    if (top !== undefined && streamIdAfter(top.id, now)) {
      // Only a stream whose ids ran ahead of the clock needs watermarks: elsewhere `now − ttl` is the tighter bound.
      if (marks === undefined) this.marks.set(stream, (marks = []));
      const last = marks[marks.length - 1];
      if (last === undefined || last.top !== top.id) marks.push({ atMs: now, top: top.id });
    }
    if (marks === undefined) return bound;
    // The newest watermark at least ttl old: everything up to it is older than ttl.
    let k = -1;
    for (let i = 0; i < marks.length; i++) if (marks[i]!.atMs <= now - ttl) k = i;
    if (k >= 0) {
      const after = nextStreamId(marks[k]!.top);
      bound = after === undefined ? marks[k]!.top : maxStreamId(bound, after);
      // Older watermarks are covered by this one.
      marks.splice(0, k);
    }
    if (top === undefined) this.marks.delete(stream);
    return bound;
  }

  /** The smallest id some group still needs (oldest pending, or first undelivered), if any group exists. */
  private async safeTrimBound(stream: string): Promise<string | undefined> {
    let safe: string | undefined;
    for (const g of await this.core.backend.groups(stream)) {
      // After the last possible id nothing is undelivered.
      let need = nextStreamId(g.lastDeliveredId);
      if (g.pending > 0) {
        const oldest = await this.core.backend.oldestPending(stream, g.name);
        if (oldest !== undefined) need = need === undefined ? oldest : minStreamId(need, oldest);
      }
      if (need !== undefined) safe = safe === undefined ? need : minStreamId(safe, need);
    }
    return safe;
  }
}
