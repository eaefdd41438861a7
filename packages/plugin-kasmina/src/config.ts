import { z } from 'zod';

// Env names, references and one-line meanings live in each option's `.meta()`; the README's
// config table is generated from them (`pnpm gen:docs`). Comments here say only why. The
// reference has no KASMINA_* settings; the four env names are port additions (decision 0040).

// One circuit breaker (kernel fetch or isolation). The reference clamps the thresholds to ≥ 1
// and the timeout to ≥ 0; smaller values are rejected here.
function breakerSchema(defaults: { failureThreshold: number; openTimeoutMs: number; successThreshold: number }) {
  return z
    .strictObject({
      failureThreshold: z.number().int().min(1).default(defaults.failureThreshold).meta({
        reference: 'kasmina §8.1',
        description: 'Failures (in CLOSED or HALF_OPEN) that open the breaker.',
      }),
      openTimeoutMs: z.number().int().nonnegative().default(defaults.openTimeoutMs).meta({
        reference: 'kasmina §8.1',
        description: 'How long the breaker stays OPEN before it lets one call through, ms.',
      }),
      successThreshold: z.number().int().min(1).default(defaults.successThreshold).meta({
        reference: 'kasmina §8.1',
        description: 'Successes in HALF_OPEN that close the breaker.',
      }),
    })
    .prefault({});
}

