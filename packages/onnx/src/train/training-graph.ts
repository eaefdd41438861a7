import { OnnxGraphError, OnnxParameterError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import { elideOutputIdentities } from '../ir/elide-identities.js';
import type { Graph, ValueInfo } from '../ir/graph.js';
import { formatShape } from '../ir/shape.js';
import { numel, tensor, type TensorData } from '../ir/tensor-data.js';
import type { Tensor } from '../ir/tensor.js';
import { add, div, mul, sqrt, sub } from '../ops/math.js';
import { ifElse } from '../ops/control.js';
import { reduceSum } from '../ops/reduce.js';
import { gradients } from '../autodiff/gradients.js';
import { compare, scalarLike } from '../autodiff/helpers.js';
import type { ParameterSet } from '../params/parameter-set.js';
import { applyUpdate, stateSlots, stepScalars, type OptimizerSpec, type StepScalars } from './optimizers.js';

/** Options of {@link buildTrainingGraph}. */
export interface TrainingGraphOptions {
  /** Name of the scalar loss output of the forward graph. */
  readonly loss: string;
  readonly optimizer: OptimizerSpec;
  /** Other forward outputs to return from every step (logits, accuracy …). Default: none. */
  readonly metrics?: readonly string[];
  /** Parameters to update (default: all). Others stay inputs but are neither differentiated nor updated. */
  readonly trainable?: readonly string[];
  /**
   * Clip gradients so their L2 norm is at most this (default: no clipping). The norm is the
   * global one, or each group's own with {@link TrainingGraphOptions.clipScope} `groups`.
   */
  readonly clipGradNorm?: number;
  /**
   * What {@link TrainingGraphOptions.clipGradNorm} measures: `global` (default) scales every
   * gradient by one factor from the global norm, as `torch.nn.utils.clip_grad_norm_` does;
   * `groups` scales each group of {@link TrainingGraphOptions.groups} by its own norm, so that
   * the update of one group never depends on another's gradients (a host and the seeds grafted
   * into it). With `groups`, the groups must partition the trainable parameters.
   */
  readonly clipScope?: 'global' | 'groups';
  /**
   * Which step count drives the Adam family's bias correction. `global` (default): the graph's
   * `step` input, shared by every parameter. `per-parameter`: each parameter keeps its own count
   * as a scalar optimizer-state slot `opt/<name>/t` (as PyTorch keeps `state['step']` per
   * parameter), so a parameter that joins a running trainer with zero moments takes the steps a
   * fresh Adam would take instead of steps inflated by a large global count. Ignored by SGD.
   */
  readonly biasCorrection?: 'global' | 'per-parameter';
  /**
   * Parameter groups whose gradient L2 norms the step reports (group → parameter names).
   * Default: one group per parameter. The global norm is always reported as `global`.
   */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  /**
   * Skip steps that are not finite (default true): when the loss or the global gradient norm
   * is NaN or ±∞, every parameter and optimizer-state tensor keeps its value, selected inside
   * the graph (an `If`, so a finite step runs exactly as without the guard), and the output
   * {@link NON_FINITE_OUTPUT} is true. With `clipScope: 'groups'` each group's update is
   * skipped on its own norm (and the loss), so one group's NaN never stops another; the
   * output is still true when anything was not finite. `false` removes the guard: a NaN then
   * reaches every parameter, as in PyTorch.
   */
  readonly nonFiniteGuard?: boolean;
}

/** Output of a training graph that is true when the step was not applied (a non-finite loss or gradient norm). */
export const NON_FINITE_OUTPUT = 'non_finite';

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
  /**
   * Optimizer state tensors: input `<state>`, output `next/<state>`, with the parameter each
   * belongs to and, when they differ from the parameter's, their dims (`[]` for a step count).
   */
  readonly state: readonly OptimizerStateSlot[];
  /**
   * Output with the loss, metric outputs, gradient-norm outputs by group, and (with the
   * non-finite guard, the default) the bool scalar that is true when the step was not applied.
   */
  readonly outputs: {
    readonly loss: string;
    readonly metrics: readonly string[];
    readonly gradNorms: Readonly<Record<string, string>>;
    readonly nonFinite?: string;
  };
  /** Scalar float32 inputs: learning rate and 1-based step number. */
  readonly lrInput: 'lr';
  readonly stepInput: 'step';
}

