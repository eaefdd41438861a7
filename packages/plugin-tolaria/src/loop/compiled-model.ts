import type { ComposedModel } from '@esper/core';
import {
  ParameterSet, Trainer, buildTrainingGraph, carryTrainerState, evaluationGraph, type OnnxRuntime, type OnnxSession, type OptimizerSpec,
  type SessionOptions, type TrainerState, type TrainingGraphSpec,
} from '@esper/onnx';
import type { ClassifierHost } from '../hosts/classifier.js';

/** Name of the gradient-norm group of the host's parameters. */
export const HOST_GROUP = 'host';
/** Name of the gradient-norm group of seed `id`'s parameters. */
export const seedGroup = (id: string): string => `seed/${id}`;

/** How {@link CompiledModel.build} compiles a composition. */
export interface CompileOptions {
  readonly optimizer: OptimizerSpec;
  /** Per-group clipping norm; none when unset. */
  readonly gradClipNorm?: number | undefined;
  readonly session: SessionOptions;
}

/** Scalar parameters of a composition (what its compiled trainer will hold), without compiling it. */
export function parameterCount(composed: ComposedModel): number {
  return ParameterSet.fromGraph(composed.graph).numel;
}

/**
 * One topology version, compiled: the training graph of the composed model (gradient-norm groups
 * `host` and `seed/<id>`, clipping per group, Adam bias correction per parameter, so grafting a
 * seed changes nothing for the host), its `Trainer`, and the evaluation session sharing the
 * parameters. Built from the previous version's state, so values and optimizer state carry over
 * by parameter name.
 */
export class CompiledModel {
  private constructor(
    readonly composed: ComposedModel,
    readonly spec: TrainingGraphSpec,
    readonly trainer: Trainer,
    readonly evaluation: OnnxSession,
    /** Parameters carried from the previous version, started fresh, dropped. */
    readonly carried: readonly string[],
    readonly fresh: readonly string[],
    readonly dropped: readonly string[],
  ) {}

  /** Compiles `composed`, carrying `previous` (the last version's trainer state) when given. */
  static async build(runtime: OnnxRuntime, composed: ComposedModel, host: ClassifierHost, options: CompileOptions, previous?: TrainerState): Promise<CompiledModel> {
    const graph = composed.graph;
    const seedOwned = new Set(Object.values(composed.seedParameters).flat());
    // A paused seed's parameters keep their values and get no update (ComposedModel.frozenParameters).
    const frozen = new Set(composed.frozenParameters ?? []);
    const groups: Record<string, string[]> = { [HOST_GROUP]: [...graph.parameters.keys()].filter((p) => !seedOwned.has(p) && !frozen.has(p)) };
    for (const [id, names] of Object.entries(composed.seedParameters)) {
      const training = names.filter((n) => !frozen.has(n));
      if (training.length > 0) groups[seedGroup(id)] = training;
    }
    const spec = buildTrainingGraph(graph, {
      ...(frozen.size > 0 ? { trainable: [...graph.parameters.keys()].filter((p) => !frozen.has(p)) } : {}),
      loss: host.loss,
      optimizer: options.optimizer,
      metrics: [host.correct],
      groups,
      ...(options.gradClipNorm === undefined ? {} : { clipGradNorm: options.gradClipNorm, clipScope: 'groups' as const }),
      biasCorrection: 'per-parameter',
    });
    const initial = ParameterSet.fromGraph(graph);
    const start = previous
      ? carryTrainerState(spec, initial, previous)
      : { parameters: initial, optimizerState: new Map(), stepCount: 0, carried: [], fresh: [...initial.names], dropped: [] };
    const [trainer, evaluation] = await Promise.all([
      // The loop only runs stepMany, and a new composition compiles anew: skip the one-step session.
      Trainer.create(runtime, spec, start.parameters, options.session, { ...start, compileSingleStep: false }),
      runtime.createSession(evaluationGraph(graph), options.session),
    ]);
    return new CompiledModel(composed, spec, trainer, evaluation, start.carried, start.fresh, start.dropped);
  }

  get topologyVersion(): number {
    return this.composed.topologyVersion;
  }

  /** Releases the trainer's and the evaluation sessions. */
  async dispose(): Promise<void> {
    await Promise.allSettled([this.trainer.dispose(), this.evaluation.dispose()]);
  }
}
