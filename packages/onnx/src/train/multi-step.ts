import { OnnxGraphError } from '../errors.js';
import { attr } from '../ir/attr.js';
import { allocate, type DType } from '../ir/dtype.js';
import { lookupValue, renameNode, type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { numel, tensor, type TensorData } from '../ir/tensor-data.js';
import { nextName, type TrainingGraphSpec } from './training-graph.js';

/** Options of {@link buildMultiStepGraph}. */
export interface MultiStepOptions {
  /**
   * Data inputs fed once for all steps of a run (gates, constant masks …). Every other data
   * input is stacked: its tensor carries one slice per step along a new leading axis.
   */
  readonly shared?: readonly string[];
}

/** Input and output names of a multi-step training graph. */
export interface MultiStepGraphSpec {
  /**
   * The graph: one `session.run` takes as many optimisation steps as the stacked inputs have
   * slices (an ONNX `Scan` whose body is the training step).
   */
  readonly graph: Graph;
  /** The one-step training graph it repeats. */
  readonly base: TrainingGraphSpec;
  /** Data inputs with a leading `steps` axis: slice `i` feeds step `i`. */
  readonly stacked: readonly string[];
  /** Data inputs fed once and read by every step. */
  readonly shared: readonly string[];
  /**
   * Inputs: `lr` is a float32 vector with one learning rate per step (its length sets the
   * number of steps); `step` is the float32 1-based number of the first step.
   */
  readonly lrInput: 'lr';
  readonly stepInput: 'step';
}

const BODY = 'k/';

/**
 * Wraps a one-step training graph in an ONNX `Scan` so that one `session.run` takes K steps.
 *
 * Parameters, optimizer state and the step number are the scan's state: ONNX Runtime hands each
 * step's new values to the next step without leaving the session, and copies them out once at
 * the end. The stacked inputs and the learning rates are scanned, so each step reads a view of
 * its slice rather than a copy (a `Loop` with `Gather` copied every batch; decision 0049). With
 * onnxruntime-node every output of a run is copied into a fresh JavaScript buffer, which costs
 * more than the optimizer update itself for a model of a few MB, so K steps per run pay that
 * copy once instead of K times (see docs/decisions/0045).
 *
 * Inputs: the stacked data inputs (`[steps, …]`), the shared ones, every parameter and state
 * tensor (as in the one-step graph), `lr` (`[steps]`) and `step` (first step number).
 * Outputs: `next/<parameter>` and `next/<state>` after the last step, and the one-step graph's
 * loss, metrics and gradient norms stacked per step (`[steps, …]`), under the same names.
 */
export function buildMultiStepGraph(spec: TrainingGraphSpec, options: MultiStepOptions = {}): MultiStepGraphSpec {
  const g = spec.graph;
  const shared = [...(options.shared ?? [])];
  for (const s of shared) if (!spec.dataInputs.includes(s)) throw new OnnxGraphError(`multi-step graph: shared input "${s}" is not a data input of the training graph (data inputs: ${spec.dataInputs.join(', ')})`);
  const stacked = spec.dataInputs.filter((d) => !shared.includes(d));
  const carried = [...spec.parameters, ...spec.state.map((s) => s.name)];
  // Read from the enclosing scope unchanged: shared data, frozen parameters.
  const outer = new Set<string>([...shared, ...spec.frozen]);
  const rename = (name: string): string => (name === '' || outer.has(name) ? name : BODY + name);
  const info = (name: string): ValueInfo => {
    const v = lookupValue(g, name);
    if (!v) throw new OnnxGraphError(`multi-step graph: training graph has no value "${name}"`);
    return v;
  };
  const scalar = (name: string, dtype: DType): ValueInfo => ({ name, dtype, shape: [] });
  const perStep = (v: ValueInfo, name = v.name): ValueInfo => ({ name, dtype: v.dtype, shape: v.shape === null ? null : ['steps', ...v.shape] });

  // Subgraphs (the non-finite guard's If branches) are renamed the same way: their own values
  // and the body values they capture alike.
  const bodyNodes: Node[] = g.nodes.map((n) => renameNode(n, rename));
  // The step number advances only when the step was applied (the non-finite guard may skip it).
  let increment = `${BODY}one`;
  if (spec.outputs.nonFinite !== undefined) {
    const applied = (what: string) => ({ name: `${BODY}step_${what}`, domain: '', outputs: [`${BODY}step_${what}`] });
    bodyNodes.push({ ...applied('applied'), opType: 'Not', inputs: [rename(spec.outputs.nonFinite)], attributes: {} });
    bodyNodes.push({ ...applied('increment'), opType: 'Cast', inputs: [`${BODY}step_applied`], attributes: { to: attr.int(1) } });
    increment = `${BODY}step_increment`;
  }
  bodyNodes.push({ name: `${BODY}step_next`, opType: 'Add', domain: '', inputs: [rename(spec.stepInput), increment], outputs: [`${BODY}step_next`], attributes: {} });

  const scanned = [...new Set([spec.outputs.loss, ...spec.outputs.metrics, ...Object.values(spec.outputs.gradNorms), ...(spec.outputs.nonFinite === undefined ? [] : [spec.outputs.nonFinite])])];
  const perStepInputs = [...stacked, spec.lrInput];
  const bodyInitializers = new Map<string, TensorData>([[`${BODY}one`, tensor('float32', [], Float32Array.of(1))]]);
  for (const [name, t] of g.initializers) if (!g.parameters.has(name)) bodyInitializers.set(rename(name), t);
  const valueInfo = new Map<string, ValueInfo>();
  for (const [name, v] of g.valueInfo) valueInfo.set(rename(name), { ...v, name: rename(name) });

  // Scan body: inputs are the state (parameters, optimizer state, step number) and then one
  // slice of each per-step input; outputs are the new state and then the per-step figures.
  const body: Graph = {
    name: `${g.name}_step`,
    opset: g.opset,
    inputs: [
      ...carried.map((c) => ({ ...info(c), name: rename(c) })),
      scalar(rename(spec.stepInput), 'float32'),
      ...perStepInputs.map((d) => ({ ...info(d), name: rename(d) })),
    ],
    outputs: [
      ...carried.map((c) => ({ ...info(nextName(c)), name: rename(nextName(c)) })),
      scalar(`${BODY}step_next`, 'float32'),
      ...scanned.map((s) => ({ ...info(s), name: rename(s) })),
    ],
    nodes: bodyNodes,
    initializers: bodyInitializers,
    parameters: new Map(),
    valueInfo,
    metadata: new Map(),
  };

  const inputs: ValueInfo[] = [
    ...stacked.map((d) => perStep(info(d))),
    ...shared.map(info),
    ...spec.frozen.map(info),
    ...carried.map(info),
    { name: spec.lrInput, dtype: 'float32', shape: ['steps'] },
    scalar(spec.stepInput, 'float32'),
  ];
  const outputs: ValueInfo[] = [...carried.map((c) => info(nextName(c))), ...scanned.map((s) => perStep(info(s)))];
  const nodes: Node[] = [
    {
      name: 'multi/scan',
      opType: 'Scan',
      domain: '',
      inputs: [...carried, spec.stepInput, ...perStepInputs],
      outputs: [...carried.map(nextName), 'multi/step_end', ...scanned],
      attributes: { body: attr.graph(body), num_scan_inputs: attr.int(perStepInputs.length) },
    },
  ];
  const parameters = new Map([...spec.parameters, ...spec.frozen].map((p) => [p, 'input' as const]));
  return {
    graph: {
      name: `${g.name}_multistep`,
      opset: g.opset,
      inputs,
      outputs,
      nodes,
      initializers: new Map(),
      parameters,
      valueInfo: new Map<string, ValueInfo>([['multi/step_end', scalar('multi/step_end', 'float32')]]),
      metadata: new Map(g.metadata),
    },
    base: spec,
    stacked,
    shared,
    lrInput: spec.lrInput,
    stepInput: spec.stepInput,
  };
}

/**
 * Stacks per-step batches into the feeds of a multi-step graph: each input becomes one tensor
 * with a leading axis of `batches.length`. Every batch must have the same inputs with the same
 * dtypes and dims. (A data loader that writes stacked buffers directly saves this copy.)
 */
export function stackBatches(batches: readonly Readonly<Record<string, TensorData>>[]): Record<string, TensorData> {
  const first = batches[0];
  if (!first) throw new OnnxGraphError('stackBatches: no batches given');
  const out: Record<string, TensorData> = {};
  for (const [name, t0] of Object.entries(first)) {
    const n = numel(t0.dims);
    const data = allocate(t0.dtype, n * batches.length);
    batches.forEach((b, i) => {
      const t = b[name];
      if (!t) throw new OnnxGraphError(`stackBatches: batch ${i} has no input "${name}"`);
      if (t.dtype !== t0.dtype || t.dims.length !== t0.dims.length || t.dims.some((d, k) => d !== t0.dims[k])) {
        throw new OnnxGraphError(`stackBatches: input "${name}" of batch ${i} is ${t.dtype}[${t.dims.join(', ')}], batch 0 has ${t0.dtype}[${t0.dims.join(', ')}]`);
      }
      (data as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(t.data as ArrayLike<unknown>, i * n);
    });
    out[name] = tensor(t0.dtype, [batches.length, ...t0.dims], data);
  }
  for (const [i, b] of batches.entries()) {
    for (const name of Object.keys(b)) if (!(name in first)) throw new OnnxGraphError(`stackBatches: batch ${i} has input "${name}", which batch 0 lacks`);
  }
  return out;
}