/** One optimizer state tensor of a training graph. */
export interface OptimizerStateSlot {
  /** Input name; the new value is output `next/<name>`. */
  readonly name: string;
  /** The parameter it belongs to. */
  readonly parameter: string;
  /** Its dims when they are not the parameter's (`[]`: a per-parameter step count). */
  readonly dims?: readonly number[];
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
  if (lossInfo.shape !== null && lossInfo.shape.length !== 0) {
    const hint = lossInfo.shape.every((d) => d === 1)
      ? 'it holds one value but keeps reduced axes: reduce over every axis without giving axes (x.mean(), reduceSum(x) make scalars), or pass { keepDims: false }'
      : 'reduce it to one value, e.g. with .mean()';
    throw new OnnxGraphError(`training graph: loss "${options.loss}" has shape ${formatShape(lossInfo.shape)}, not a scalar; ${hint}`);
  }
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
  const grads = gradients(b, b.tensor(options.loss), params);

  const slots = stateSlots(options.optimizer);
  const perParameterSteps = options.biasCorrection === 'per-parameter' && options.optimizer.kind !== 'sgd';
  const state: OptimizerStateSlot[] = [];
  const groups = options.groups ?? Object.fromEntries(trainable.map((p) => [p, [p]]));
  const clipGroups = options.clipGradNorm !== undefined && options.clipScope === 'groups';
  if (clipGroups) assertPartition(groups, trainable);
  const gradNorms: Record<string, string> = {};
  const guard = options.nonFiniteGuard ?? true;
  b.scope('optimizer', () => {
    const squares = grads.map((g) => mul(g, g));
    const sq = squares.map((g2) => reduceSum(g2, undefined, { keepDims: false }));
    const sumOf = (ts: Tensor[]) => ts.reduce((acc, t) => add(acc, t));
    const groupNorms = new Map<string, { norm: Tensor; idx: number[] }>();
    for (const [group, members] of Object.entries(groups)) {
      const idx = members.map((m) => {
        const i = trainable.indexOf(m);
        if (i < 0) throw new OnnxParameterError(`training graph: group "${group}" names "${m}", which is not a trainable parameter`);
        return i;
      });
      if (idx.length === 0) continue;
      const name = `grad_norm/${group}`;
      const norm = sqrt(sumOf(idx.map((i) => sq[i] as Tensor)));
      b.output(norm, name);
      gradNorms[group] = name;
      groupNorms.set(group, { norm, idx });
    }
    const global = sqrt(sumOf(sq));
    b.output(global, 'grad_norm/global');
    gradNorms.global = 'grad_norm/global';
    // Clipping scales are scalars, computed before any branch.
    let scaleOf: (i: number) => Tensor | undefined = () => undefined;
    if (options.clipGradNorm !== undefined) {
      const max = options.clipGradNorm;
      if (!(max > 0)) throw new OnnxGraphError('training graph: clipGradNorm must be > 0');
      // scale = min(1, max / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_ does.
      const scaleFor = (norm: Tensor): Tensor => {
        const ratio = div(scalarLike(norm, max), add(norm, 1e-6));
        return b.op1('Min', [ratio, scalarLike(norm, 1)], {}, { dtype: 'float32', shape: [] }, 'Min');
      };
      if (clipGroups) {
        const scales = new Map<number, Tensor>();
        for (const { norm, idx } of groupNorms.values()) {
          const scale = scaleFor(norm);
          for (const i of idx) scales.set(i, scale);
        }
        scaleOf = (i) => scales.get(i);
      } else {
        const scale = scaleFor(global);
        scaleOf = () => scale;
      }
    }
    const shared = perParameterSteps ? undefined : stepScalars(options.optimizer, lr, step);
    const members = params.map((p, i) => {
      const stateIn = slots.map((slot) => {
        const name = `opt/${p.name}/${slot}`;
        state.push({ name, parameter: p.name });
        return b.input(name, 'float32', p.shape);
      });
      let scalars = shared;
      let t: { readonly now: Tensor; readonly next: Tensor } | undefined;
      if (scalars === undefined) {
        // This parameter's own step count: t ← t + 1, then the bias correction of step t.
        const name = `opt/${p.name}/t`;
        state.push({ name, parameter: p.name, dims: [] });
        const now = b.input(name, 'float32', []);
        t = { now, next: add(now, 1) };
        scalars = stepScalars(options.optimizer, lr, t.next);
      }
      return { p, i, stateIn, scalars, t };
    });
    type Member = (typeof members)[number];
    // New values of some parameters, in the order of `outputNames`: each parameter, its state, its step count.
    const update = (set: readonly Member[]): Tensor[] =>
      set.flatMap(({ p, i, stateIn, scalars, t }) => {
        const scale = scaleOf(i);
        const g = scale === undefined ? (grads[i] as Tensor) : mul(grads[i] as Tensor, scale);
        // Unclipped gradients were squared for the norms already; clipped ones changed since.
        const squared = options.clipGradNorm === undefined ? squares[i] : undefined;
        const upd = applyUpdate(options.optimizer, p, g, stateIn, scalars as StepScalars, squared);
        return [upd.param, ...upd.state, ...(t ? [t.next] : [])];
      });
    const unchanged = (set: readonly Member[]): Tensor[] => set.flatMap(({ p, stateIn, t }) => [p, ...stateIn, ...(t ? [t.now] : [])]);
    const outputNames = (set: readonly Member[]): string[] =>
      set.flatMap(({ p, stateIn, t }) => [nextName(p.name), ...stateIn.map((s) => nextName(s.name)), ...(t ? [nextName(t.now.name)] : [])]);
    if (!guard) {
      const outs = update(members);
      outputNames(members).forEach((name, k) => b.output(outs[k] as Tensor, name));
      return;
    }
    // The non-finite guard: a step whose loss or gradient norm is NaN or ±∞ keeps every
    // parameter and state tensor as it was. The update runs inside an If, so a finite step
    // costs no extra pass (a Where per tensor would), and a skipped one copies the old values.
    const finite = (t: Tensor): Tensor => compare('Equal', sub(t, t), scalarLike(t, 0)); // x − x is 0 unless x is NaN or ±∞
    const both = (x: Tensor, y: Tensor): Tensor => b.op1('And', [x, y], {}, { dtype: 'bool', shape: [] }, 'And');
    const lossFinite = finite(b.tensor(options.loss));
    const allFinite = both(lossFinite, finite(global));
    b.output(b.op1('Not', [allFinite], {}, { dtype: 'bool', shape: [] }, 'Not'), NON_FINITE_OUTPUT);
    // With per-group clipping, each group's update depends on its own norm only (no coupling).
    const sets = clipGroups
      ? [...groupNorms.entries()].map(([group, { norm, idx }]) => ({ group, ok: both(lossFinite, finite(norm)), set: idx.map((i) => members[i] as Member) }))
      : [{ group: 'all', ok: allFinite, set: members }];
    for (const { group, ok, set } of sets) {
      const outs = ifElse(ok, () => update(set), () => unchanged(set), `apply/${group}`);
      outputNames(set).forEach((name, k) => b.output(outs[k] as Tensor, name));
    }
  });
  const paramSet = new Set(all);
  return {
    // Optimizer-state outputs would otherwise each be an Identity copy per step.
    graph: elideOutputIdentities(b.build({ prune: true })),
    dataInputs: fwd.inputs.map((i) => i.name).filter((n) => !paramSet.has(n)),
    parameters: trainable,
    frozen,
    state,
    outputs: { loss: options.loss, metrics, gradNorms, ...(guard ? { nonFinite: NON_FINITE_OUTPUT } : {}) },
    lrInput: 'lr',
    stepInput: 'step',
  };
}

