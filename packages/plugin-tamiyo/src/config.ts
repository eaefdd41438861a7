import { z } from 'zod';

// Env names, references and one-line meanings live in each option's `.meta()`; the README's
// config table is generated from them (`pnpm gen:docs`). Comments here say only why.

/**
 * Blend modes Tamiyo may annotate on SEED commands for Kasmina (P8). These are the annotation
 * values of the `blend_mode` key, not a Leyline enum (Leyline has none for blending).
 */
export const TAMIYO_BLEND_MODES = ['CONVEX', 'RESIDUAL', 'CHANNEL', 'CONFIDENCE'] as const;

/** One of {@link TAMIYO_BLEND_MODES}. */
export type TamiyoBlendMode = (typeof TAMIYO_BLEND_MODES)[number];

const policySchema = z
  .strictObject({
    device: z.string().trim().min(1).optional().meta({
      env: 'TAMIYO_DEVICE',
      reference: 'tamiyo §2.1',
      unset: 'accelerator if available, else `cpu`',
      description: 'Policy device: `cpu`, `cuda`, `cuda:N`.',
    }),
    enableCompile: z.boolean().optional().meta({
      env: 'TAMIYO_ENABLE_COMPILE',
      reference: 'tamiyo §2.1, §14 P2',
      unset: 'on iff the device is an accelerator',
      description: 'Compiled (graph-captured) inference.',
    }),
    // Working-directory paths of the reference move under the run directory (decision 0040).
    registryDir: z.string().min(1).optional().meta({
      reference: 'tamiyo §2.4, §6.2',
      unset: '`<run.dir>/tamiyo`',
      description: 'Graph-builder registries (layer, activation, optimizer, hazard).',
    }),
    normaliserPath: z.string().min(1).optional().meta({
      reference: 'tamiyo §2.4, §6.3',
      unset: '`<registryDir>/gnn_norms.json`',
      description: 'Persisted feature normaliser of the graph builder.',
    }),
  })
  .prefault({});

const breakerSchema = z
  .strictObject({
    failureThreshold: z.number().int().positive().default(3).meta({
      reference: 'tamiyo §9.1',
      description: 'Consecutive timeouts that open the inference or metadata breaker; each success takes one off.',
    }),
    cooldownMs: z.number().int().nonnegative().default(100).meta({
      reference: 'tamiyo §9.1',
      description: 'Open time of a breaker before a success may close it, ms.',
    }),
  })
  .prefault({});

const riskSchema = z
  .strictObject({
    maxLossSpike: z.number().positive().default(0.15).meta({
      reference: 'tamiyo §2.3, §9.3',
      description: 'Loss increase per step that is a spike (F1, PAUSE); ½ of it warns (F2), ¾ is the volatility limit (I1).',
    }),
    // The reference declares TAMIYO_CONSERVATIVE_MODE and never reads it; wired here (decision 0040).
    conservativeMode: z.boolean().default(false).meta({
      env: 'TAMIYO_CONSERVATIVE_MODE',
      reference: 'tamiyo §2.3, §17 item 2',
      description: 'Start in conservative mode: every decision is PAUSE until `conservativeExitAfter` stable decisions in a row (rule M).',
    }),
    // The reference leaves conservative mode in the step that entered it (§17 item 2); decision 0059.
    conservativeExitAfter: z.number().int().min(1).default(3).meta({
      reference: 'tamiyo §9.2, §9.3 rule M, §17 item 2',
      description: 'Stable decisions in a row (no timeout, breakers closed, nothing re-entering the mode) that end conservative mode; the decision that enters it never counts.',
    }),
    stepLatencyHighMs: z.number().positive().default(120).meta({
      reference: 'tamiyo §2.3',
      description: 'Step latency above which the decision is PAUSE (G2), ms.',
    }),
    kasminaApplySlowMs: z.number().positive().default(30).meta({
      reference: 'tamiyo §2.3',
      description: 'Kasmina apply latency above which SEED becomes OPTIMIZER (G3), ms.',
    }),
    kasminaFinalizeSlowMs: z.number().positive().default(30).meta({
      reference: 'tamiyo §2.3',
      description: 'Kasmina finalize latency above which SEED becomes OPTIMIZER (G4), ms.',
    }),
    hookBudgetMs: z.number().positive().default(50).meta({
      reference: 'tamiyo §2.3',
      description: 'Hook latency above which the decision is PAUSE (G1), ms.',
    }),
  })
  .prefault({});

