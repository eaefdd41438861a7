import { z } from 'zod';

/**
 * Blend modes Tamiyo may annotate on SEED commands for Kasmina (P8). These are the annotation
 * values of the `blend_mode` key, not a Leyline enum (Leyline has none for blending).
 */
export const TAMIYO_BLEND_MODES = ['CONVEX', 'RESIDUAL', 'CHANNEL', 'CONFIDENCE'] as const;

/** One of {@link TAMIYO_BLEND_MODES}. */
export type TamiyoBlendMode = (typeof TAMIYO_BLEND_MODES)[number];

/** The policy's device and compile choice, and where its persisted state lives (reference tamiyo §2.1, §2.4). */
const policySchema = z
  .strictObject({
    /**
     * Device for the policy built by the service: `"cpu"`, `"cuda"`, `"cuda:0"`, … Unset: an
     * accelerator when one is available, else the CPU.
     * Env `TAMIYO_DEVICE`. Default: unset. Reference tamiyo §2.1.
     */
    device: z.string().trim().min(1).optional(),
    /**
     * Forces the compiled (graph-captured) inference path on or off. Unset: on exactly when the
     * chosen device is an accelerator.
     * Env `TAMIYO_ENABLE_COMPILE`. Default: unset. Reference tamiyo §2.1, §14 P2.
     */
    enableCompile: z.boolean().optional(),
    /**
     * Folder of the graph builder's categorical registries (layer type, activation type,
     * optimizer family, hazard class). Unset: `<run.dir>/tamiyo` (the reference uses
     * `var/tamiyo` under the working directory; decision 0040). No env. Reference tamiyo §2.4, §6.2.
     */
    registryDir: z.string().min(1).optional(),
    /**
     * File of the graph builder's persisted feature normaliser. Unset: `gnn_norms.json` in
     * {@link registryDir} (reference: `var/tamiyo/gnn_norms.json`). No env. Reference tamiyo §2.4, §6.3.
     */
    normaliserPath: z.string().min(1).optional(),
  })
  .prefault({});

/** Circuit breakers around policy inference and Urza metadata (reference tamiyo §9.1). */
const breakerSchema = z
  .strictObject({
    /**
     * Consecutive failures (timeouts) that open a breaker; each success takes one off the count.
     * Applies to both the `inference` and the `metadata` breaker. Default 3. No env. Reference tamiyo §9.1.
     */
    failureThreshold: z.number().int().positive().default(3),
    /**
     * How long an open breaker stays open before the next success may close it, in ms.
     * Default 100. No env. Reference tamiyo §9.1.
     */
    cooldownMs: z.number().int().nonnegative().default(100),
  })
  .prefault({});

/** Risk-engine thresholds (`RiskConfig`, reference tamiyo §2.3, rules in §9.3). */
const riskSchema = z
  .strictObject({
    /**
     * Loss increase per step that counts as a spike (rule F1, PAUSE); half of it is a warning
     * (F2), three quarters the volatility limit (I1), half the optimizer-hint limit (J).
     * Unit: loss delta. Default 0.15. No env. Reference tamiyo §2.3.
     */
    maxLossSpike: z.number().positive().default(0.15),
    /**
     * Start in conservative mode (every decision becomes PAUSE until the breakers are closed
     * again, §9.2–§9.3 rule M). The reference declares `TAMIYO_CONSERVATIVE_MODE` but never
     * reads it; this port wires it here (decision 0040).
     * Env `TAMIYO_CONSERVATIVE_MODE`. Default false. Reference tamiyo §2.3, §17 item 2.
     */
    conservativeMode: z.boolean().default(false),
    /** Step latency above which the decision is PAUSE (rule G2), in ms. Default 120. No env. Reference tamiyo §2.3. */
    stepLatencyHighMs: z.number().positive().default(120),
    /** Kasmina apply latency above which a SEED becomes OPTIMIZER (rule G3), in ms. Default 30. No env. Reference tamiyo §2.3. */
    kasminaApplySlowMs: z.number().positive().default(30),
    /** Kasmina finalize latency above which a SEED becomes OPTIMIZER (rule G4), in ms. Default 30. No env. Reference tamiyo §2.3. */
    kasminaFinalizeSlowMs: z.number().positive().default(30),
    /** Hook latency above which the decision is PAUSE (rule G1), in ms. Default 50. No env. Reference tamiyo §2.3. */
    hookBudgetMs: z.number().positive().default(50),
  })
  .prefault({});