/** Zero optimizer state for a training graph and parameter set. */
export function initialOptimizerState(spec: TrainingGraphSpec, params: ParameterSet): Map<string, TensorData<'float32'>> {
  const out = new Map<string, TensorData<'float32'>>();
  for (const s of spec.state) out.set(s.name, zeroState(s, params));
  return out;
}

/** A zero tensor for one optimizer state slot. */
export function zeroState(slot: OptimizerStateSlot, params: ParameterSet): TensorData<'float32'> {
  const dims = slot.dims ?? params.get(slot.parameter).dims;
  return tensor('float32', dims, new Float32Array(numel(dims)));
}

/** Throws unless every trainable parameter is in exactly one group. */
function assertPartition(groups: Readonly<Record<string, readonly string[]>>, trainable: readonly string[]): void {
  const owner = new Map<string, string>();
  for (const [group, members] of Object.entries(groups)) {
    for (const m of members) {
      const other = owner.get(m);
      if (other !== undefined) throw new OnnxGraphError(`training graph: clipScope "groups" needs disjoint groups, but "${m}" is in "${other}" and "${group}"`);
      owner.set(m, group);
    }
  }
  const missing = trainable.filter((p) => !owner.has(p));
  if (missing.length > 0) throw new OnnxGraphError(`training graph: clipScope "groups" needs every trainable parameter in a group; ${missing.map((m) => `"${m}"`).join(', ')} in none`);
}
