import { z } from 'zod';

/** Learning-rate schedules of the LR controller; `off` disables the controller (reference tolaria §3.7). */
export const TOLARIA_LR_POLICIES = ['off', 'constant', 'cosine', 'step'] as const;
/** One of {@link TOLARIA_LR_POLICIES}. */
export type TolariaLrPolicy = (typeof TOLARIA_LR_POLICIES)[number];

/** How gradients of a fence's microbatches are combined (reference tolaria §3.6.3). */
export const TOLARIA_AGGREGATION_MODES = ['seed', 'microbatch'] as const;
/** One of {@link TOLARIA_AGGREGATION_MODES}. */
export type TolariaAggregationMode = (typeof TOLARIA_AGGREGATION_MODES)[number];

/** Where per-seed attribution weights come from (reference tolaria §3.5.1 step 9). */
export const TOLARIA_ATTRIBUTIONS = ['approx', 'probe', 'dataloader'] as const;
/** One of {@link TOLARIA_ATTRIBUTIONS}. */
export type TolariaAttribution = (typeof TOLARIA_ATTRIBUTIONS)[number];

/** Values the reference documents for the unused `TOLARIA_AGGREGATION_SCHEME`. */
export const TOLARIA_AGGREGATION_SCHEMES = ['mean', 'sum', 'state_weighted'] as const;

const FENCE = /^(?:epoch|(?:n_steps|steps):([1-9]\d*))$/;

/**
 * The rebuild cadence of an optimizer-rebuild fence: `'epoch'` (after each successful epoch) or
 * every N global steps for `n_steps:N` / `steps:N`. Returns undefined for a string that is not a
 * valid fence (the schema rejects those).
 */
export function parseRebuildFence(fence: string): { readonly kind: 'epoch' } | { readonly kind: 'steps'; readonly everySteps: number } | undefined {
  const match = FENCE.exec(fence.trim());
  if (match === null) return undefined;
  return match[1] === undefined ? { kind: 'epoch' } : { kind: 'steps', everySteps: Number(match[1]) };
}

/** Lower-cases and maps the reference's "disabled" spellings (`none`, empty) to `off`. */
function normaliseLrPolicy(value: TolariaLrPolicy | 'none' | ''): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  return lower === '' || lower === 'none' ? 'off' : lower;
}

/** Trainer circuit breaker (reference tolaria §2.1, §3.4). */
const breakerSchema = z
  .strictObject({
    /** Failed epochs that open the trainer breaker. Default 3. No env. Reference tolaria §2.1. */
    failureThreshold: z.number().int().min(1).default(3),
    /** Successes in HALF_OPEN needed to close it. Default 1. No env. Reference tolaria §2.1. */
    successThreshold: z.number().int().min(1).default(1),
    /** How long the breaker stays OPEN, in ms. Default 30 000 (reference `breaker_timeout_s` 30). No env. Reference tolaria §2.1. */
    timeoutMs: z.number().int().nonnegative().default(30_000),
  })
  .prefault({});

/**
 * Accelerator-only speed features (reference tolaria §2.1, §3.12). They are reported as 0 where
 * the runtime has no equivalent (the CPU, Node without an accelerator backend).
 */
const speedSchema = z
  .strictObject({
    /** Compiled execution, with an eager fallback on failure. Default true. No env. Reference tolaria §2.1, §3.12. */
    enableCompile: z.boolean().default(true),
    /** Mixed precision (bf16 autocast and a loss scaler). Default true. No env. Reference tolaria §2.1, §3.12. */
    enableAmp: z.boolean().default(true),
    /** TF32 matmul. Default true. No env. Reference tolaria §2.1, §3.12. */
    enableTf32: z.boolean().default(true),
    /** Fused multi-tensor (`foreach`) optimizer kernels. Default true. No env. Reference tolaria §2.1, §3.12. */
    enableForeachOptim: z.boolean().default(true),
  })
  .prefault({});

