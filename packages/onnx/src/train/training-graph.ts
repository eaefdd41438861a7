import { OnnxGraphError, OnnxParameterError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import { elideOutputIdentities } from '../ir/elide-identities.js';
import type { Graph, ValueInfo } from '../ir/graph.js';
import { tensor, type TensorData } from '../ir/tensor-data.js';
import type { Tensor } from '../ir/tensor.js';
import { add, div, mul, sqrt } from '../ops/math.js';
import { reduceSum } from '../ops/reduce.js';
import { gradients } from '../autodiff/gradients.js';
import { scalarLike } from '../autodiff/helpers.js';
import type { ParameterSet } from '../params/parameter-set.js';
import { applyUpdate, stateSlots, stepScalars, type OptimizerSpec } from './optimizers.js';

/** Options of {@link buildTrainingGraph}. */
export interface TrainingGraphOptions {
  /** Name of the scalar loss output of the forward graph. */
  readonly loss: string;
  readonly optimizer: OptimizerSpec;
  /** Other forward outputs to return from every step (logits, accuracy …). Default: none. */
  readonly metrics?: readonly string[];
  /** Parameters to update (default: all). Others stay inputs but are neither differentiated nor updated. */
  readonly trainable?: readonly string[];
  /** Clip gradients so their global L2 norm is at most this (default: no clipping). */
  readonly clipGradNorm?: number;
  /**
   * Parameter groups whose gradient L2 norms the step reports (group → parameter names).
   * Default: one group per parameter. The global norm is always reported as `global`.
   */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
}

/** Input and output names of a training graph. */
export interface TrainingGraphSpec {
  /** The graph: one `session.run` is one optimisation step. */
  readonly graph: Graph;
  /** Forward data inputs the caller feeds (batch, labels, gates …). */
  readonly dataInputs: readonly string[];
  /** Trainable parameters, in order; each is an input `<name>` and an output `next/<name>`. */
  readonly parameters: readonly string[];
  /** Parameters fed but not updated. */
  readonly frozen: readonly string[];
  /** Optimizer state tensors: input `<state>`, output `next/<state>`, with the parameter each belongs to. */
  readonly state: readonly { readonly name: string; readonly parameter: string }[];
  /** Output with the loss, metric outputs, and gradient-norm outputs by group. */
  readonly outputs: { readonly loss: string; readonly metrics: readonly string[]; readonly gradNorms: Readonly<Record<string, string>> };
  /** Scalar float32 inputs: learning rate and 1-based step number. */
  readonly lrInput: 'lr';
  readonly stepInput: 'step';
}

/** Output name of a parameter's or state tensor's new value. */
export const nextName = (name: string): string => `next/${name}`;

/**
 * Makes every parameter of `forward` a graph input (without serialized start values): the
 * forward-only evaluation graph that shares its parameters with a training graph.
 */
export function withParameterInputs(forward: Graph): Graph {
  const inputs: ValueInfo[] = [...forward.inputs];
  const parameters = new Map(forward.parameters);
  for (const [name, kind] of forward.parameters) {
    if (kind === 'input') continue;
    const t = forward.initializers.get(name) as TensorData;
    inputs.push({ name, dtype: t.dtype, shape: [...t.dims] });
    parameters.set(name, 'input');
  }
  return { ...forward, inputs, parameters };
}

/** Alias of {@link withParameterInputs}: the forward-only graph a training graph's parameters feed. */
export const evaluationGraph = withParameterInputs;

/**
 * Derives one training graph from a forward graph with a scalar loss: forward + loss +
 * gradients (reverse mode) + optional global-norm clipping + optimizer update. Inputs: the
 * forward's data inputs, every parameter, every optimizer state tensor, `lr` and `step`
 * (float32 scalars, step counting from 1). Outputs: the loss, the requested metrics,
 * `next/<parameter>`, `next/<state>` and `grad_norm/<group>` (plus `grad_norm/global`).
 */
export function buildTrainingGraph(forward: Graph, options: TrainingGraphOptions): TrainingGraphSpec {
  const fwd = withParameterInputs(forward);
  const lossInfo = fwd.outputs.find((o) => o.name === options.loss);
  if (!lossInfo) throw new OnnxGraphError(`training graph: forward graph has no output "${options.loss}"`);
  if (lossInfo.shape !== null && lossInfo.shape.length !== 0) throw new OnnxGraphError(`training graph: loss "${options.loss}" must be a scalar`);
  const metrics = options.metrics ?? [];
  for (const m of metrics) if (!fwd.outputs.some((o) => o.name === m)) throw new OnnxGraphError(`training graph: forward graph has no output "${m}"`);

  const all = [...fwd.parameters.keys()];
  const trainable = options.trainable ?? all;
  for (const p of trainable) if (!fwd.parameters.has(p)) throw new OnnxParameterError(`training graph: "${p}" is not a parameter of the forward graph`);
  const frozen = all.filter((p) => !trainable.includes(p));

  const b = GraphBuilder.from({ ...fwd, outputs: fwd.outputs.filter((o) => o.name === options.loss || metrics.includes(o.name)) });
  const params = trainable.map((p) => b.tensor(p));
  for (const p of params) if (p.dtype !== 'float32') throw new OnnxParameterError(`training graph: parameter "${p.name}" must be float32`);
  const lr = b.input('lr', 'float32', []);
  const step = b.input('step', 'float32', []);
  let grads = gradients(b, b.tensor(options.loss), params);

  const slots = stateSlots(options.optimizer);
  const state: { name: string; parameter: string }[] = [];
  const gradNorms: Record<string, string> = {};
  b.scope('optimizer', () => {
    const squares = grads.map((g) => mul(g, g));
    const sq = squares.map((g2) => reduceSum(g2, undefined, { keepDims: false }));
    const sumOf = (ts: Tensor[]) => ts.reduce((acc, t) => add(acc, t));
    const groups = options.groups ?? Object.fromEntries(trainable.map((p) => [p, [p]]));
    for (const [group, members] of Object.entries(groups)) {
      const idx = members.map((m) => {
        const i = trainable.indexOf(m);
        if (i < 0) throw new OnnxParameterError(`training graph: group "${group}" names "${m}", which is not a trainable parameter`);
        return i;
      });
      if (idx.length === 0) continue;
      const name = `grad_norm/${group}`;
      b.output(sqrt(sumOf(idx.map((i) => sq[i] as Tensor))), name);
      gradNorms[group] = name;
    }
    const global = sqrt(sumOf(sq));
    b.output(global, 'grad_norm/global');
    gradNorms.global = 'grad_norm/global';
    if (options.clipGradNorm !== undefined) {
      if (!(options.clipGradNorm > 0)) throw new OnnxGraphError('training graph: clipGradNorm must be > 0');
      // scale = min(1, max / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_ does.
      const ratio = div(scalarLike(global, options.clipGradNorm), add(global, 1e-6));
      const scale = b.op1('Min', [ratio, scalarLike(global, 1)], {}, { dtype: 'float32', shape: [] }, 'Min');
      grads = grads.map((g) => mul(g, scale));
    }
    const scalars = stepScalars(options.optimizer, lr, step);
    params.forEach((p, i) => {
      const stateIn = slots.map((slot) => {
        const name = `opt/${p.name}/${slot}`;
        state.push({ name, parameter: p.name });
        return b.input(name, 'float32', p.shape);
      });
      // Unclipped gradients were squared for the norms already; clipped ones changed since.
      const squared = options.clipGradNorm === undefined ? squares[i] : undefined;
      const upd = applyUpdate(options.optimizer, p, grads[i] as Tensor, stateIn, scalars, squared);
      b.output(upd.param, nextName(p.name));
      upd.state.forEach((t, k) => b.output(t, nextName((stateIn[k] as Tensor).name)));
    });
  });
  const paramSet = new Set(all);
  return {
    // Optimizer-state outputs would otherwise each be an Identity copy per step.
    graph: elideOutputIdentities(b.build({ prune: true })),
    dataInputs: fwd.inputs.map((i) => i.name).filter((n) => !paramSet.has(n)),
    parameters: trainable,
    frozen,
    state,
    outputs: { loss: options.loss, metrics, gradNorms },
    lrInput: 'lr',
    stepInput: 'step',
  };
}

/** Zero optimizer state for a training graph and parameter set. */
export function initialOptimizerState(spec: TrainingGraphSpec, params: ParameterSet): Map<string, TensorData<'float32'>> {
  const out = new Map<string, TensorData<'float32'>>();
  for (const s of spec.state) {
    const p = params.get(s.parameter);
    out.set(s.name, tensor('float32', p.dims, new Float32Array(p.data.length)));
  }
  return out;
}
