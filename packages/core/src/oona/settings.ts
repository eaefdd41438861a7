import { hostname } from 'node:os';
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const optionalCount = positiveInt.nullable().default(null);

/** Breaker parameters (reference §1.9 defaults: 3 failures, 1 success, 30 s open). */
export const breakerSettingsSchema = z.strictObject({
  failureThreshold: positiveInt.default(3),
  successThreshold: positiveInt.default(1),
  timeoutMs: z.number().int().nonnegative().default(30_000),
});

/**
 * Settings shared by every Oona plugin: the stream catalogue (reference §1.2), group and
 * consumer, thresholds, retry and dead letter, kernel guards, emergency rate limit, breakers,
 * trimming and the publish retry buffer. Plugins extend it with their connection options.
 * Defaults follow the reference's service settings where its two default sets disagree
 * (decision 0036).
 */
export const oonaSettingsShape = {
  /** Normal stream (`OONA_NORMAL_STREAM`). */
  normalStream: z.string().min(1).default('oona.normal'),
  /** Emergency stream: signals, HIGH/CRITICAL traffic and reroutes (`OONA_EMERGENCY_STREAM`). */
  emergencyStream: z.string().min(1).default('oona.emergency'),
  /** Telemetry stream (`OONA_TELEMETRY_STREAM`). */
  telemetryStream: z.string().min(1).default('oona.telemetry'),
  /** Policy-update stream (`OONA_POLICY_STREAM`). */
  policyStream: z.string().min(1).default('oona.policy'),
  /** Kernel prefetch requests (`OONA_KERNEL_REQUEST_STREAM`). */
  kernelRequestStream: z.string().min(1).default('oona.kernels.requests'),
  /** Kernel ready + catalog updates (`OONA_KERNEL_READY_STREAM`). */
  kernelReadyStream: z.string().min(1).default('oona.kernels.ready'),
  /** Kernel errors (`OONA_KERNEL_ERROR_STREAM`). */
  kernelErrorStream: z.string().min(1).default('oona.kernels.errors'),
  /** Dead-letter stream; `null` discards exhausted messages (counted) (`OONA_DEAD_LETTER_STREAM`). */
  deadLetterStream: z.string().min(1).nullable().default('oona.deadletter'),
  /** Consumer group: one copy of every entry per group (`OONA_GROUP`). */
  group: z.string().min(1).default('esper'),
  /** Consumer name inside the group; default `<hostname>-<pid>` (`OONA_CONSUMER`). */
  consumer: z.string().min(1).optional(),
  /** Length cap applied by housekeeping to the normal and kernel-request streams (`OONA_MAX_STREAM_LENGTH`). */
  maxStreamLength: optionalCount,
  /** Reroute normal publishes to emergency when the normal backlog ≥ this (`OONA_EMERGENCY_THRESHOLD`). */
  emergencyThreshold: optionalCount,
  /** Drop normal/kernel-request publishes when the backlog ≥ this (`OONA_BACKPRESSURE_DROP_THRESHOLD`). */
  backpressureDropThreshold: optionalCount,
  /** Handler runs before a message is dead-lettered (`OONA_RETRY_MAX_ATTEMPTS`). */
  retryMaxAttempts: positiveInt.default(5),
  /** Pending entries idle this long are claimed and redelivered; 0 disables (`OONA_RETRY_IDLE_MS`). */
  retryIdleMs: z.number().int().nonnegative().default(60_000),
  /** Entries claimed per sweep step. */
  retryBatchSize: positiveInt.default(50),
  /** First retry delay; doubles per attempt up to `retryBackoffMaxMs`; 0 requeues at once. */
  retryBackoffMs: z.number().int().nonnegative().default(100),
  retryBackoffMaxMs: z.number().int().nonnegative().default(5_000),
  /** Age after which housekeeping trims entries (by id time); null/0 disables (`OONA_MESSAGE_TTL_MS`). */
  messageTtlMs: z.number().int().nonnegative().nullable().default(900_000),
  /** Age after which housekeeping trims the dead-letter stream; null/0 disables. */
  deadLetterTtlMs: z.number().int().nonnegative().nullable().default(7 * 24 * 3_600_000),
  /** Length cap of the dead-letter stream applied by housekeeping. */
  deadLetterMaxLength: positiveInt.nullable().default(10_000),
  /** Capacity of each kernel replay cache (`KERNEL_NONCE_CACHE_SIZE`). */
  kernelNonceCacheSize: positiveInt.default(4_096),
  /** Max age of a kernel prefetch request; 0 disables the age check (`KERNEL_FRESHNESS_WINDOW_MS`). */
  kernelFreshnessWindowMs: z.number().int().nonnegative().default(60_000),
  /** Emergency token buckets: size and refill per minute; 0 disables (`OONA_EMERGENCY_MAX_PER_MIN`). */
  emergencyMaxPerMin: z.number().int().nonnegative().default(120),
  publishBreaker: breakerSettingsSchema.prefault({}),
  consumeBreaker: breakerSettingsSchema.prefault({}),
  /** Publishes that may wait for a retry after a backend error; 0 fails them at once. */
  publishRetryBufferSize: z.number().int().nonnegative().default(1_024),
  /** How long a buffered publish keeps retrying before it is reported unsent. */
  publishRetryTimeoutMs: z.number().int().nonnegative().default(5_000),
  /** Housekeeping period while the plugin runs; 0 disables the timer. */
  housekeepingIntervalMs: z.number().int().nonnegative().default(60_000),
} as const;