/** LR controller (reference tolaria §3.7). */
const lrSchema = z
  .strictObject({
    /**
     * Schedule: `constant`, `cosine` or `step`; `off` disables the controller. Env values are
     * case-insensitive, and `none` or an empty value mean `off`. The reference also treats an
     * unknown name as `off`; this port rejects it (decision 0040).
     * Env `TOLARIA_LR_POLICY`. Default `off` (unset). Reference tolaria §2.2, §3.7.
     */
    policy: z.preprocess(normaliseLrPolicy, z.enum(TOLARIA_LR_POLICIES)).default('off'),
    /**
     * Linear warm-up, in optimizer steps: while `step < warmup` the LR is
     * `base · max(0.1, (step+1)/warmup)`. 0 disables it.
     * Env `TOLARIA_LR_WARMUP_STEPS`. Default 0. Reference tolaria §2.2, §3.7.
     */
    warmupSteps: z.number().int().nonnegative().default(0),
    /** `t_max` of the cosine schedule, in optimizer steps. Default 10 000. No env (hard-coded in the reference). Reference tolaria §3.7. */
    cosineTMaxSteps: z.number().int().positive().default(10_000),
    /** `step_size` of the step schedule, in epochs. Default 10. No env (hard-coded in the reference). Reference tolaria §3.7. */
    stepSizeEpochs: z.number().int().positive().default(10),
    /** `gamma` of the step schedule: LR factor per `stepSizeEpochs`. Default 0.5. No env (hard-coded in the reference). Reference tolaria §3.7. */
    stepGamma: z.number().positive().default(0.5),
  })
  .prefault({});

/** Safe optimizer rebuild (reference tolaria §3.8). */
const optimizerRebuildSchema = z
  .strictObject({
    /** Rebuild the optimizer over the model's current parameters at each fence. Env `TOLARIA_OPT_REBUILD_ENABLED`. Default false. Reference tolaria §2.2, §3.8. */
    enabled: z.boolean().default(false),
    /**
     * When to rebuild: `epoch` (after each successful epoch), or `n_steps:N` / `steps:N` (every
     * N global steps, N ≥ 1). The reference silently disables rebuilds for any other value;
     * this port rejects it (decision 0040). Parse with {@link parseRebuildFence}.
     * Env `TOLARIA_OPT_REBUILD_FENCE`. Default `epoch`. Reference tolaria §2.2, §3.8.
     */
    fence: z
      .string()
      .trim()
      .refine((f) => FENCE.test(f), {
        message: 'expected "epoch", "n_steps:N" or "steps:N" with N a whole number >= 1',
      })
      .default('epoch'),
    /** How long the rebuild breaker stays open after failures, in ms. Env `TOLARIA_OPT_REBUILD_BACKOFF_MS`. Default 10 000. Reference tolaria §2.2, §3.8. */
    backoffMs: z.number().int().nonnegative().default(10_000),
    /**
     * Storm guard: minimum global steps between two rebuilds; 0 disables it.
     * Env `TOLARIA_OPT_REBUILD_MIN_INTERVAL_STEPS`. Default 0. Reference tolaria §2.2, §3.8.
     */
    minIntervalSteps: z.number().int().nonnegative().default(0),
  })
  .prefault({});

/** Two-tier rollback (reference tolaria §3.11). */
const rollbackSchema = z
  .strictObject({
    /** Keep the fast snapshot cache and roll back on failed epochs. Env `TOLARIA_ROLLBACK_ENABLED`. Default false. Reference tolaria §2.2, §3.11. */
    enabled: z.boolean().default(false),
    /** Capacity of the fast in-memory snapshot cache, in MiB; at least 1. Env `TOLARIA_ROLLBACK_FAST_CAP_MB`. Default 32. Reference tolaria §2.2, §3.11.1. */
    fastCacheMiB: z.number().int().min(1).default(32),
    /** Deadline of the slow tier (restore from checkpoint + WAL), in ms; a miss triggers the rollback signal. Env `TOLARIA_ROLLBACK_DEADLINE_MS`. Default 250. Reference tolaria §2.2, §3.11.2. */
    deadlineMs: z.number().int().positive().default(250),
    /** Take a fast snapshot every N global steps; at least 1. Env `TOLARIA_ROLLBACK_SNAPSHOT_STEPS`. Default 1. Reference tolaria §2.2, §3.11.1. */
    snapshotSteps: z.number().int().min(1).default(1),
    /**
     * Name of the shared-memory rollback-deadline segment (`/dev/shm/<name>`) that Weatherlight
     * watches. Unset: an in-process flag. Env `TOLARIA_ROLLBACK_SIGNAL_NAME`. Default: unset.
     * Reference tolaria §2.2, §3.10.5.
     */
    signalName: z.string().min(1).optional(),
  })
  .prefault({});