/** Policy-update checks (P3, reference tamiyo §13). */
const policyUpdatesSchema = z
  .strictObject({
    /**
     * Check the version and the age of every policy update before loading it; failures are
     * rejected as `version_mismatch` / `stale_update`.
     * Env `TAMIYO_VERIFY_UPDATES`. Default true. Reference tamiyo §2.1, §13, §14 P3.
     */
    verify: z.boolean().default(true),
    /**
     * Maximum age of a policy update, in seconds; 0 disables the age check. Only applies when
     * {@link verify} is on.
     * Env `TAMIYO_UPDATE_FRESHNESS_SEC`. Default 0. Reference tamiyo §2.1, §13.
     */
    maxAgeSec: z.number().int().nonnegative().default(0),
  })
  .prefault({});

/** Field-report store, observation windows and publish retries (P9, reference tamiyo §12). */
const fieldReportsSchema = z
  .strictObject({
    /**
     * Write-ahead log of field reports; the retry index and window sidecars live next to it.
     * Unset: `<run.dir>/tamiyo/field_reports.log` (the reference uses
     * `var/tamiyo/field_reports.log` under the working directory; decision 0040). No env.
     * Reference tamiyo §2.2, §12.2, §12.6.
     */
    walPath: z.string().min(1).optional(),
    /**
     * Reports older than this are pruned from the WAL, in hours.
     * Env `TAMIYO_FIELD_REPORT_RETENTION_HOURS`. Default 24. Reference tamiyo §2.1, §12.2.
     */
    retentionHours: z.number().int().positive().default(24),
    /**
     * Publish failures tolerated per report; the next failure drops it from memory.
     * Env `TAMIYO_FIELD_REPORT_MAX_RETRIES`. Default 3. Reference tamiyo §2.1, §12.5.
     */
    maxRetries: z.number().int().nonnegative().default(3),
    /**
     * Length N of an observation window: the report of the command issued at step k aggregates
     * steps k…k+N−1. Despite the name (kept from the wire field `observation_window_epochs`),
     * windows count decisions, not epochs, and N = 1 still yields a synthesised report besides
     * the per-step one (reference §17 item 11). Must be ≥ 1 (the reference clamps; we reject).
     * Env `TAMIYO_FR_OBS_WINDOW_EPOCHS`. Default 3. Reference tamiyo §2.1, §12.3, §14 P9.
     */
    observationWindowEpochs: z.number().int().min(1).default(3),
    /**
     * Base of the publish-retry backoff, in ms; the delay after the n-th failure is
     * `floor(base · multiplier^max(1, n))`. 0 disables backoff (retry on the next publish).
     * Env `TAMIYO_FR_RETRY_BACKOFF_MS`. Default 1000. Reference tamiyo §2.1, §12.5, §14 P9.
     */
    retryBackoffMs: z.number().int().nonnegative().default(1000),
    /**
     * Growth factor of the publish-retry backoff; at least 1.
     * Env `TAMIYO_FR_RETRY_BACKOFF_MULT`. Default 2.0. Reference tamiyo §2.1, §12.5, §14 P9.
     */
    retryBackoffMultiplier: z.number().min(1).default(2),
  })
  .prefault({});

/**
 * Blend-mode annotations on SEED commands for Kasmina (P8, reference tamiyo §14 P8,
 * kasmina §3.3 and §9.3). Read once at start in this port; the reference re-reads the
 * environment on every decision.
 */
