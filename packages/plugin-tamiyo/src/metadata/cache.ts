import type { BlueprintMetadataSource, Clock, Logger } from '@esper/core';
import type { BlueprintMetadata } from '../graph/builder.js';
import { blueprintMetadataFromRecord } from './record.js';

/** What {@link BlueprintMetadataCache.resolve} found for one blueprint. */
export interface MetadataResolution {
  /** The blueprint's metadata; undefined when unknown, failed or late. */
  readonly metadata: BlueprintMetadata | undefined;
  /** The lookup passed its budget and was abandoned (its result still fills the cache when it comes). */
  readonly timedOut: boolean;
  /** The source failed (its message); the decision goes on without metadata. */
  readonly error?: string | undefined;
  /** Answered from the cache, without waiting. */
  readonly cached: boolean;
  /** Time waited for the source, ms (0 from the cache). */
  readonly waitedMs: number;
}

/** Constructor arguments of {@link BlueprintMetadataCache}. */
export interface BlueprintMetadataCacheInit {
  readonly source: BlueprintMetadataSource;
  /** Age after which an entry is looked up again, ms (`metadataCacheTtlMs`, tamiyo §8.1). */
  readonly ttlMs: number;
  /** Entry ages (monotonic). */
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
}

interface Entry {
  readonly fetchedAtMs: number;
  readonly metadata: BlueprintMetadata;
}

const LATE: unique symbol = Symbol('tamiyo.metadata_late');

/**
 * Tamiyo's blueprint metadata cache (tamiyo §8.1, decision 0065): blueprint id → metadata, kept
 * for `ttlMs` on the injected clock, filled from a `BlueprintMetadata` port. Keys are blueprint
 * ids, never packet ids (§17 item 5). One lookup per id is in flight at a time; a caller that
 * stops waiting (its budget passed) leaves the lookup running, and its result fills the cache
 * for the next decision. Unknown ids are not cached (a record added later is found). Failed
 * lookups are not cached either; their error is reported to the caller and logged.
 */
export class BlueprintMetadataCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<BlueprintMetadata | undefined>>();
  /** Aborted by {@link close}: lookups still running may stop. */
  private readonly lifetime = new AbortController();

  constructor(private readonly init: BlueprintMetadataCacheInit) {}

  /** The cached metadata of `blueprintId` if younger than the TTL (no lookup, no await). */
  fresh(blueprintId: string): MetadataResolution | undefined {
    const entry = this.entries.get(blueprintId);
    if (entry === undefined || this.init.clock.monotonicMs() - entry.fetchedAtMs >= this.init.ttlMs) return undefined;
    return { metadata: entry.metadata, timedOut: false, cached: true, waitedMs: 0 };
  }

  /**
   * The metadata of `blueprintId`: from the cache while fresh, else looked up, waiting at most
   * `budgetMs` (undefined or ≤ 0: no limit). Never rejects for the source's sake; rejects with
   * the signal's reason when `signal` aborts the wait.
   */
  async resolve(blueprintId: string, budgetMs: number | undefined, signal?: AbortSignal): Promise<MetadataResolution> {
    const hit = this.fresh(blueprintId);
    if (hit !== undefined) return hit;
    const started = this.init.clock.monotonicMs();
    const waited = () => this.init.clock.monotonicMs() - started;
    try {
      const result = await race(this.lookup(blueprintId), budgetMs !== undefined && budgetMs > 0 ? budgetMs : undefined, signal);
      if (result === LATE) return { metadata: undefined, timedOut: true, cached: false, waitedMs: waited() };
      return { metadata: result, timedOut: false, cached: false, waitedMs: waited() };
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      return { metadata: undefined, timedOut: false, error: describe(error), cached: false, waitedMs: waited() };
    }
  }

  /** Starts lookups of `ids` that are neither fresh nor in flight, without waiting (pre-warm, tamiyo §4 step 1). */
  prewarm(ids: readonly string[]): void {
    for (const id of ids) if (this.fresh(id) === undefined) this.lookup(id).catch(() => undefined);
  }

  /** Drops every entry (the next decision looks its blueprint up again). */
  clear(): void {
    this.entries.clear();
  }

  /** Aborts lookups still running; later results are not cached. */
  close(): void {
    this.lifetime.abort(new Error('tamiyo: the controller was disposed'));
  }

  /** The lookup of `blueprintId` in flight, or a new one; its result goes into the cache. */
  private lookup(blueprintId: string): Promise<BlueprintMetadata | undefined> {
    const running = this.inFlight.get(blueprintId);
    if (running !== undefined) return running;
    const signal = this.lifetime.signal;
    const job = (async () => {
      const record = await this.init.source.lookup(blueprintId, { signal });
      if (record === undefined || signal.aborted) return undefined;
      const { metadata, graphError } = blueprintMetadataFromRecord(record);
      if (graphError !== undefined) this.init.logger?.warn('tamiyo: blueprint graph metadata does not match the schema; the graph block is ignored', { blueprintId, error: graphError });
      this.entries.set(blueprintId, { fetchedAtMs: this.init.clock.monotonicMs(), metadata });
      return metadata;
    })();
    const settled = job.finally(() => this.inFlight.delete(blueprintId));
    this.inFlight.set(blueprintId, settled);
    settled.catch((error: unknown) => this.init.logger?.warn('tamiyo: blueprint metadata lookup failed', { blueprintId, error: describe(error) }));
    return settled;
  }
}

/** `work`, or {@link LATE} once `budgetMs` passes; rejects with the signal's reason on abort. `work` is left running. */
function race<T>(work: Promise<T>, budgetMs: number | undefined, signal: AbortSignal | undefined): Promise<T | typeof LATE> {
  if (budgetMs === undefined && signal === undefined) return work;
  signal?.throwIfAborted();
  return new Promise<T | typeof LATE>((resolve, reject) => {
    const timer = budgetMs === undefined ? undefined : setTimeout(() => resolve(LATE), budgetMs);
    const onAbort = () => reject(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