const policyUpdatesSchema = z
  .strictObject({
    verify: z.boolean().default(true).meta({
      env: 'TAMIYO_VERIFY_UPDATES',
      reference: 'tamiyo §2.1, §13, §14 P3',
      description: 'Check version and age of each policy update (`version_mismatch`, `stale_update`).',
    }),
    maxAgeSec: z.number().int().nonnegative().default(0).meta({
      env: 'TAMIYO_UPDATE_FRESHNESS_SEC',
      reference: 'tamiyo §2.1, §13',
      description: 'Maximum age of a policy update, s; 0 disables the age check.',
    }),
    // Delivery (decision 0064): the reference's Weatherlight loop around consume_policy_updates.
    consume: z.boolean().optional().meta({
      env: 'TAMIYO_CONSUME_POLICY_UPDATES',
      reference: 'tamiyo §1, §13',
      unset: 'on when the run has an Oona and the controller has a policy (`gnn`)',
      description: 'Read `PolicyUpdate`s from the policy stream and ingest each into the controller (and the service’s run controllers).',
    }),
    stream: z.string().min(1).optional().meta({
      reference: 'tamiyo §1',
      unset: 'the Oona policy stream (`oona.policyStream`)',
      description: 'Stream the policy updates are read from.',
    }),
    batchSize: z.number().int().positive().default(10).meta({
      reference: 'tamiyo §1 (`count`)',
      description: 'Policy updates read per batch.',
    }),
    blockMs: z.number().int().positive().default(1000).meta({
      reference: 'tamiyo §1 (`block_ms`)',
      description: 'How long one read of the policy stream waits for an update, ms (stopping the plugin ends the wait at once).',
    }),
  })
  .prefault({});

const fieldReportsSchema = z
  .strictObject({
    walPath: z.string().min(1).optional().meta({
      reference: 'tamiyo §2.2, §12.2',
      unset: '`<run.dir>/tamiyo/field_reports.log`',
      description: 'Field-report write-ahead log; the retry index and window sidecars live next to it.',
    }),
    retentionHours: z.number().int().positive().default(24).meta({
      env: 'TAMIYO_FIELD_REPORT_RETENTION_HOURS',
      reference: 'tamiyo §2.1, §12.2',
      description: 'Reports older than this are pruned from the WAL, h.',
    }),
    maxRetries: z.number().int().nonnegative().default(3).meta({
      env: 'TAMIYO_FIELD_REPORT_MAX_RETRIES',
      reference: 'tamiyo §2.1, §12.5',
      description: 'Publish failures tolerated per report before it is dropped.',
    }),
    // Named after the wire field `observation_window_epochs`, but windows count decisions, and
    // N = 1 still yields a synthesised report besides the per-step one (reference §17 item 11).
    observationWindowEpochs: z.number().int().min(1).default(3).meta({
      env: 'TAMIYO_FR_OBS_WINDOW_EPOCHS',
      reference: 'tamiyo §2.1, §12.3, §14 P9',
      description: 'Observation window N: the report of step k aggregates decisions k…k+N−1.',
    }),
    retryBackoffMs: z.number().int().nonnegative().default(1000).meta({
      env: 'TAMIYO_FR_RETRY_BACKOFF_MS',
      reference: 'tamiyo §2.1, §12.5, §14 P9',
      description: 'Publish-retry backoff base, ms: delay `floor(base · mult^max(1, n))`; 0 retries on the next publish.',
    }),
    retryBackoffMultiplier: z.number().min(1).default(2).meta({
      env: 'TAMIYO_FR_RETRY_BACKOFF_MULT',
      reference: 'tamiyo §2.1, §12.5, §14 P9',
      description: 'Growth factor of the publish-retry backoff.',
    }),
  })
  .prefault({});

