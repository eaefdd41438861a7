import { hostname } from 'node:os';
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const optionalCount = positiveInt.nullable().default(null);

/** Breaker parameters with the given open time (3 failures open it, 1 success in half-open closes it). */
function breakerSettings(timeoutMs: number, timeoutText: string) {
  return z.strictObject({
    failureThreshold: positiveInt.default(3).meta({ description: 'Consecutive failures that open the breaker.' }),
    successThreshold: positiveInt.default(1).meta({ description: 'Successes in half-open that close it again.' }),
    timeoutMs: z.number().int().nonnegative().default(timeoutMs).meta({ description: timeoutText }),
  });
}

/** Breaker parameters (reference §1.9 defaults: 3 failures, 1 success, 30 s open); the consume breaker's. */
export const breakerSettingsSchema = breakerSettings(
  30_000,
  'How long the breaker stays open before a trial call (a restored backend connection half-opens it at once).',
);

/**
 * The publish breaker's parameters: as {@link breakerSettingsSchema} but open for 2 s, well
 * inside the publish retry window (`publishRetryTimeoutMs`), so that buffered publishes see
 * trial calls before they expire even when the backend reports no restored connection
 * (decision 0055).
 */
const publishBreakerSettingsSchema = breakerSettings(
  2_000,
  'How long the publish breaker stays open before a trial publish; keep it well under `publishRetryTimeoutMs` (a restored backend connection half-opens it at once).',
);

/**
 * Settings shared by every Oona plugin: the stream catalogue (reference §1.2), group and
 * consumer, thresholds, retry and dead letter, kernel guards, emergency rate limit, breakers,
 * trimming and the publish retry buffer. Plugins extend it with their connection options.
 * Defaults follow the reference's service settings where its two default sets disagree
 * (decision 0036).
 */
