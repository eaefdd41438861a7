import { OnnxGraphError } from '../errors.js';
import type { Graph, Node } from './graph.js';
import { drainAtOnce, drainInSlices, type SliceOptions } from './slices.js';
import { tensor } from './tensor-data.js';

/** Options of {@link quantizeMatMulWeights}. */
export interface QuantizeOptions {
  /**
   * Smallest weight, in elements, that is quantized (default {@link DEFAULT_QUANTIZE_MIN_ELEMENTS}):
   * small projections cost little to read and keep their full precision.
   */
  readonly minElements?: number;
}

/** Default {@link QuantizeOptions.minElements}: 65 536 elements (256 KiB of float32). */
export const DEFAULT_QUANTIZE_MIN_ELEMENTS = 65_536;

/** What {@link quantizeMatMulWeights} changed. */
export interface QuantizeReport {
  /** The rewritten graph. */
  readonly graph: Graph;
  /** Names of the float32 weights replaced by int8 ones. */
  readonly quantized: readonly string[];
  /** Weight bytes before and after (the quantized weights only; scales included after). */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/**
 * Weight-only int8 quantization for inference on ONNX Runtime's CPU provider: every `MatMul`
 * whose second input is a float32 `[K, N]` initializer of at least `minElements` becomes a
 * `com.microsoft` `DynamicQuantizeMatMul`, with the weight stored as int8 and one symmetric
 * scale per output column (`scale_j = max_i |W_ij| / 127`, zero point 0), while the activation
 * is quantized per run by the operator (uint8, per tensor). The weights are read 4× less, which
 * is what a memory-bound MatMul of a few rows pays for (decision 0067).
 *
 * Outputs change by the quantization error, typically up to about 1 % of each output's range
 * (Tamiyo's policy: 0.2–1.1 %). Use it where that is measured acceptable, never to compare
 * against a float32 reference. The graph runs on ONNX Runtime's CPU provider (other providers
 * hand these nodes to CPU). A weight that other nodes also read is kept for them.
 *
 * @throws {@link OnnxGraphError} (`ESPER_ONNX_GRAPH`) when `minElements` is not a positive integer.
 */
export function quantizeMatMulWeights(graph: Graph, options: QuantizeOptions = {}): QuantizeReport {
  return drainAtOnce(quantizeSteps(graph, options));
}

/** Options of {@link quantizeMatMulWeightsAsync}. */
export interface QuantizeAsyncOptions extends QuantizeOptions, SliceOptions {}

/**
 * {@link quantizeMatMulWeights} in pieces, awaiting `yieldControl` about every `chunkBytes` of
 * weights, so a large model does not hold the event loop in one stretch. Same result.
 *
 * @throws {@link OnnxGraphError} (`ESPER_ONNX_GRAPH`) when `minElements` is not a positive integer.
 */
export async function quantizeMatMulWeightsAsync(graph: Graph, options: QuantizeAsyncOptions = {}): Promise<QuantizeReport> {
  return drainInSlices(quantizeSteps(graph, options), options);
}

/** The body of both drivers: yields the bytes of each weight right after quantizing it. */
function* quantizeSteps(graph: Graph, options: QuantizeOptions): Generator<number, QuantizeReport, void> {
  const minElements = options.minElements ?? DEFAULT_QUANTIZE_MIN_ELEMENTS;
  if (!Number.isInteger(minElements) || minElements < 1) throw new OnnxGraphError(`quantizeMatMulWeights: minElements must be a positive integer, got ${minElements}`);
  const initializers = new Map(graph.initializers);
  const graphInputs = new Set(graph.inputs.map((i) => i.name));
  const done = new Map<string, { q: string; scale: string; zero: string }>();
  const quantized: string[] = [];
  let bytesBefore = 0;
  let bytesAfter = 0;
  const taken = new Set([...graph.initializers.keys(), ...graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs]), ...graph.inputs.map((i) => i.name)]);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const nodes: Node[] = [];
  for (const node of graph.nodes) {
    if (node.opType !== 'MatMul' || node.domain !== '' || node.inputs.length !== 2) {
      nodes.push(node);
      continue;
    }
    const name = node.inputs[1] as string;
    // An initializer that is also a graph input can be overridden at run time: leave it.
    const w = graphInputs.has(name) ? undefined : initializers.get(name);
    const [K, N] = (w?.dims ?? [0, 0]) as [number, number];
    if (w === undefined || w.dtype !== 'float32' || w.dims.length !== 2 || K * N < minElements) {
      nodes.push(node);
      continue;
    }
    let names = done.get(name);
    if (names === undefined) {
      const { q, scale } = quantizeColumns(w.data as Float32Array, K, N);
      names = { q: fresh(`${name}/int8`), scale: fresh(`${name}/scale`), zero: fresh(`${name}/zero_point`) };
      initializers.set(names.q, tensor('int8', [K, N], q));
      initializers.set(names.scale, tensor('float32', [N], scale));
      initializers.set(names.zero, tensor('int8', [N], new Int8Array(N)));
      done.set(name, names);
      quantized.push(name);
      bytesBefore += w.data.byteLength;
      bytesAfter += q.byteLength + scale.byteLength + N;
      yield w.data.byteLength;
    }
    nodes.push({ ...node, opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', inputs: [node.inputs[0] as string, names.q, names.scale, names.zero] });
  }
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const name of done.keys()) if (!read.has(name) && !graph.outputs.some((o) => o.name === name)) initializers.delete(name);
  return { graph: { ...graph, nodes, initializers }, quantized, bytesBefore, bytesAfter };
}

/** Symmetric per-column int8: `q_ij = round(W_ij / scale_j)`, `scale_j = max_i |W_ij| / 127` (1 for an all-zero column). */
function quantizeColumns(w: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(N);
  for (let i = 0; i < K; i++) {
    const row = i * N;
    for (let j = 0; j < N; j++) {
      const a = Math.abs(w[row + j] as number);
      if (a > (scale[j] as number)) scale[j] = a;
    }
  }
  for (let j = 0; j < N; j++) scale[j] = (scale[j] as number) > 0 ? (scale[j] as number) / 127 : 1;
  const q = new Int8Array(K * N);
  for (let i = 0; i < K; i++) {
    const row = i * N;
    for (let j = 0; j < N; j++) q[row + j] = Math.max(-127, Math.min(127, Math.round((w[row + j] as number) / (scale[j] as number))));
  }
  return { q, scale };
}