// Unset windows are taken from the kernel's `security` section, whose defaults equal the
// reference's Kasmina defaults (decision 0040): set one here only to give Kasmina its own.
const securitySchema = z
  .strictObject({
    nonceTtlMs: z.number().int().positive().optional().meta({
      reference: 'kasmina §3.1 (`nonce_ttl_seconds`), §14.3',
      unset: 'kernel `security.nonceWindowMs` (300000)',
      description: 'How long a command id is remembered against replay, ms.',
    }),
    freshnessWindowMs: z.number().int().positive().optional().meta({
      reference: 'kasmina §3.1 (`freshness_window_seconds`), §14.2',
      unset: 'kernel `security.freshnessWindowMs` (60000)',
      description: 'Maximum age of a command, ms.',
    }),
    maxFutureSkewMs: z.number().int().nonnegative().optional().meta({
      reference: 'kasmina §3.2, §14.2',
      unset: 'kernel `security.maxFutureSkewMs` (5000)',
      description: 'How far in the future a command’s `issued_at` may be, ms.',
    }),
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

// α = sigmoid((step − T/2) / max(τ, 1e-6)) while a seed is BLENDING (kasmina §9.1).
const alphaScheduleSchema = z
  .strictObject({
    totalSteps: z.number().int().default(20).meta({
      reference: 'kasmina §3.2, §9.1',
      description: 'Ramp length T, alpha steps; ≤ 0 makes α = 1 at once.',
    }),
    temperature: z.number().positive().default(2).meta({ reference: 'kasmina §3.2, §9.1', description: 'Ramp temperature τ (steepness).' }),
  })
  .prefault({});

// Used for any gate value a command does not annotate. Tamiyo's P8 defaults differ (kasmina §19 item 19).
const confidenceGateSchema = z
  .strictObject({
    gateK: z.number().nonnegative().default(4).meta({
      reference: 'kasmina §3.2, §9.3',
      description: 'Default `gate_k`: steepness of `sigmoid(k · (margin − τ))`.',
    }),
    gateTau: z.number().nonnegative().default(0.2).meta({ reference: 'kasmina §3.2, §9.3', description: 'Default `gate_tau`: margin offset τ.' }),
    alphaLo: z.number().min(0).max(1).default(0).meta({
      reference: 'kasmina §3.2, §9.3',
      description: 'Default `alpha_lo`, lower clamp of the effective weight; must be ≤ `alphaHi`.',
    }),
    alphaHi: z.number().min(0).max(1).default(1).meta({
      reference: 'kasmina §3.2, §9.3',
      description: 'Default `alpha_hi`, upper clamp of the effective weight.',
    }),
  })
  .refine((g) => g.alphaLo <= g.alphaHi, {
    message: 'confidenceGate.alphaLo must be <= confidenceGate.alphaHi',
    path: ['alphaLo'],
  })
  .prefault({});

const isolationSchema = z
  .strictObject({
    dotThreshold: z.number().nonnegative().default(1e-6).meta({
      reference: 'kasmina §3.2, §10.3',
      description: '|host·seed gradient dot product| above which a backward is a violation.',
    }),
    projectionSamples: z.number().int().positive().default(256).meta({
      reference: 'kasmina §3.2, §10.3',
      description: 'Random projection samples per shared parameter.',
    }),
  })
  .prefault({});

const coverageSchema = z
  .strictObject({
    warnBelow: z.number().min(0).max(1).default(0.3).meta({ reference: 'kasmina §3.2', description: 'Coverage below this is a WARNING.' }),
    criticalBelow: z.number().min(0).max(1).default(0.1).meta({
      reference: 'kasmina §3.2',
      description: 'Coverage below this is CRITICAL; must be ≤ `warnBelow`.',
    }),
  })
  .refine((c) => c.criticalBelow <= c.warnBelow, {
    message: 'coverage.criticalBelow must be <= coverage.warnBelow',
    path: ['criticalBelow'],
  })
  .prefault({});

const memorySchema = z
  .strictObject({
    kernelCacheCapacity: z.number().int().nonnegative().default(32).meta({
      env: 'KASMINA_KERNEL_CACHE_CAPACITY',
      reference: 'kasmina §3.1 (`gpu_cache_capacity`), §13.2',
      description: 'LRU cache of built kernels, by blueprint id; 0 disables it and its metrics.',
    }),
    ttlCacheMs: z.number().int().positive().default(300_000).meta({
      reference: 'kasmina §3.2, §13.1',
      description: 'Time to live of the `kernel` and `telemetry` TTL-cache entries, ms.',
    }),
    gcEveryEpochs: z.number().int().nonnegative().default(10).meta({
      reference: 'kasmina §3.2, §13.3',
      description: 'Periodic GC cadence, epochs; 0 disables it.',
    }),
    // The reference divides bytes by 1024³ and calls it GB.
    teacherBudgetGiB: z.number().positive().default(7).meta({
      reference: 'kasmina §3.2, §12.2',
      description: 'Memory budget reported for the teacher model, GiB.',
    }),
  })
  .prefault({});

const telemetrySchema = z
  .strictObject({
    // A soft cap: the `seed_queue_dropped` event itself may make it one more.
    maxPendingEventsPerSeed: z.number().int().positive().default(64).meta({
      reference: 'kasmina §3.2, §15.3',
      description: 'Pending events kept per seed before the oldest are dropped.',
    }),
  })
  .prefault({});

/**
 * Settings of Kasmina, the seed executor: kernel-fetch budget and fallback, embargo, kernel
 * cache, command-security windows, and the reference's fixed constants that are worth tuning
 * (α schedule, breakers, isolation monitor, caches, GC, coverage and confidence-gate
 * defaults). Config section `kasmina`; every option has a default. Reference: kasmina §3.
 *
 * The signing key is the kernel's `security.leylineSecret` (`ESPER_LEYLINE_SECRET`); without it
 * Kasmina rejects every command (`verifier_unavailable`).
 */
export const kasminaConfigSchema = z.strictObject({
  latencyBudgetMs: z.number().nonnegative().default(10).meta({
    env: 'KASMINA_LATENCY_BUDGET_MS',
    reference: 'kasmina §3.1, §7.2',
    description: 'Kernel-fetch budget, ms: a slower fetch is a breach and loads the fallback kernel.',
  }),
  // The env cannot set null.
  fallbackBlueprintId: z.string().min(1).nullable().default('BP001').meta({
    env: 'KASMINA_FALLBACK_BLUEPRINT_ID',
    reference: 'kasmina §3.1, §7.3',
    description: 'Blueprint loaded when a kernel fetch fails or breaches; `null` attaches the identity kernel.',
  }),
  embargoMs: z.number().int().nonnegative().default(30_000).meta({
    env: 'KASMINA_EMBARGO_MS',
    reference: 'kasmina §3.1 (`embargo_seconds`), §5.2',
    description: 'Embargo after a gate failure, ms; 0 stops failed seeds at CULLED.',
  }),
  security: securitySchema,
  alphaSchedule: alphaScheduleSchema,
  confidenceGate: confidenceGateSchema,
  // Reference kasmina §3.2, §8.1 (kernel fetch) and §10.6 (isolation).
  kernelFetchBreaker: breakerSchema({ failureThreshold: 3, openTimeoutMs: 60_000, successThreshold: 2 }),
  isolationBreaker: breakerSchema({ failureThreshold: 3, openTimeoutMs: 30_000, successThreshold: 2 }),
  isolation: isolationSchema,
  memory: memorySchema,
  coverage: coverageSchema,
  telemetry: telemetrySchema,
});

/** Validated Kasmina settings (every default applied; unset security windows mean "the kernel's"). */
export type KasminaConfig = z.output<typeof kasminaConfigSchema>;
/** What a user may write in the `kasmina` config section (all optional). */
export type KasminaConfigInput = z.input<typeof kasminaConfigSchema>;