export const oonaSettingsShape = {
  normalStream: z.string().min(1).default('oona.normal').meta({
    env: 'OONA_NORMAL_STREAM',
    description: 'Normal stream.',
  }),
  emergencyStream: z.string().min(1).default('oona.emergency').meta({
    env: 'OONA_EMERGENCY_STREAM',
    description: 'Emergency stream: signals, HIGH/CRITICAL traffic and reroutes.',
  }),
  telemetryStream: z.string().min(1).default('oona.telemetry').meta({
    env: 'OONA_TELEMETRY_STREAM',
    description: 'Telemetry stream.',
  }),
  policyStream: z.string().min(1).default('oona.policy').meta({
    env: 'OONA_POLICY_STREAM',
    description: 'Policy-update stream.',
  }),
  kernelRequestStream: z.string().min(1).default('oona.kernels.requests').meta({
    env: 'OONA_KERNEL_REQUEST_STREAM',
    description: 'Kernel prefetch requests.',
  }),
  kernelReadyStream: z.string().min(1).default('oona.kernels.ready').meta({
    env: 'OONA_KERNEL_READY_STREAM',
    description: 'Kernel ready + catalog updates.',
  }),
  kernelErrorStream: z.string().min(1).default('oona.kernels.errors').meta({
    env: 'OONA_KERNEL_ERROR_STREAM',
    description: 'Kernel errors.',
  }),
  deadLetterStream: z.string().min(1).nullable().default('oona.deadletter').meta({
    env: 'OONA_DEAD_LETTER_STREAM',
    description: 'Dead-letter stream; `null` discards exhausted messages (counted).',
  }),
  group: z.string().min(1).default('esper').meta({
    env: 'OONA_GROUP',
    description: 'Consumer group: one copy of every entry per group.',
  }),
  consumer: z.string().min(1).optional().meta({
    env: 'OONA_CONSUMER',
    unset: '`<hostname>-<pid>`',
    description: 'Consumer name inside the group.',
  }),
  maxStreamLength: optionalCount.meta({
    env: 'OONA_MAX_STREAM_LENGTH',
    description: 'Length cap applied by housekeeping to the normal and kernel-request streams.',
  }),
  emergencyThreshold: optionalCount.meta({
    env: 'OONA_EMERGENCY_THRESHOLD',
    description: 'Reroute normal publishes to emergency when the normal backlog ≥ this.',
  }),
  backpressureDropThreshold: optionalCount.meta({
    env: 'OONA_BACKPRESSURE_DROP_THRESHOLD',
    description: 'Drop normal/kernel-request publishes when the backlog ≥ this.',
  }),
  retryMaxAttempts: positiveInt.default(5).meta({
    env: 'OONA_RETRY_MAX_ATTEMPTS',
    description: 'Handler runs before a message is dead-lettered.',
  }),
  retryIdleMs: z.number().int().nonnegative().default(60_000).meta({
    env: 'OONA_RETRY_IDLE_MS',
    description: 'Pending entries idle this long are claimed and redelivered; 0 disables.',
  }),
  retryBatchSize: positiveInt.default(50).meta({ description: 'Entries claimed per sweep step.' }),
  retryBackoffMs: z.number().int().nonnegative().default(100).meta({
    description: 'First retry delay; doubles per attempt up to `retryBackoffMaxMs`; 0 requeues at once.',
  }),
  retryBackoffMaxMs: z.number().int().nonnegative().default(5_000).meta({ description: 'Longest retry delay.' }),
  messageTtlMs: z.number().int().nonnegative().nullable().default(900_000).meta({
    env: 'OONA_MESSAGE_TTL_MS',
    description: 'Age after which housekeeping trims entries (by id time, never past an unconsumed one); null/0 disables.',
  }),
  deadLetterTtlMs: z.number().int().nonnegative().nullable().default(7 * 24 * 3_600_000).meta({
    description: 'Age after which housekeeping trims the dead-letter stream; null/0 disables.',
  }),
  deadLetterMaxLength: positiveInt.nullable().default(10_000).meta({
    description: 'Length cap of the dead-letter stream applied by housekeeping.',
  }),
  kernelNonceCacheSize: positiveInt.default(4_096).meta({
    env: 'KERNEL_NONCE_CACHE_SIZE',
    description: 'Capacity of each kernel replay cache.',
  }),
  kernelFreshnessWindowMs: z.number().int().nonnegative().default(60_000).meta({
    env: 'KERNEL_FRESHNESS_WINDOW_MS',
    description: 'Max age of a kernel prefetch request; 0 disables the age check.',
  }),
  emergencyMaxPerMin: z.number().int().nonnegative().default(120).meta({
    env: 'OONA_EMERGENCY_MAX_PER_MIN',
    description: 'Emergency token buckets: size and refill per minute; 0 disables.',
  }),
  publishBreaker: publishBreakerSettingsSchema.prefault({}),
  consumeBreaker: breakerSettingsSchema.prefault({}),
  // The three publish-side defaults fit together (decision 0055): a 10 s retry window, a
  // breaker that tries again every 2 s inside it, and room for 16 384 publishes — an outage of
  // up to ~9.5 s at up to ~1 600 publishes/s per client, with nothing reported unsent.
  publishRetryBufferSize: z.number().int().nonnegative().default(16_384).meta({
    description: 'Publishes that may wait for a retry after a backend error (covers `publishRetryTimeoutMs` at this many ÷ timeout publishes per second); 0 fails them at once.',
  }),
  publishRetryTimeoutMs: z.number().int().nonnegative().default(10_000).meta({
    description: 'How long a buffered publish keeps retrying before it is reported unsent: the longest backend outage publishing rides out.',
  }),
  housekeepingIntervalMs: z.number().int().nonnegative().default(60_000).meta({
    description: 'Housekeeping period while the plugin runs; 0 disables the timer.',
  }),
} as const;

/** Zod schema of the shared settings. */
export const oonaSettingsSchema = z.strictObject(oonaSettingsShape);

/** Validated Oona settings. */
export type OonaSettings = z.output<typeof oonaSettingsSchema>;
/** What a user may write (defaults optional). */
export type OonaSettingsInput = z.input<typeof oonaSettingsSchema>;

/** The default consumer name: `<hostname>-<pid>` with spaces replaced, unique per process on a host. */
export function defaultConsumerName(): string {
  return `${hostname().replace(/\s+/g, '-')}-${process.pid}`;
}

/** Settings objects already validated (picked out of a plugin's validated options); not parsed again. */
const validated = new WeakSet<object>();

/**
 * The shared Oona settings out of a plugin's options, which its schema (spreading
 * {@link oonaSettingsShape}, adding connection keys) has already validated: the keys are
 * picked, not parsed again, and an `OonaClient` given the result uses it as it is.
 */
export function pickOonaSettings(options: OonaSettings): OonaSettings {
  const out: Record<string, unknown> = {};
  const source = options as unknown as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(oonaSettingsShape)) if (source[key] !== undefined) out[key] = source[key];
  validated.add(out);
  return out as OonaSettings;
}

/**
 * Validated settings for an `OonaClient`: what {@link pickOonaSettings} returned as it is,
 * anything else (partial input) through {@link oonaSettingsSchema}. Throws a ZodError on bad input.
 */
export function parseOonaSettings(input: OonaSettings | Partial<OonaSettingsInput>): OonaSettings {
  return validated.has(input) ? (input as OonaSettings) : oonaSettingsSchema.parse(input);
}