/** Emergency protocol (reference tolaria §3.10). */
const emergencySchema = z
  .strictObject({
    /** Master switch for escalation, signals and halts. Env `TOLARIA_EMERGENCY_ENABLED`. Default false. Reference tolaria §2.2, §3.10. */
    enabled: z.boolean().default(false),
    /**
     * Queued emergency signals sent per history flush; the rest are counted as bypassed and
     * discarded. Despite the env name the cap is per flush, not per minute. At least 1.
     * Env `TOLARIA_EMERGENCY_BYPASS_MAX_PER_MIN`. Default 60. Reference tolaria §2.2, §3.10.4.
     */
    maxSignalsPerFlush: z.number().int().min(1).default(60),
    /**
     * Escalate to HALT when the slow rollback tier misses its deadline or finds nothing to restore.
     * Env `TOLARIA_EMERGENCY_L4_ON_ROLLBACK_DEADLINE`. Default true. Reference tolaria §2.2, §3.10.1.
     */
    haltOnRollbackDeadline: z.boolean().default(true),
    /** Streak of failed epochs that escalates to HALT; at least 1. Env `TOLARIA_EMERGENCY_L4_FAILED_EPOCHS`. Default 3. Reference tolaria §2.2, §3.10.1. */
    haltAfterFailedEpochs: z.number().int().min(1).default(3),
    /**
     * Name of the shared-memory emergency segment (`/dev/shm/<name>`) that Weatherlight polls.
     * Unset: an in-process signal. Env `TOLARIA_EMERGENCY_SIGNAL_NAME`. Default: unset.
     * Reference tolaria §2.2, §3.10.5.
     */
    signalName: z.string().min(1).optional(),
  })
  .prefault({});

/** Gradient aggregation and its per-seed telemetry (reference tolaria §3.6). */
const aggregationSchema = z
  .strictObject({
    /** `seed` (per-seed masks, weighted) or `microbatch` (one vector per microbatch). Env `TOLARIA_AGGREGATION_MODE`. Default `seed`. Reference tolaria §2.2, §3.6.3. */
    mode: z.enum(TOLARIA_AGGREGATION_MODES).default('seed'),
    /** Source of per-seed attribution: `approx`, `probe` (Kasmina) or `dataloader` (batch seed ids). Env `TOLARIA_AGGREGATION_ATTRIBUTION`. Default `approx`. Reference tolaria §2.2, §3.5.1. */
    attribution: z.enum(TOLARIA_ATTRIBUTIONS).default('approx'),
    /** PCGrad projection across seeds (seed mode only). Env `TOLARIA_PCGRAD_ENABLED`. Default false. Reference tolaria §2.2, §3.6.3. */
    pcgrad: z.boolean().default(false),
    /** Gradient-conflict rate at or above which `grad_conflict_high` is emitted, in [0, 1]. Env `TOLARIA_AGGREGATION_CONFLICT_WARN`. Default 0.75. Reference tolaria §2.2. */
    conflictWarn: z.number().min(0).max(1).default(0.75),
    /**
     * @deprecated Declared by the reference (`mean`/`sum`/`state_weighted`, default `mean`) and
     * never read (tolaria §6, oona §5 item 10). Accepted so existing environments keep
     * validating; it has no effect, and the service warns when it is set (decision 0040).
     * Env `TOLARIA_AGGREGATION_SCHEME`. Default: unset. Reference tolaria §2.2.
     */
    scheme: z.enum(TOLARIA_AGGREGATION_SCHEMES).optional(),
    /** Per-layer gradient-norm telemetry per seed. Env `TOLARIA_AGG_PER_LAYER_ENABLED`. Default false. Reference tolaria §2.2, §3.6.4. */
    perLayerEnabled: z.boolean().default(false),
    /** Parameter slices reported per seed by per-layer telemetry; at least 1. Env `TOLARIA_AGG_PER_LAYER_TOPK`. Default 5. Reference tolaria §2.2, §3.6.4. */
    perLayerTopK: z.number().int().min(1).default(5),
    /** |share change| at or above which `seed_share_jump` is emitted, in [0, 1]. Env `TOLARIA_SEED_SHARE_JUMP_WARN`. Default 0.3. Reference tolaria §2.2, §3.6.4. */
    seedShareJumpWarn: z.number().min(0).max(1).default(0.3),
    /** Seed conflict ratio at or above which `seed_conflict_high` is emitted, in [0, 1]. Env `TOLARIA_SEED_CONFLICT_RATIO_WARN`. Default 0.5. Reference tolaria §2.2, §3.6.4. */
    seedConflictRatioWarn: z.number().min(0).max(1).default(0.5),
    /** One `seed_health` event per seed instead of per-seed metrics. Env `TOLARIA_SEED_HEALTH_COMPACT`. Default false. Reference tolaria §2.2, §3.6.4. */
    seedHealthCompact: z.boolean().default(false),
  })
  .prefault({});

