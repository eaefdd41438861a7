import type { Clock } from '../../kernel/ports/clock.js';
import { SystemClock } from '../../kernel/ports/clock.js';
import type { Logger } from '../../kernel/ports/logger.js';
import type { OonaStreams, UnsentPublish } from '../../kernel/ports/oona.js';
import type { Signer } from '../../kernel/ports/signer.js';
import type { EntryFields, StreamBackend } from '../backend.js';
import { CircuitBreaker } from '../breaker.js';
import { resolveStreams, workingStreams } from '../catalogue.js';
import { OonaBusyGroupError, OonaClosedError } from '../errors.js';
import { OonaMetrics } from '../metrics.js';
import { defaultConsumerName, parseOonaSettings, type OonaSettings, type OonaSettingsInput } from '../settings.js';

/** Options of {@link OonaClient}. */
export interface OonaClientOptions {
  /** Where entries live (Redis, memory). The client owns it and closes it in `close()`. */
  readonly backend: StreamBackend;
  /**
   * Settings: partial input, validated here; or what `pickOonaSettings` took out of a plugin's
   * validated options, used as it is.
   */
  readonly settings?: OonaSettings | Partial<OonaSettingsInput>;
  /** Wall clock for freshness, TTL and ids in telemetry; monotonic clock for breakers, buckets, latencies. */
  readonly clock?: Clock;
  /** Signs published envelopes and verifies consumed ones; without it the client neither signs nor checks. */
  readonly signer?: Signer;
  readonly logger?: Logger;
  /** Called for every publish given up (also listed by `unsent()`). */
  readonly onUnsent?: (record: UnsentPublish) => void;
}

const encoder = new TextEncoder();

/**
 * What every part of one client shares: its settings and streams, the backend, clock, signer
 * and logger, the metrics, both breakers, conservative mode and the closed state. The
 * publisher, retry buffer, consumer and subscriptions each hold this one object.
 */
export class ClientCore {
  readonly settings: OonaSettings;
  readonly streams: OonaStreams;
  readonly group: string;
  readonly consumer: string;
  readonly backend: StreamBackend;
  readonly clock: Clock;
  readonly signer: Signer | undefined;
  readonly logger: Logger | undefined;
  readonly metrics = new OonaMetrics();
  readonly publishBreaker: CircuitBreaker;
  readonly consumeBreaker: CircuitBreaker;
  /** The deduplicated working streams (every stream but the dead letter). */
  readonly working: string[];
  /**
   * Catalogue streams whose client group `ensureGroups()` put off (the policy stream), with the
   * id the group starts after: the stream's newest id when `ensureGroups()` ran. The group is
   * made by the first consume of the stream with the client's group ({@link createDeferredGroup}).
   */
  readonly deferredGroups = new Map<string, string>();
  /** Conservative mode: normal publishes go to the emergency stream until the backlog clears. */
  conservative = false;
  closed = false;
  /** Aborted by close(): blocking reads and subscription loops follow it. */
  readonly closeController = new AbortController();
  /** Consume rounds and acknowledgements in flight; close() waits for them. */
  readonly activeConsumes = new Set<Promise<unknown>>();
  /** Latency gauges sample one operation in eight (publishes and handler runs together; they report the last sample). */
  private opCount = 0;
  /** Parts that act when the backend reports a restored connection (the retry buffer, subscription loops). */
  private readonly restoredListeners = new Set<() => void>();
  /** Stops listening to the backend's restored connections (close()). */
  readonly stopListening: () => void;

  constructor(options: OonaClientOptions) {
    this.backend = options.backend;
    this.settings = parseOonaSettings(options.settings ?? {});
    this.clock = options.clock ?? new SystemClock();
    this.signer = options.signer;
    this.logger = options.logger;
    this.streams = resolveStreams(this.settings);
    this.group = this.settings.group;
    this.consumer = this.settings.consumer ?? defaultConsumerName();
    this.working = workingStreams(this.streams);
    const mono = (): number => this.clock.monotonicMs();
    this.publishBreaker = new CircuitBreaker(mono, this.settings.publishBreaker);
    this.consumeBreaker = new CircuitBreaker(mono, this.settings.consumeBreaker);
    this.stopListening = this.backend.onConnectionRestored?.(() => this.connectionRestored()) ?? (() => undefined);
  }

  /**
   * The backend's connection is back: open breakers half-open at once (the next call is the
   * trial), and the retry buffer and sleeping subscription loops try again now.
   */
  connectionRestored(): void {
    if (this.closed) return;
    this.publishBreaker.restored();
    this.consumeBreaker.restored();
    this.logger?.info('oona backend connection restored: breakers half-open, buffered publishes retried');
    for (const listener of [...this.restoredListeners]) listener();
  }

  /** Resolves after `ms`, at once when `signal` aborts, or when the backend reports a restored connection. */
  nap(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) return resolve();
      const timer = setTimeout(done, ms);
      const off = this.onRestored(done);
      function done(): void {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Calls `listener` on every restored backend connection; returns a function that removes it. */
  onRestored(listener: () => void): () => void {
    this.restoredListeners.add(listener);
    return () => this.restoredListeners.delete(listener);
  }

  /** Whether this operation's latency is measured (one in eight). */
  sampled(): boolean {
    return (this.opCount++ & 7) === 0;
  }

  /** @throws OonaClosedError once close() was called. */
  assertOpen(): void {
    if (this.closed) throw new OonaClosedError();
  }

  /** The entry fields of an envelope: `payload`, and `signature` when the client signs. */
  fieldsFor(envelope: Uint8Array): EntryFields {
    return this.signer === undefined
      ? { payload: envelope }
      : { payload: envelope, signature: encoder.encode(this.signer.sign(envelope)) };
  }

  /**
   * Makes the client's group on `stream` if `ensureGroups()` put it off, starting after the id
   * recorded then (so the first reader gets what was appended since); an existing group is kept.
   */
  async createDeferredGroup(stream: string): Promise<void> {
    const start = this.deferredGroups.get(stream);
    if (start === undefined) return;
    try {
      await this.backend.createGroup(stream, this.group, start);
    } catch (error) {
      if (!(error instanceof OonaBusyGroupError)) throw error;
    }
    this.deferredGroups.delete(stream);
  }

  /** Pending + undelivered entries of this client's group; the raw length when the group is missing. */
  async depth(stream: string): Promise<number> {
    const groups = await this.backend.groups(stream);
    const mine = groups.find((g) => g.name === this.group);
    if (mine === undefined) return this.backend.length(stream);
    const lag = mine.lag ?? (await this.backend.length(stream));
    return mine.pending + lag;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** An error's message for the log. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
