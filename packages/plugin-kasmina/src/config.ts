import { z } from 'zod';

/**
 * One circuit breaker (kernel fetch or isolation), reference kasmina §8.1. The reference clamps
 * the thresholds to ≥ 1 and the timeout to ≥ 0; this port rejects smaller values.
 */
function breakerSchema(defaults: { failureThreshold: number; openTimeoutMs: number; successThreshold: number }) {
  return z
    .strictObject({
      /** Failures (in CLOSED or HALF_OPEN) that open the breaker. */
      failureThreshold: z.number().int().min(1).default(defaults.failureThreshold),
      /** How long the breaker stays OPEN before `allow()` moves it to HALF_OPEN, in ms. */
      openTimeoutMs: z.number().int().nonnegative().default(defaults.openTimeoutMs),
      /** Successes in HALF_OPEN that close the breaker. */
      successThreshold: z.number().int().min(1).default(defaults.successThreshold),
    })
    .prefault({});
}

/**
 * Command-security windows (reference kasmina §3.1, §14). Each is unset by default and then
 * taken from the kernel's `security` section, whose defaults equal the reference's Kasmina
 * defaults (decision 0040); set one here only to give Kasmina a different window.
 */
const securitySchema = z
  .strictObject({
    /**
     * How long a command id is remembered against replay, in ms. Unset: the kernel's
     * `security.nonceWindowMs` (300 000). No env. Reference kasmina §3.1 (`nonce_ttl_seconds` 300), §14.3.
     */
    nonceTtlMs: z.number().int().positive().optional(),
    /**
     * Maximum age of a command, in ms. Unset: the kernel's `security.freshnessWindowMs`
     * (60 000). No env. Reference kasmina §3.1 (`freshness_window_seconds` 60), §14.2.
     */
    freshnessWindowMs: z.number().int().positive().optional(),
    /**
     * How far in the future a command's `issued_at` may be, in ms. Unset: the kernel's
     * `security.maxFutureSkewMs` (5 000). No env. Reference kasmina §3.2 (5 s), §14.2.
     */
    maxFutureSkewMs: z.number().int().nonnegative().optional(),
  })
  .refine(
    (s) => s.nonceTtlMs === undefined || s.freshnessWindowMs === undefined || s.nonceTtlMs >= s.freshnessWindowMs + (s.maxFutureSkewMs ?? 0),
    {
      // An accepted command id must be remembered as long as the same bytes could still pass the
      // freshness checks (decision 0011); with a window unset here the service checks the merged values.
      message: 'security.nonceTtlMs must be >= security.freshnessWindowMs + security.maxFutureSkewMs, or a replayed command could pass',
      path: ['nonceTtlMs'],
    },
  )
  .prefault({});

/** α ramp while a seed is BLENDING: `sigmoid((step − T/2) / max(τ, 1e-6))` (reference kasmina §9.1). */
const alphaScheduleSchema = z
  .strictObject({
    /** T, the ramp length in alpha steps; ≤ 0 makes α = 1 at once. Default 20. No env. Reference kasmina §3.2, §9.1. */
    totalSteps: z.number().int().default(20),
    /** τ, the ramp temperature (steepness). Default 2.0. No env. Reference kasmina §3.2, §9.1. */
    temperature: z.number().positive().default(2),
  })
  .prefault({});

/**
 * Kasmina's defaults for the CONFIDENCE blend gate, used for any value a command does not
 * annotate (reference kasmina §3.2, §9.2–§9.3). Tamiyo's P8 defaults differ (kasmina §19 item 19).
 */