/** Per-epoch trace profiler (reference tolaria §3.12). */
const profilerSchema = z
  .strictObject({
    /** Write one Chrome trace-event file per epoch. Env `TOLARIA_PROFILER_ENABLED`. Default false. Reference tolaria §2.2, §3.12. */
    enabled: z.boolean().default(false),
    /**
     * Folder of the `tolaria-epoch-<epoch>.json` traces. Unset: `<run.dir>/profiler` (the
     * reference's default is `./var/profiler` under the working directory; decision 0040).
     * Env `TOLARIA_PROFILER_DIR`. Default: unset. Reference tolaria §2.2, §3.12.
     */
    dir: z.string().min(1).optional(),
    /**
     * @deprecated Passed through by the reference (default 50) and never used (tolaria §6).
     * Accepted so existing environments keep validating; it has no effect, and the service
     * warns when it is set (decision 0040).
     * Env `TOLARIA_PROFILER_ACTIVE_STEPS`. Default: unset. Reference tolaria §2.2.
     */
    activeSteps: z.number().int().positive().optional(),
  })
  .prefault({});

/**
 * Settings of Tolaria, the trainer: the loop config (epochs, budgets, accumulation, breaker,
 * speed features) and the reference's `TOLARIA_*` settings (LR controller, optimizer rebuild,
 * rollback, emergency, aggregation, profiler). Config section `tolaria`; `maxEpochs` is
 * required, everything else has a default. Reference: tolaria §2.
 */
export const tolariaConfigSchema = z.strictObject({
  /** Epochs that `run()` trains. Required; at least 1. No env. Reference tolaria §2.1. */
  maxEpochs: z.number().int().min(1),
  /** Compute device. Unset: an accelerator when available, else the CPU. No env. Reference tolaria §2.1. */
  device: z.string().trim().min(1).optional(),
  /** Microbatches per optimizer step; at least 1 (the reference counts smaller values as 1; we reject). Default 1. No env. Reference tolaria §2.1, §3.5.1. */
  gradientAccumulationSteps: z.number().int().min(1).default(1),
  /** Wall-time budget of a whole epoch (training included), in ms; exceeding it fails the epoch (`epoch_budget`). Default 250. No env. Reference tolaria §2.1, §2.3. */
  epochBudgetMs: z.number().positive().default(250),
  /** Budget of the Tamiyo + Kasmina hook of the last step of an epoch, in ms (`hook_budget`). Default 50. No env. Reference tolaria §2.1, §2.3. */
  hookBudgetMs: z.number().positive().default(50),
  /** Deadline of each per-step Tamiyo call and each Kasmina apply, in ms. Default 2 000 (reference `tamiyo_timeout_s` 2.0). No env. Reference tolaria §2.1, §2.3. */
  tamiyoTimeoutMs: z.number().int().positive().default(2_000),
  /**
   * Folder of epoch checkpoints and the rollback WAL. Unset: `<run.dir>/tolaria` (the reference
   * uses `var/tolaria` under the working directory; decision 0040). No env. Reference tolaria §3.11.4.
   */
  checkpointDir: z.string().min(1).optional(),
  /** Trainer circuit breaker. */
  breaker: breakerSchema,
  /** Accelerator-only speed features. */
  speed: speedSchema,
  /** LR controller. */
  lr: lrSchema,
  /** Safe optimizer rebuild. */
  optimizerRebuild: optimizerRebuildSchema,
  /** Two-tier rollback. */
  rollback: rollbackSchema,
  /** Emergency protocol. */
  emergency: emergencySchema,
  /** Gradient aggregation and per-seed telemetry. */
  aggregation: aggregationSchema,
  /** Per-epoch profiler. */
  profiler: profilerSchema,
});

