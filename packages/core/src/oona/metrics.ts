/**
 * Oona's counters (reference §1.16 names, with the meanings fixed by decision 0035) and the
 * snapshot key set. Counters are per client instance.
 */

/** Counter names, in snapshot order. */
export const OONA_COUNTERS = [
  /** Entries appended by publish calls. */
  'publish_total',
  /** Publishes diverted from their preferred stream to the emergency stream (backlog or conservative mode). */
  'publish_rerouted',
  /** Publishes dropped by backpressure. */
  'publish_dropped',
  /** Largest backlog seen by routing or snapshots. */
  'queue_depth_max',
  /** Failed handler runs requeued for another attempt. */
  'retry_total',
  /** Messages written to the dead-letter stream. */
  'dead_letter_total',
  /** Exhausted messages discarded because no dead-letter stream is configured. */
  'dead_letter_discarded',
  /** Publishes denied by the open publish breaker. */
  'breaker_publish_open',
  /** Consume calls denied by the open consume breaker. */
  'breaker_consume_open',
  /** Backend errors on publish (append or routing reads). */
  'publish_errors',
  /** Publishes given up after the retry buffer was full or their retry deadline passed. */
  'publish_unsent',
  /** Publishes whose append was sent and lost its reply with the connection (resolved 'unknown': maybe stored, not retried). */
  'publish_unknown',
  /** Backend errors on consume (read, claim, ack). */
  'consume_errors',
  /** Handler runs that threw or rejected. */
  'handler_failures',
  /** Pending entries claimed from idle consumers and redelivered. */
  'redelivered_total',
  /** Entries rejected for a missing or wrong signature. */
  'signature_rejected',
  /** Entries whose payload is not a BusEnvelope (acknowledged and skipped). */
  'decode_rejected',
  /** Entries of other types skipped by a type-filtered consume (e.g. emergency-signal consumers). */
  'consume_skipped',
  /** Duration of the last successful append, ms. */
  'publish_latency_ms',
  /** Duration of the last successful handler run, ms. */
  'consume_latency_ms',
  'kernel_stale_dropped',
  'kernel_replay_dropped',
  /** Successful publishes that landed on the emergency stream. */
  'emergency_published',
  /** Emergency-stream publishes refused by a token bucket. */
  'emergency_rate_dropped',
  /** Housekeeping runs where an unconsumed entry kept a stream above its TTL/length bound. */
  'trim_blocked',
  /** Consumed entries whose id time is more than a minute ahead of this client's clock (a future-dated or huge id; age trimming does not trust it). */
  'future_ids',
] as const;

/** One counter name. */
export type OonaCounter = (typeof OONA_COUNTERS)[number];

/** Gauge keys added by `metricsSnapshot()`. */
export const OONA_GAUGES = [
  'queue_depth_normal',
  'queue_depth_emergency',
  'queue_depth_telemetry',
  'queue_depth_policy',
  'queue_depth_kernel_requests',
  'queue_depth_kernel_ready',
  'queue_depth_kernel_errors',
  'dead_letter_length',
  'publish_breaker_state',
  'consume_breaker_state',
  'conservative_mode',
  'publish_buffered',
] as const;

/** Per-source emergency counter prefixes: `<prefix>.src.<source>`. */
export const OONA_SOURCE_COUNTERS = ['emergency_published', 'emergency_rate_dropped', 'emergency_failed'] as const;

/**
 * Sanitises an emergency source for a metric key: every character that is not a Unicode
 * letter, digit, `_` or `-` becomes `_`; empty becomes `unknown`.
 */
export function sanitizeSource(source: string): string {
  const clean = source.replace(/[^\p{L}\p{N}_-]/gu, '_');
  return clean === '' ? 'unknown' : clean;
}

/** Mutable counters plus per-source maps. */
export class OonaMetrics {
  readonly counters: Record<OonaCounter, number> = Object.fromEntries(OONA_COUNTERS.map((k) => [k, 0])) as Record<
    OonaCounter,
    number
  >;
  readonly bySource = new Map<string, number>();

  inc(counter: OonaCounter, by = 1): void {
    this.counters[counter] += by;
  }

  set(counter: OonaCounter, value: number): void {
    this.counters[counter] = value;
  }

  max(counter: OonaCounter, value: number): void {
    if (value > this.counters[counter]) this.counters[counter] = value;
  }

  incSource(prefix: (typeof OONA_SOURCE_COUNTERS)[number], source: string): void {
    const key = `${prefix}.src.${sanitizeSource(source)}`;
    this.bySource.set(key, (this.bySource.get(key) ?? 0) + 1);
  }
}