const confidenceGateSchema = z
  .strictObject({
    /** `gate_k`: steepness of `sigmoid(k · (margin − τ))`. Default 4.0. No env. Reference kasmina §3.2. */
    gateK: z.number().nonnegative().default(4),
    /** `gate_tau`: margin offset τ. Default 0.2. No env. Reference kasmina §3.2. */
    gateTau: z.number().nonnegative().default(0.2),
    /** `alpha_lo`: lower clamp of the effective weight, in [0, 1], ≤ {@link alphaHi}. Default 0. No env. Reference kasmina §3.2. */
    alphaLo: z.number().min(0).max(1).default(0),
    /** `alpha_hi`: upper clamp of the effective weight, in [0, 1]. Default 1. No env. Reference kasmina §3.2. */
    alphaHi: z.number().min(0).max(1).default(1),
  })
  .refine((g) => g.alphaLo <= g.alphaHi, {
    message: 'confidenceGate.alphaLo must be <= confidenceGate.alphaHi',
    path: ['alphaLo'],
  })
  .prefault({});

/** Gradient-isolation monitor (reference kasmina §10.3). */
const isolationSchema = z
  .strictObject({
    /** |host·seed gradient dot product| above which a backward counts as a violation. Default 1e-6. No env. Reference kasmina §3.2, §10.3. */
    dotThreshold: z.number().nonnegative().default(1e-6),
    /** Random projection samples per shared parameter for the dot product. Default 256. No env. Reference kasmina §3.2, §10.3. */
    projectionSamples: z.number().int().positive().default(256),
  })
  .prefault({});

/** Coverage thresholds for the `coverage` annotation's health (reference kasmina §3.2). */
const coverageSchema = z
  .strictObject({
    /** Coverage below this is a WARNING. In [0, 1]. Default 0.3. No env. Reference kasmina §3.2. */
    warnBelow: z.number().min(0).max(1).default(0.3),
    /** Coverage below this is CRITICAL. In [0, 1], ≤ {@link warnBelow}. Default 0.1. No env. Reference kasmina §3.2. */
    criticalBelow: z.number().min(0).max(1).default(0.1),
  })
  .refine((c) => c.criticalBelow <= c.warnBelow, {
    message: 'coverage.criticalBelow must be <= coverage.warnBelow',
    path: ['criticalBelow'],
  })
  .prefault({});

/** Memory governance (reference kasmina §13). */
const memorySchema = z
  .strictObject({
    /**
     * Capacity of the LRU cache of built kernels, keyed by blueprint id; 0 disables the cache
     * and its metrics. Env `KASMINA_KERNEL_CACHE_CAPACITY` (port addition). Default 32.
     * Reference kasmina §3.1 (`gpu_cache_capacity`), §13.2.
     */
    kernelCacheCapacity: z.number().int().nonnegative().default(32),
    /** Time to live of the `kernel` and `telemetry` TTL-cache entries, in ms. Default 300 000. No env. Reference kasmina §3.2, §13.1. */
    ttlCacheMs: z.number().int().positive().default(300_000),
    /** Run the periodic GC every this many epochs; 0 disables it. Default 10. No env. Reference kasmina §3.2, §13.3. */
    gcEveryEpochs: z.number().int().nonnegative().default(10),
    /**
     * Memory budget reported for the teacher model, in GiB (the reference divides bytes by
     * 1024³ and calls it GB). Default 7.0. No env. Reference kasmina §3.2, §12.2.
     */
    teacherBudgetGiB: z.number().positive().default(7),
  })
  .prefault({});

/** Telemetry queues (reference kasmina §15.3). */
const telemetrySchema = z
  .strictObject({
    /**
     * Pending events kept per seed before the oldest are dropped (a soft cap: the
     * `seed_queue_dropped` event itself may make it one more). Default 64. No env.
     * Reference kasmina §3.2, §15.3.
     */
    maxPendingEventsPerSeed: z.number().int().positive().default(64),
  })
  .prefault({});

/**
 * Settings of Kasmina, the seed executor: kernel-fetch budget and fallback, embargo, kernel
 * cache, command-security windows, and the reference's fixed constants that are worth tuning
 * (α schedule, breakers, isolation monitor, caches, GC, coverage and confidence-gate
 * defaults). Config section `kasmina`; every option has a default. Reference: kasmina §3.
 *
 * The reference has no `KASMINA_*` settings; the four env names in {@link KASMINA_ENV} are port
 * additions (decision 0040). The signing key is the kernel's `security.leylineSecret`
 * (`ESPER_LEYLINE_SECRET`); without it Kasmina rejects every command (`verifier_unavailable`).
 */