/** Zod schema of the shared settings. */
export const oonaSettingsSchema = z.strictObject(oonaSettingsShape);

/** Validated Oona settings. */
export type OonaSettings = z.output<typeof oonaSettingsSchema>;
/** What a user may write (defaults optional). */
export type OonaSettingsInput = z.input<typeof oonaSettingsSchema>;

/** Environment variables of the shared settings → option paths (the reference's names kept). */
export const OONA_SETTINGS_ENV: Readonly<Record<string, string>> = {
  OONA_NORMAL_STREAM: 'normalStream',
  OONA_EMERGENCY_STREAM: 'emergencyStream',
  OONA_TELEMETRY_STREAM: 'telemetryStream',
  OONA_POLICY_STREAM: 'policyStream',
  OONA_KERNEL_REQUEST_STREAM: 'kernelRequestStream',
  OONA_KERNEL_READY_STREAM: 'kernelReadyStream',
  OONA_KERNEL_ERROR_STREAM: 'kernelErrorStream',
  OONA_DEAD_LETTER_STREAM: 'deadLetterStream',
  OONA_GROUP: 'group',
  OONA_CONSUMER: 'consumer',
  OONA_MAX_STREAM_LENGTH: 'maxStreamLength',
  OONA_EMERGENCY_THRESHOLD: 'emergencyThreshold',
  OONA_BACKPRESSURE_DROP_THRESHOLD: 'backpressureDropThreshold',
  OONA_RETRY_MAX_ATTEMPTS: 'retryMaxAttempts',
  OONA_RETRY_IDLE_MS: 'retryIdleMs',
  OONA_MESSAGE_TTL_MS: 'messageTtlMs',
  OONA_EMERGENCY_MAX_PER_MIN: 'emergencyMaxPerMin',
  KERNEL_FRESHNESS_WINDOW_MS: 'kernelFreshnessWindowMs',
  KERNEL_NONCE_CACHE_SIZE: 'kernelNonceCacheSize',
};

/** Parses partial settings into validated settings (throws a ZodError on bad input). */
export function resolveOonaSettings(input: Partial<OonaSettingsInput> = {}): OonaSettings {
  return oonaSettingsSchema.parse(input);
}

/** The default consumer name: `<hostname>-<pid>` with spaces replaced, unique per process on a host. */
export function defaultConsumerName(): string {
  return `${hostname().replace(/\s+/g, '-')}-${process.pid}`;
}

/** The shared Oona settings out of a plugin's options (which add connection keys). */
export function pickOonaSettings(options: Readonly<Record<string, unknown>>): OonaSettings {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(oonaSettingsShape)) if (options[key] !== undefined) out[key] = options[key];
  return oonaSettingsSchema.parse(out);
}