/** Validated Tolaria settings (every default applied). */
export type TolariaConfig = z.output<typeof tolariaConfigSchema>;
/** What a user may write in the `tolaria` config section (`maxEpochs` required). */
export type TolariaConfigInput = z.input<typeof tolariaConfigSchema>;

/** The reference's `TOLARIA_*` environment variables, by name → option path in the `tolaria` section. */
export const TOLARIA_ENV: Readonly<Record<string, string>> = Object.freeze({
  TOLARIA_LR_POLICY: 'lr.policy',
  TOLARIA_LR_WARMUP_STEPS: 'lr.warmupSteps',
  TOLARIA_OPT_REBUILD_ENABLED: 'optimizerRebuild.enabled',
  TOLARIA_OPT_REBUILD_FENCE: 'optimizerRebuild.fence',
  TOLARIA_OPT_REBUILD_BACKOFF_MS: 'optimizerRebuild.backoffMs',
  TOLARIA_OPT_REBUILD_MIN_INTERVAL_STEPS: 'optimizerRebuild.minIntervalSteps',
  TOLARIA_ROLLBACK_ENABLED: 'rollback.enabled',
  TOLARIA_ROLLBACK_FAST_CAP_MB: 'rollback.fastCacheMiB',
  TOLARIA_ROLLBACK_DEADLINE_MS: 'rollback.deadlineMs',
  TOLARIA_ROLLBACK_SNAPSHOT_STEPS: 'rollback.snapshotSteps',
  TOLARIA_ROLLBACK_SIGNAL_NAME: 'rollback.signalName',
  TOLARIA_EMERGENCY_ENABLED: 'emergency.enabled',
  TOLARIA_EMERGENCY_BYPASS_MAX_PER_MIN: 'emergency.maxSignalsPerFlush',
  TOLARIA_EMERGENCY_L4_ON_ROLLBACK_DEADLINE: 'emergency.haltOnRollbackDeadline',
  TOLARIA_EMERGENCY_L4_FAILED_EPOCHS: 'emergency.haltAfterFailedEpochs',
  TOLARIA_EMERGENCY_SIGNAL_NAME: 'emergency.signalName',
  TOLARIA_AGGREGATION_MODE: 'aggregation.mode',
  TOLARIA_AGGREGATION_ATTRIBUTION: 'aggregation.attribution',
  TOLARIA_PCGRAD_ENABLED: 'aggregation.pcgrad',
  TOLARIA_AGGREGATION_CONFLICT_WARN: 'aggregation.conflictWarn',
  TOLARIA_AGGREGATION_SCHEME: 'aggregation.scheme',
  TOLARIA_AGG_PER_LAYER_ENABLED: 'aggregation.perLayerEnabled',
  TOLARIA_AGG_PER_LAYER_TOPK: 'aggregation.perLayerTopK',
  TOLARIA_SEED_SHARE_JUMP_WARN: 'aggregation.seedShareJumpWarn',
  TOLARIA_SEED_CONFLICT_RATIO_WARN: 'aggregation.seedConflictRatioWarn',
  TOLARIA_SEED_HEALTH_COMPACT: 'aggregation.seedHealthCompact',
  TOLARIA_PROFILER_ENABLED: 'profiler.enabled',
  TOLARIA_PROFILER_DIR: 'profiler.dir',
  TOLARIA_PROFILER_ACTIVE_STEPS: 'profiler.activeSteps',
});

/** Option paths of the `tolaria` section that hold secrets: none. */
export const TOLARIA_SECRETS: readonly string[] = Object.freeze([]);
