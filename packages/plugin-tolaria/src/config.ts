import { z } from 'zod';

// Env names, references and one-line meanings live in each option's `.meta()`; the README's
// config table is generated from them (`pnpm gen:docs`). Comments here say only why.

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

const breakerSchema = z
  .strictObject({
    failureThreshold: z.number().int().min(1).default(3).meta({ reference: 'tolaria §2.1', description: 'Failed epochs that open the trainer breaker.' }),
    successThreshold: z.number().int().min(1).default(1).meta({ reference: 'tolaria §2.1', description: 'Successes in HALF_OPEN that close it.' }),
    timeoutMs: z.number().int().nonnegative().default(30_000).meta({
      reference: 'tolaria §2.1 (`breaker_timeout_s`)',
      description: 'How long the breaker stays OPEN, ms.',
    }),
  })
  .prefault({});

// Reported as 0 where the runtime has no equivalent (the CPU, Node without an accelerator backend).
const speedSchema = z
  .strictObject({
    enableCompile: z.boolean().default(true).meta({
      reference: 'tolaria §2.1, §3.12',
      description: 'Compiled execution with an eager fallback (accelerator only).',
    }),
    enableAmp: z.boolean().default(true).meta({
      reference: 'tolaria §2.1, §3.12',
      description: 'Mixed precision: bf16 autocast and a loss scaler (accelerator only).',
    }),
    enableTf32: z.boolean().default(true).meta({ reference: 'tolaria §2.1, §3.12', description: 'TF32 matmul (accelerator only).' }),
    enableForeachOptim: z.boolean().default(true).meta({
      reference: 'tolaria §2.1, §3.12',
      description: 'Fused multi-tensor (`foreach`) optimizer kernels (accelerator only).',
    }),
  })
  .prefault({});

const lrSchema = z
  .strictObject({
    // The reference also treats an unknown name as `off`; rejected here (decision 0040).
    policy: z.preprocess(normaliseLrPolicy, z.enum(TOLARIA_LR_POLICIES)).default('off').meta({
      env: 'TOLARIA_LR_POLICY',
      reference: 'tolaria §2.2, §3.7',
      description: 'LR schedule; `off` disables the controller. Any case; `none` or empty mean `off`.',
    }),
    warmupSteps: z.number().int().nonnegative().default(0).meta({
      env: 'TOLARIA_LR_WARMUP_STEPS',
      reference: 'tolaria §2.2, §3.7',
      description: 'Linear warm-up, optimizer steps: LR `base · max(0.1, (step+1)/warmup)`; 0 disables.',
    }),
    // The three below are hard-coded in the reference.
    cosineTMaxSteps: z.number().int().positive().default(10_000).meta({
      reference: 'tolaria §3.7',
      description: '`t_max` of the cosine schedule, optimizer steps.',
    }),
    stepSizeEpochs: z.number().int().positive().default(10).meta({ reference: 'tolaria §3.7', description: '`step_size` of the step schedule, epochs.' }),
    stepGamma: z.number().positive().default(0.5).meta({ reference: 'tolaria §3.7', description: '`gamma` of the step schedule: LR factor per step size.' }),
  })
  .prefault({});

const optimizerRebuildSchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      env: 'TOLARIA_OPT_REBUILD_ENABLED',
      reference: 'tolaria §2.2, §3.8',
      description: 'Rebuild the optimizer over the current parameters at each fence.',
    }),
    // The reference silently disables rebuilds for any other value; rejected here (decision 0040).
    fence: z
      .string()
      .trim()
      .refine((f) => FENCE.test(f), {
        message: 'expected "epoch", "n_steps:N" or "steps:N" with N a whole number >= 1',
      })
      .default('epoch')
      .meta({
        env: 'TOLARIA_OPT_REBUILD_FENCE',
        reference: 'tolaria §2.2, §3.8',
        description: 'When to rebuild: `epoch`, or `n_steps:N` / `steps:N` (every N ≥ 1 global steps); see `parseRebuildFence`.',
      }),
    backoffMs: z.number().int().nonnegative().default(10_000).meta({
      env: 'TOLARIA_OPT_REBUILD_BACKOFF_MS',
      reference: 'tolaria §2.2, §3.8',
      description: 'How long the rebuild breaker stays open after failures, ms.',
    }),
    minIntervalSteps: z.number().int().nonnegative().default(0).meta({
      env: 'TOLARIA_OPT_REBUILD_MIN_INTERVAL_STEPS',
      reference: 'tolaria §2.2, §3.8',
      description: 'Storm guard: minimum global steps between two rebuilds; 0 disables.',
    }),
  })
  .prefault({});

const rollbackSchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      env: 'TOLARIA_ROLLBACK_ENABLED',
      reference: 'tolaria §2.2, §3.11',
      description: 'Keep the fast snapshot cache and roll back on failed epochs.',
    }),
    fastCacheMiB: z.number().int().min(1).default(32).meta({
      env: 'TOLARIA_ROLLBACK_FAST_CAP_MB',
      reference: 'tolaria §2.2, §3.11.1',
      description: 'Capacity of the fast in-memory snapshot cache, MiB.',
    }),
    deadlineMs: z.number().int().positive().default(250).meta({
      env: 'TOLARIA_ROLLBACK_DEADLINE_MS',
      reference: 'tolaria §2.2, §3.11.2',
      description: 'Deadline of the slow tier (checkpoint + WAL), ms; a miss raises the rollback signal.',
    }),
    snapshotSteps: z.number().int().min(1).default(1).meta({
      env: 'TOLARIA_ROLLBACK_SNAPSHOT_STEPS',
      reference: 'tolaria §2.2, §3.11.1',
      description: 'Take a fast snapshot every N global steps.',
    }),
    signalName: z.string().min(1).optional().meta({
      env: 'TOLARIA_ROLLBACK_SIGNAL_NAME',
      reference: 'tolaria §2.2, §3.10.5',
      unset: 'an in-process flag',
      description: 'Shared-memory rollback-deadline segment (`/dev/shm/<name>`) that Weatherlight watches.',
    }),
  })
  .prefault({});

const emergencySchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      env: 'TOLARIA_EMERGENCY_ENABLED',
      reference: 'tolaria §2.2, §3.10',
      description: 'Master switch for escalation, signals and halts.',
    }),
    // Despite the env name the cap is per flush, not per minute.
    maxSignalsPerFlush: z.number().int().min(1).default(60).meta({
      env: 'TOLARIA_EMERGENCY_BYPASS_MAX_PER_MIN',
      reference: 'tolaria §2.2, §3.10.4',
      description: 'Queued emergency signals sent per history flush; the rest are counted as bypassed.',
    }),
    haltOnRollbackDeadline: z.boolean().default(true).meta({
      env: 'TOLARIA_EMERGENCY_L4_ON_ROLLBACK_DEADLINE',
      reference: 'tolaria §2.2, §3.10.1',
      description: 'Escalate to HALT when the slow rollback tier misses its deadline or finds nothing.',
    }),
    haltAfterFailedEpochs: z.number().int().min(1).default(3).meta({
      env: 'TOLARIA_EMERGENCY_L4_FAILED_EPOCHS',
      reference: 'tolaria §2.2, §3.10.1',
      description: 'Streak of failed epochs that escalates to HALT.',
    }),
    signalName: z.string().min(1).optional().meta({
      env: 'TOLARIA_EMERGENCY_SIGNAL_NAME',
      reference: 'tolaria §2.2, §3.10.5',
      unset: 'an in-process signal',
      description: 'Shared-memory emergency segment (`/dev/shm/<name>`) that Weatherlight polls.',
    }),
  })
  .prefault({});

const aggregationSchema = z
  .strictObject({
    mode: z.enum(TOLARIA_AGGREGATION_MODES).default('seed').meta({
      env: 'TOLARIA_AGGREGATION_MODE',
      reference: 'tolaria §2.2, §3.6.3',
      description: '`seed` (per-seed masks, weighted) or `microbatch` (one vector per microbatch).',
    }),
    attribution: z.enum(TOLARIA_ATTRIBUTIONS).default('approx').meta({
      env: 'TOLARIA_AGGREGATION_ATTRIBUTION',
      reference: 'tolaria §2.2, §3.5.1',
      description: 'Source of per-seed attribution: `approx`, `probe` (Kasmina) or `dataloader` (batch seed ids).',
    }),
    pcgrad: z.boolean().default(false).meta({
      env: 'TOLARIA_PCGRAD_ENABLED',
      reference: 'tolaria §2.2, §3.6.3',
      description: 'PCGrad projection across seeds (seed mode only).',
    }),
    conflictWarn: z.number().min(0).max(1).default(0.75).meta({
      env: 'TOLARIA_AGGREGATION_CONFLICT_WARN',
      reference: 'tolaria §2.2',
      description: 'Gradient-conflict rate from which `grad_conflict_high` is emitted.',
    }),
    // Declared by the reference and never read (tolaria §6, oona §5 item 10); kept so existing
    // environments validate, and the service warns when it is set (decision 0040).
    /** @deprecated Has no effect. */
    scheme: z.enum(TOLARIA_AGGREGATION_SCHEMES).optional().meta({
      env: 'TOLARIA_AGGREGATION_SCHEME',
      reference: 'tolaria §2.2',
      deprecated: true,
      description: 'Unused, as in the reference; the service warns when it is set.',
    }),
    perLayerEnabled: z.boolean().default(false).meta({
      env: 'TOLARIA_AGG_PER_LAYER_ENABLED',
      reference: 'tolaria §2.2, §3.6.4',
      description: 'Per-layer gradient-norm telemetry per seed.',
    }),
    perLayerTopK: z.number().int().min(1).default(5).meta({
      env: 'TOLARIA_AGG_PER_LAYER_TOPK',
      reference: 'tolaria §2.2, §3.6.4',
      description: 'Parameter slices reported per seed by per-layer telemetry.',
    }),
    seedShareJumpWarn: z.number().min(0).max(1).default(0.3).meta({
      env: 'TOLARIA_SEED_SHARE_JUMP_WARN',
      reference: 'tolaria §2.2, §3.6.4',
      description: '|Share change| from which `seed_share_jump` is emitted.',
    }),
    seedConflictRatioWarn: z.number().min(0).max(1).default(0.5).meta({
      env: 'TOLARIA_SEED_CONFLICT_RATIO_WARN',
      reference: 'tolaria §2.2, §3.6.4',
      description: 'Seed conflict ratio from which `seed_conflict_high` is emitted.',
    }),
    seedHealthCompact: z.boolean().default(false).meta({
      env: 'TOLARIA_SEED_HEALTH_COMPACT',
      reference: 'tolaria §2.2, §3.6.4',
      description: 'One `seed_health` event per seed instead of per-seed metrics.',
    }),
  })
  .prefault({});

const profilerSchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      env: 'TOLARIA_PROFILER_ENABLED',
      reference: 'tolaria §2.2, §3.12',
      description: 'Write one Chrome trace-event file per epoch.',
    }),
    // The reference's default is `./var/profiler` under the working directory (decision 0040).
    dir: z.string().min(1).optional().meta({
      env: 'TOLARIA_PROFILER_DIR',
      reference: 'tolaria §2.2, §3.12',
      unset: '`<run.dir>/profiler`',
      description: 'Folder of the `tolaria-epoch-<epoch>.json` traces.',
    }),
    // Passed through by the reference and never used (tolaria §6); kept so existing environments
    // validate, and the service warns when it is set (decision 0040).
    /** @deprecated Has no effect. */
    activeSteps: z.number().int().positive().optional().meta({
      env: 'TOLARIA_PROFILER_ACTIVE_STEPS',
      reference: 'tolaria §2.2',
      deprecated: true,
      description: 'Unused, as in the reference; the service warns when it is set.',
    }),
  })
  .prefault({});

/**
 * Settings of Tolaria, the trainer: the loop config (epochs, budgets, accumulation, breaker,
 * speed features) and the reference's `TOLARIA_*` settings (LR controller, optimizer rebuild,
 * rollback, emergency, aggregation, profiler). Config section `tolaria`; `maxEpochs` is
 * required, everything else has a default. Reference: tolaria §2.
 */
export const tolariaConfigSchema = z.strictObject({
  maxEpochs: z.number().int().min(1).meta({ reference: 'tolaria §2.1', description: 'Epochs that `run()` trains.' }),
  device: z.string().trim().min(1).optional().meta({
    reference: 'tolaria §2.1',
    unset: 'accelerator if available, else the CPU',
    description: 'Compute device.',
  }),
  // The reference counts values below 1 as 1; rejected here.
  gradientAccumulationSteps: z.number().int().min(1).default(1).meta({
    reference: 'tolaria §2.1, §3.5.1',
    description: 'Microbatches per optimizer step.',
  }),
  epochBudgetMs: z.number().positive().default(250).meta({
    reference: 'tolaria §2.1, §2.3',
    description: 'Wall-time budget of a whole epoch, training included, ms; exceeding it fails the epoch (`epoch_budget`).',
  }),
  hookBudgetMs: z.number().positive().default(50).meta({
    reference: 'tolaria §2.1, §2.3',
    description: 'Budget of the Tamiyo + Kasmina hook of an epoch’s last step, ms (`hook_budget`).',
  }),
  tamiyoTimeoutMs: z.number().int().positive().default(2_000).meta({
    reference: 'tolaria §2.1 (`tamiyo_timeout_s`), §2.3',
    description: 'Deadline of each per-step Tamiyo call and each Kasmina apply, ms.',
  }),
  // The reference uses `var/tolaria` under the working directory (decision 0040).
  checkpointDir: z.string().min(1).optional().meta({
    reference: 'tolaria §3.11.4',
    unset: '`<run.dir>/tolaria`',
    description: 'Folder of epoch checkpoints and the rollback WAL.',
  }),
  breaker: breakerSchema,
  speed: speedSchema,
  lr: lrSchema,
  optimizerRebuild: optimizerRebuildSchema,
  rollback: rollbackSchema,
  emergency: emergencySchema,
  aggregation: aggregationSchema,
  profiler: profilerSchema,
});

/** Validated Tolaria settings (every default applied). */
export type TolariaConfig = z.output<typeof tolariaConfigSchema>;
/** What a user may write in the `tolaria` config section (`maxEpochs` required). */
export type TolariaConfigInput = z.input<typeof tolariaConfigSchema>;