const blendAnnotationsSchema = z
  .strictObject({
    /**
     * Annotate SEED commands built by the policy with `blend_mode` and its parameters.
     * Env `TAMIYO_ENABLE_BLEND_MODE_ANN`. Default false. Reference tamiyo §2.1, §14 P8.
     */
    enabled: z.boolean().default(false),
    /**
     * Mode to annotate; env values are case-insensitive. The reference maps an unknown mode to
     * CONVEX silently; this port rejects it (decision 0040). A mode other than CONVEX is
     * annotated with `blend_mode_source = override`.
     * Env `TAMIYO_BLEND_MODE_DEFAULT`. Default `CONVEX`. Reference tamiyo §2.1, §14 P8.
     */
    mode: z.enum(TAMIYO_BLEND_MODES).default('CONVEX'),
    /**
     * `gate_k` sent with CONFIDENCE: steepness of Kasmina's confidence gate
     * `sigmoid(k · (margin − τ))`. Note: 1.0 is the reference's default although it is not a
     * pass-through, and Kasmina's own default is 4.0 (kasmina §19 item 19).
     * Env `TAMIYO_BLEND_CONF_GATE_K`. Default 1.0. Reference tamiyo §2.1, §14 P8.
     */
    confidenceGateK: z.number().nonnegative().default(1),
    /**
     * `gate_tau` sent with CONFIDENCE: margin offset of the confidence gate (Kasmina's own
     * default is 0.2).
     * Env `TAMIYO_BLEND_CONF_GATE_TAU`. Default 1.0. Reference tamiyo §2.1, §14 P8.
     */
    confidenceGateTau: z.number().nonnegative().default(1),
    /**
     * `alpha_lo` sent with CONFIDENCE: lower clamp of the effective blend weight, in [0, 1] and
     * ≤ {@link alphaHi} (the reference clamps; we reject).
     * Env `TAMIYO_BLEND_ALPHA_LO`. Default 0.0. Reference tamiyo §2.1, §14 P8.
     */
    alphaLo: z.number().min(0).max(1).default(0),
    /**
     * `alpha_hi` sent with CONFIDENCE: upper clamp of the effective blend weight, in [0, 1].
     * Env `TAMIYO_BLEND_ALPHA_HI`. Default 1.0. Reference tamiyo §2.1, §14 P8.
     */
    alphaHi: z.number().min(0).max(1).default(1),
    /**
     * Largest channel count C for which CHANNEL emits `alpha_vec` (C values) and
     * `alpha_vec_len`; larger counts, or a JSON text over 1024 characters, omit the vector.
     * At least 1.
     * Env `TAMIYO_BLEND_ALPHA_VEC_MAX`. Default 64. Reference tamiyo §2.1, §14 P8.
     */
    alphaVecMax: z.number().int().min(1).default(64),
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
 * Signing uses the kernel's `security.leylineSecret` (`ESPER_LEYLINE_SECRET`); it is not a
 * Tamiyo option.
 */
export const tamiyoConfigSchema = z.strictObject({
  /**
   * Budget for policy inference in each `evaluateStep`, in ms; 0 disables the deadline. A
   * timeout yields a PAUSE command, a `timeout_inference` event, an inference-breaker failure
   * and conservative mode. The reference's constructor sentinel (15.0 = "use the env") is gone:
   * the usual precedence applies (factory options < config < env; decision 0040). The 5 ms
   * default is below the CPU inference time of the reference model (§17 item 27): size it from
   * measured latency.
   * Env `TAMIYO_STEP_TIMEOUT_MS`. Default 5. Reference tamiyo §2.1, §2.2, §14 P1.
   */
  stepTimeoutMs: z.number().nonnegative().default(5),
  /**
   * Budget for each Urza blueprint-metadata lookup (pre-warm and resolve), in ms; 0 disables.
   * A timeout skips enrichment and counts a metadata-breaker failure (`timeout_urza`).
   * Default 10. No env. Reference tamiyo §2.2, §14 P1.
   */
  metadataTimeoutMs: z.number().nonnegative().default(10),
  /**
   * Age after which a cached blueprint record is fetched again on the resolve path, in ms.
   * Default 300 000 (5 min). No env. Reference tamiyo §2.2, §8.1.
   */
  metadataCacheTtlMs: z.number().int().nonnegative().default(300_000),
  /**
   * Run the observability-only BSDS signature check, which only counts integrity failures and
   * never changes a decision. Shares its name with Urabrask's signing switch.
   * Env `URABRASK_SIGNING_ENABLED`. Default false. Reference tamiyo §2.1, §9.3 (step E).
   */
  verifyBsdsSignatures: z.boolean().default(false),
  /**
   * @deprecated Declared by the reference (default `./var/tamiyo/policies`) and never read by
   * Tamiyo (oona §5 item 10). Accepted so existing environments keep validating; it has no
   * effect, and the service warns when it is set (decision 0040).
   * Env `TAMIYO_POLICY_DIR`. Default: unset. Reference tamiyo §2.1.
   */
  policyDir: z.string().optional(),
  /** Policy device, compile switch and persisted-state paths. */
  policy: policySchema,
  /** Inference and metadata circuit breakers. */
  breaker: breakerSchema,
  /** Risk-engine thresholds and the initial conservative mode. */
  risk: riskSchema,
  /** Policy-update verification (P3). */
  policyUpdates: policyUpdatesSchema,
  /** Field-report WAL, observation windows and publish retries (P9). */
  fieldReports: fieldReportsSchema,
  /** Blend-mode annotations for Kasmina (P8). */
  blendAnnotations: blendAnnotationsSchema,
});

/** Validated Tamiyo settings (every default applied). */
export type TamiyoConfig = z.output<typeof tamiyoConfigSchema>;
/** What a user may write in the `tamiyo` config section (all optional). */
export type TamiyoConfigInput = z.input<typeof tamiyoConfigSchema>;

/**
 * The reference's environment variables for Tamiyo, by name → option path in the `tamiyo`
 * section. `ESPER_LEYLINE_SECRET` is the kernel's (`security.leylineSecret`).
 */
export const TAMIYO_ENV: Readonly<Record<string, string>> = Object.freeze({
  TAMIYO_STEP_TIMEOUT_MS: 'stepTimeoutMs',
  TAMIYO_DEVICE: 'policy.device',
  TAMIYO_ENABLE_COMPILE: 'policy.enableCompile',
  TAMIYO_VERIFY_UPDATES: 'policyUpdates.verify',
  TAMIYO_UPDATE_FRESHNESS_SEC: 'policyUpdates.maxAgeSec',
  TAMIYO_FIELD_REPORT_RETENTION_HOURS: 'fieldReports.retentionHours',
  TAMIYO_FIELD_REPORT_MAX_RETRIES: 'fieldReports.maxRetries',
  TAMIYO_FR_OBS_WINDOW_EPOCHS: 'fieldReports.observationWindowEpochs',
  TAMIYO_FR_RETRY_BACKOFF_MS: 'fieldReports.retryBackoffMs',
  TAMIYO_FR_RETRY_BACKOFF_MULT: 'fieldReports.retryBackoffMultiplier',
  TAMIYO_ENABLE_BLEND_MODE_ANN: 'blendAnnotations.enabled',
  TAMIYO_BLEND_MODE_DEFAULT: 'blendAnnotations.mode',
  TAMIYO_BLEND_CONF_GATE_K: 'blendAnnotations.confidenceGateK',
  TAMIYO_BLEND_CONF_GATE_TAU: 'blendAnnotations.confidenceGateTau',
  TAMIYO_BLEND_ALPHA_LO: 'blendAnnotations.alphaLo',
  TAMIYO_BLEND_ALPHA_HI: 'blendAnnotations.alphaHi',
  TAMIYO_BLEND_ALPHA_VEC_MAX: 'blendAnnotations.alphaVecMax',
  URABRASK_SIGNING_ENABLED: 'verifyBsdsSignatures',
  TAMIYO_CONSERVATIVE_MODE: 'risk.conservativeMode',
  TAMIYO_POLICY_DIR: 'policyDir',
});

/** Option paths of the `tamiyo` section that hold secrets: none (the signing key is the kernel's). */
export const TAMIYO_SECRETS: readonly string[] = Object.freeze([]);
