import { compareStreamIds, minStreamId, nextStreamId } from '../ids.js';
import type { ClientCore } from './core.js';

/**
 * Housekeeping of one client's streams: trims every working stream by TTL (by entry-id time)
 * and the normal and kernel-request streams by `maxStreamLength`, the dead letter by its own
 * TTL and cap — exactly, and never past an entry some consumer group still needs
 * (`trim_blocked` counts when that holds a trim back). Resolves entries removed per stream.
 */
export async function trimStreams(core: ClientCore): Promise<Readonly<Record<string, number>>> {
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
    let bound: string | undefined = ttl ? `${Math.max(0, now - ttl)}-0` : undefined;
    if (cap) {
      const length = await core.backend.length(stream);
      if (length > cap) {
        // The first entry to keep; at most 10 000 are looked at per run (the next run continues).
        const k = Math.min(length - cap, 10_000);
        const head = await core.backend.range(stream, '-', '+', k + 1);
        const keep = head[head.length - 1];
        if (keep !== undefined) bound = bound === undefined ? keep.id : compareStreamIds(keep.id, bound) > 0 ? keep.id : bound;
      }
    }
    if (bound === undefined) {
      removed[stream] = 0;
      continue;
    }
    const safe = await safeTrimBound(core, stream);
    const minId = safe === undefined ? bound : minStreamId(bound, safe);
    if (safe !== undefined && compareStreamIds(safe, bound) < 0) {
      // Blocked only if an entry the bound would have removed is still needed.
      const [first] = await core.backend.range(stream, safe, '+', 1);
      if (first !== undefined && compareStreamIds(first.id, bound) < 0) core.metrics.inc('trim_blocked');
    }
    removed[stream] = await core.backend.trimMinId(stream, minId);
  }
  return removed;
}

/** The smallest id some group still needs (oldest pending, or first undelivered), if any group exists. */
async function safeTrimBound(core: ClientCore, stream: string): Promise<string | undefined> {
  let safe: string | undefined;
  for (const g of await core.backend.groups(stream)) {
    let need = nextStreamId(g.lastDeliveredId);
    if (g.pending > 0) {
      const oldest = await core.backend.oldestPending(stream, g.name);
      if (oldest !== undefined) need = minStreamId(need, oldest);
    }
    safe = safe === undefined ? need : minStreamId(safe, need);
  }
  return safe;
}
