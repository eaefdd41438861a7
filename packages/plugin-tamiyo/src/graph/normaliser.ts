/**
 * The graph builder's feature normaliser (reference tamiyo §6.3): per named feature an
 * exponentially weighted mean and variance (α = 0.1), updated by every observation and applied
 * with the updated statistics. Statistics live in two `Float64Array`s indexed by a fixed slot
 * per feature name, so normalising allocates nothing. Persistence (`toJSON`/`load`) is the
 * caller's, off the decision path.
 */

/** EWMA weight of a new observation. */
export const NORMALISER_ALPHA = 0.1;
const MIN_VAR = 1e-6;

/** Priors `[mean, std]` of every feature the builder normalises (tamiyo §6.3), in slot order. */
export const NORMALISER_PRIORS: readonly (readonly [name: NormalisedFeature, mean: number, std: number])[] = Object.freeze([
  ['loss', 0.8, 0.3],
  ['validation_loss', 0.8, 0.3],
  ['training_loss', 0.8, 0.3],
  ['gradient_norm', 1.0, 0.5],
  ['samples_per_s', 4500, 500],
  ['hook_latency_ms', 12, 6],
  ['seed_learning_rate', 0.01, 0.005],
  ['seed_risk', 0.4, 0.2],
  ['seed_age', 10, 4],
  ['epoch_progress', 0.5, 0.25],
  ['layer_latency_ms', 6, 2],
  ['layer_parameter_count', 1024, 512],
  ['layer_weight_norm', 1.0, 0.4],
  ['layer_gradient_norm', 0.8, 0.4],
  ['activation_saturation', 0.5, 0.2],
  ['activation_gradient_flow', 0.8, 0.2],
  ['activation_cost', 128, 64],
  ['activation_nonlinearity', 0.5, 0.2],
  ['parameter_min', 0, 0.5],
  ['parameter_max', 1, 0.5],
  ['parameter_span', 0.5, 0.4],
  ['parameter_default', 0.5, 0.4],
  ['blueprint_param_log', Math.log(2049), 1.0],
  ['blueprint_candidate_score', 0.5, 0.25],
  ['global_epoch', 10, 5],
  ['global_step', 100, 40],
]);

/** Slot of each normalised feature (index into {@link NORMALISER_PRIORS}). */
export const N = Object.freeze(Object.fromEntries(NORMALISER_PRIORS.map(([name], i) => [name, i]))) as Readonly<Record<NormalisedFeature, number>>;

/** Name of a normalised feature. */
export type NormalisedFeature =
  | 'loss'
  | 'validation_loss'
  | 'training_loss'
  | 'gradient_norm'
  | 'samples_per_s'
  | 'hook_latency_ms'
  | 'seed_learning_rate'
  | 'seed_risk'
  | 'seed_age'
  | 'epoch_progress'
  | 'layer_latency_ms'
  | 'layer_parameter_count'
  | 'layer_weight_norm'
  | 'layer_gradient_norm'
  | 'activation_saturation'
  | 'activation_gradient_flow'
  | 'activation_cost'
  | 'activation_nonlinearity'
  | 'parameter_min'
  | 'parameter_max'
  | 'parameter_span'
  | 'parameter_default'
  | 'blueprint_param_log'
  | 'blueprint_candidate_score'
  | 'global_epoch'
  | 'global_step';

const SLOT_BY_NAME: ReadonlyMap<string, number> = new Map(NORMALISER_PRIORS.map(([name], i) => [name, i]));

/** Persisted form: `{ name: { mean, var } }` (an entry with `std` instead of `var` is read as std²). */
export type NormaliserState = Record<string, { mean: number; var?: number; std?: number }>;

/** The stateful normaliser. */
export class FeatureNormaliser {
  readonly mean: Float64Array;
  readonly variance: Float64Array;
  /** Number of updates since the last {@link markSaved}. */
  private updates = 0;

  constructor(state?: NormaliserState) {
    const n = NORMALISER_PRIORS.length;
    this.mean = new Float64Array(n);
    this.variance = new Float64Array(n);
    this.reset();
    if (state !== undefined) this.load(state);
  }

  /** Back to the priors. */
  reset(): void {
    NORMALISER_PRIORS.forEach(([, mean, std], i) => {
      this.mean[i] = mean;
      this.variance[i] = std * std;
    });
  }

  /** Overrides the priors with persisted entries; unknown names and non-finite values are ignored. */
  load(state: NormaliserState): void {
    for (const [name, entry] of Object.entries(state)) {
      const slot = SLOT_BY_NAME.get(name);
      if (slot === undefined || entry === null || typeof entry !== 'object') continue;
      const v = typeof entry.var === 'number' ? entry.var : typeof entry.std === 'number' ? entry.std * entry.std : undefined;
      if (Number.isFinite(entry.mean)) this.mean[slot] = entry.mean;
      if (v !== undefined && Number.isFinite(v)) this.variance[slot] = Math.max(v, MIN_VAR);
    }
  }

  /**
   * Updates slot's statistics with `x`, then returns `(x − mean) / √var` with the updated ones
   * (tamiyo §6.3 step 2–3). Non-finite `x` counts as 0.
   */
  normalize(slot: number, x: number): number {
    const v = Number.isFinite(x) ? x : 0;
    const d = v - (this.mean[slot] as number);
    const mean = (this.mean[slot] as number) + NORMALISER_ALPHA * d;
    const variance = Math.max((1 - NORMALISER_ALPHA) * ((this.variance[slot] as number) + NORMALISER_ALPHA * d * d), MIN_VAR);
    this.mean[slot] = mean;
    this.variance[slot] = variance;
    this.updates++;
    return (v - mean) / Math.sqrt(variance);
  }

  /** Whether statistics changed since the last {@link markSaved}. */
  get dirty(): boolean {
    return this.updates > 0;
  }

  /** Records that the current state was persisted. */
  markSaved(): void {
    this.updates = 0;
  }

  /** The state as persisted (`gnn_norms.json`). */
  toJSON(): NormaliserState {
    const out: NormaliserState = {};
    NORMALISER_PRIORS.forEach(([name], i) => {
      out[name] = { mean: this.mean[i] as number, var: this.variance[i] as number };
    });
    return out;
  }
}