// Read once at start in this port; the reference re-reads the environment on every decision.
const blendAnnotationsSchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      env: 'TAMIYO_ENABLE_BLEND_MODE_ANN',
      reference: 'tamiyo §2.1, §14 P8',
      description: 'Annotate SEED commands with `blend_mode` and its parameters.',
    }),
    // The reference maps an unknown mode to CONVEX silently; rejected here (decision 0040).
    mode: z.enum(TAMIYO_BLEND_MODES).default('CONVEX').meta({
      env: 'TAMIYO_BLEND_MODE_DEFAULT',
      reference: 'tamiyo §2.1, §14 P8',
      description: 'Mode to annotate (env any case); not CONVEX adds `blend_mode_source = override`.',
    }),
    // 1.0 is the reference's default although it is not a pass-through; Kasmina's own is 4.0
    // (kasmina §19 item 19).
    confidenceGateK: z.number().nonnegative().default(1).meta({
      env: 'TAMIYO_BLEND_CONF_GATE_K',
      reference: 'tamiyo §2.1, §14 P8',
      description: '`gate_k` sent with CONFIDENCE: steepness of `sigmoid(k · (margin − τ))`.',
    }),
    confidenceGateTau: z.number().nonnegative().default(1).meta({
      env: 'TAMIYO_BLEND_CONF_GATE_TAU',
      reference: 'tamiyo §2.1, §14 P8',
      description: '`gate_tau` sent with CONFIDENCE: margin offset τ (Kasmina’s own default is 0.2).',
    }),
    alphaLo: z.number().min(0).max(1).default(0).meta({
      env: 'TAMIYO_BLEND_ALPHA_LO',
      reference: 'tamiyo §2.1, §14 P8',
      description: '`alpha_lo` sent with CONFIDENCE; must be ≤ `alphaHi`.',
    }),
    alphaHi: z.number().min(0).max(1).default(1).meta({
      env: 'TAMIYO_BLEND_ALPHA_HI',
      reference: 'tamiyo §2.1, §14 P8',
      description: '`alpha_hi` sent with CONFIDENCE.',
    }),
    alphaVecMax: z.number().int().min(1).default(64).meta({
      env: 'TAMIYO_BLEND_ALPHA_VEC_MAX',
      reference: 'tamiyo §2.1, §14 P8',
      description: 'Largest channel count for which CHANNEL sends `alpha_vec` (and JSON up to 1024 characters).',
    }),
  })
  .refine((b) => b.alphaLo <= b.alphaHi, {
    message: 'alphaLo must be <= alphaHi (TAMIYO_BLEND_ALPHA_LO <= TAMIYO_BLEND_ALPHA_HI)',
    path: ['alphaLo'],
  })
  .prefault({});

/**
 * Settings of Tamiyo, the strategic controller: inference budgets, policy device, breakers,
 * risk thresholds, policy-update checks, field reports (P9) and blend annotations (P8).
 * Config section `tamiyo`; every option has a default. Reference: tamiyo §2 and §14.
 *
 * Signing uses the kernel's `security.leylineSecret` (`ESPER_LEYLINE_SECRET`), so Tamiyo has no
 * secret option.
 */
export const tamiyoConfigSchema = z.strictObject({
  // No constructor sentinel (the reference's 15.0 meant "use the env"): the usual precedence
  // applies (decision 0040). The 5 ms default is below the reference model's CPU inference time
  // (§17 item 27): size it from measured latency.
  stepTimeoutMs: z.number().nonnegative().default(5).meta({
    env: 'TAMIYO_STEP_TIMEOUT_MS',
    reference: 'tamiyo §2.1, §2.2, §14 P1',
    description: 'Inference budget per `evaluateStep`, ms; 0 disables. A timeout yields PAUSE, `timeout_inference` and conservative mode.',
  }),
  metadataTimeoutMs: z.number().nonnegative().default(10).meta({
    reference: 'tamiyo §2.2, §14 P1',
    description: 'Budget of each Urza metadata lookup, ms; 0 disables. A timeout skips enrichment (`timeout_urza`).',
  }),
  metadataCacheTtlMs: z.number().int().nonnegative().default(300_000).meta({
    reference: 'tamiyo §2.2, §8.1',
    description: 'Age after which a cached blueprint record is fetched again, ms.',
  }),
  verifyBsdsSignatures: z.boolean().default(false).meta({
    env: 'URABRASK_SIGNING_ENABLED',
    reference: 'tamiyo §2.1, §9.3 step E',
    description: 'Observability-only BSDS signature check: counts integrity failures, never changes a decision.',
  }),
  // Declared by the reference and never read (oona §5 item 10); kept so existing environments
  // validate, and the service warns when it is set (decision 0040).
  /** @deprecated Has no effect. */
  policyDir: z.string().optional().meta({
    env: 'TAMIYO_POLICY_DIR',
    reference: 'tamiyo §2.1',
    deprecated: true,
    description: 'Unused, as in the reference; the service warns when it is set.',
  }),
  policy: policySchema,
  breaker: breakerSchema,
  risk: riskSchema,
  policyUpdates: policyUpdatesSchema,
  fieldReports: fieldReportsSchema,
  blendAnnotations: blendAnnotationsSchema,
});

/** Validated Tamiyo settings (every default applied). */
export type TamiyoConfig = z.output<typeof tamiyoConfigSchema>;
/** What a user may write in the `tamiyo` config section (all optional). */
export type TamiyoConfigInput = z.input<typeof tamiyoConfigSchema>;
