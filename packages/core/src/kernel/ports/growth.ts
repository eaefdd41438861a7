/**
 * How a model grows: the contract between the trainer (Tolaria), which owns the host model and
 * its training sessions, and the seed executor (Kasmina), which owns the seeds. See
 * `docs/decisions/0051-how-a-model-grows.md`.
 *
 * Core does not depend on the compute package, so graphs and tensors are typed through
 * {@link ComputeTypes}, which `@esper/onnx` fills in by declaration merging: wherever
 * `@esper/onnx` is imported, {@link ComputeGraph} is its `Graph` and {@link ComputeTensor} its
 * `TensorData`.
 */

/**
 * Filled in by the compute package through declaration merging
 * (`declare module '@esper/core' { interface ComputeTypes { graph: Graph; tensor: TensorData } }`).
 * Empty in core alone, where graphs and tensors are `unknown`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- augmented by @esper/onnx
export interface ComputeTypes {}

/** A forward graph of the compute package (`@esper/onnx`'s `Graph`), `unknown` without it. */
export type ComputeGraph = ComputeTypes extends { graph: infer G } ? G : unknown;

/** A tensor value of the compute package (`@esper/onnx`'s `TensorData`), `unknown` without it. */
export type ComputeTensor = ComputeTypes extends { tensor: infer T } ? T : unknown;

/**
 * A place in the host where a seed may attach: a `[batch, features]` activation of the host's
 * forward graph. The slot id is also the id of the seed that lives there (one seed context per
 * slot, cycling DORMANT → … → DORMANT as the reference's lifecycle does).
 */
export interface SeedSlot {
  /** Slot id, reported as `SeedState.seed_id` (e.g. `hidden1`). */
  readonly id: string;
  /** Name of the host graph tensor the seed reads and whose consumers read the blend. */
  readonly tensor: string;
  /** Size of the slot tensor's last axis. */
  readonly features: number;
  /** Depth of the slot in the host (1 = first hidden layer), reported as `SeedState.layer_depth`. */
  readonly depth: number;
}

/**
 * A host model as the trainer hands it to the executor: a forward graph whose data inputs are
 * the batch, whose `loss` output is a scalar and whose `metrics` outputs are returned by every
 * step, plus the slots it declares. Its parameter values are the host's initial values.
 */
export interface HostModel {
  readonly graph: ComputeGraph;
  readonly slots: readonly SeedSlot[];
  /** Name of the scalar loss output. */
  readonly loss: string;
  /** Other outputs the trainer reads (logits, accuracy …). */
  readonly metrics: readonly string[];
}

/**
 * The forward graph with every grafted seed spliced in at its slot and blended with the host
 * tensor. Its inputs are the host's data inputs plus {@link ComposedModel.controlInputs}; its
 * outputs are the host's. Parameters keep their names across compositions, so a trainer carries
 * the values and optimizer state of every parameter that survives a change of topology.
 */
export interface ComposedModel {
  readonly graph: ComputeGraph;
  /**
   * Changes exactly when a seed is grafted or removed, or a seed's parameters are frozen or
   * thawed ({@link frozenParameters}); equal versions mean equal graphs and equal trainable sets.
   */
  readonly topologyVersion: number;
  /** Graph inputs the executor feeds at every step ({@link SeedExecutor.controlFeeds}): α, blend and gradient gates. */
  readonly controlInputs: readonly string[];
  /** Parameter names owned by each grafted seed, by seed id (host parameters are the rest). */
  readonly seedParameters: Readonly<Record<string, readonly string[]>>;
  /**
   * Parameters the trainer must keep fixed, with no optimizer update (a paused seed's; Kasmina,
   * decision 0068). Absent or empty: every parameter trains. A trainer keeps their values and
   * may drop their optimizer state.
   */
  readonly frozenParameters?: readonly string[];
}

/** What the trainer tells the executor after a run of optimizer steps. */
export interface StepObservation {
  /** Optimizer steps taken in this run (1 for `step`, K for `stepMany`). */
  readonly steps: number;
  /** Global step count after them. */
  readonly globalStep: number;
  /** Current epoch (0-based). */
  readonly epoch: number;
  /** Mean training loss over the steps. */
  readonly loss: number;
  /** L2 norm of the host parameters' gradient at the last step. */
  readonly hostGradNorm: number;
  /** L2 norm of each grafted seed's parameter gradient at the last step, by seed id (NaN or ∞ when not finite). */
  readonly seedGradNorms: Readonly<Record<string, number>>;
}

/** Options of {@link SeedExecutor.controlFeeds}. */
export interface ControlFeedOptions {
  /** Seed whose α is forced to 0 (a counterfactual evaluation of the model without it). */
  readonly counterfactual?: string;
}