export const kasminaConfigSchema = z.strictObject({
  /**
   * Kernel-fetch budget, in ms: a fetch that takes strictly longer is a breach and loads the
   * fallback kernel. Env `KASMINA_LATENCY_BUDGET_MS` (port addition). Default 10.
   * Reference kasmina §3.1, §7.2.
   */
  latencyBudgetMs: z.number().nonnegative().default(10),
  /**
   * Blueprint loaded when a kernel fetch fails or breaches the budget; `null` attaches the
   * identity kernel directly. Env `KASMINA_FALLBACK_BLUEPRINT_ID` (port addition; the env cannot
   * set `null`). Default `"BP001"`. Reference kasmina §3.1, §7.3.
   */
  fallbackBlueprintId: z.string().min(1).nullable().default('BP001'),
  /**
   * Embargo after a gate failure, in ms; 0 stops failed seeds at CULLED (no EMBARGOED).
   * Env `KASMINA_EMBARGO_MS` (port addition). Default 30 000 (reference `embargo_seconds` 30).
   * Reference kasmina §3.1, §5.2.
   */
  embargoMs: z.number().int().nonnegative().default(30_000),
  /** Replay, freshness and clock-skew windows for commands (default: the kernel's). */
  security: securitySchema,
  /** α ramp of BLENDING seeds. */
  alphaSchedule: alphaScheduleSchema,
  /** Defaults of the CONFIDENCE blend gate. */
  confidenceGate: confidenceGateSchema,
  /** Kernel-fetch breaker. Defaults 3 failures, 60 000 ms open, 2 successes. Reference kasmina §3.2, §8.1. */
  kernelFetchBreaker: breakerSchema({ failureThreshold: 3, openTimeoutMs: 60_000, successThreshold: 2 }),
  /** Isolation breaker. Defaults 3 failures, 30 000 ms open, 2 successes. Reference kasmina §3.2, §10.6. */
  isolationBreaker: breakerSchema({ failureThreshold: 3, openTimeoutMs: 30_000, successThreshold: 2 }),
  /** Gradient-isolation monitor. */
  isolation: isolationSchema,
  /** Kernel cache, TTL caches, periodic GC, teacher budget. */
  memory: memorySchema,
  /** Coverage health thresholds. */
  coverage: coverageSchema,
  /** Telemetry queue limits. */
  telemetry: telemetrySchema,
});

/** Validated Kasmina settings (every default applied; unset security windows mean "the kernel's"). */
export type KasminaConfig = z.output<typeof kasminaConfigSchema>;
/** What a user may write in the `kasmina` config section (all optional). */
export type KasminaConfigInput = z.input<typeof kasminaConfigSchema>;

/**
 * Environment variables for Kasmina, by name → option path in the `kasmina` section. The
 * reference has none (kasmina §3); these follow the `<SUBSYSTEM>_<OPTION>_<UNIT>` naming of
 * the Tamiyo and Tolaria settings and cover the constructor options an operator tunes per host.
 */
export const KASMINA_ENV: Readonly<Record<string, string>> = Object.freeze({
  KASMINA_LATENCY_BUDGET_MS: 'latencyBudgetMs',
  KASMINA_FALLBACK_BLUEPRINT_ID: 'fallbackBlueprintId',
  KASMINA_EMBARGO_MS: 'embargoMs',
  KASMINA_KERNEL_CACHE_CAPACITY: 'memory.kernelCacheCapacity',
});

/** Option paths of the `kasmina` section that hold secrets: none (the signing key is the kernel's). */
export const KASMINA_SECRETS: readonly string[] = Object.freeze([]);
