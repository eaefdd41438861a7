import type { DType } from './dtype.js';
import type { TensorData } from './tensor-data.js';

/**
 * One dimension of a tensor's shape: a fixed size, a symbolic name (`'batch'`) shared by every
 * tensor whose size is the same unknown, or `null` when nothing is known.
 */
export type Dim = number | string | null;

/** A tensor shape; `null` as a whole means even the rank is unknown. */
export type Shape = readonly Dim[];

/** Name, element type and (possibly partial) shape of a graph value. */
export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape | null;
}

/** An operator attribute value, tagged with its ONNX attribute type. */
export type AttributeValue =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensor'; readonly value: TensorData }
  /** A subgraph (the body of `Loop`, the branches of `If`); it may read outer-scope values by name. */
  | { readonly type: 'graph'; readonly value: Graph };

/** One operator application. Missing optional inputs are written as `''`, as in ONNX. */
export interface Node {
  readonly name: string;
  readonly opType: string;
  /** Operator domain; `''` is the default ONNX domain. */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** How a parameter reaches the graph: baked in as an initializer, or fed as a graph input. */
export type ParameterKind = 'initializer' | 'input';

/**
 * An immutable computation graph: the IR that {@link GraphBuilder} produces, serializes to an
 * ONNX `ModelProto`, and is parsed back from one.
 *
 * `parameters` names the trainable tensors. Initializer parameters hold their values in
 * `initializers`; input parameters are graph inputs whose current values the caller feeds
 * (their starting values are in `initializers` too, but are not serialized — see
 * {@link serializeModel}).
 */
export interface Graph {
  readonly name: string;
  /** Default-domain opset version the graph targets. */
  readonly opset: number;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly nodes: readonly Node[];
  /** Constant tensors and initializer parameters, by name (also start values of input parameters). */
  readonly initializers: ReadonlyMap<string, TensorData>;
  /** Trainable tensors, by name, with how each is delivered. */
  readonly parameters: ReadonlyMap<string, ParameterKind>;
  /** Known type and shape of every intermediate value, by name. */
  readonly valueInfo: ReadonlyMap<string, ValueInfo>;
  /** Free-form string metadata, serialized as `metadata_props`. */
  readonly metadata: ReadonlyMap<string, string>;
}

/** Default opset: ONNX opset 21 (ONNX 1.16), supported by onnxruntime-node 1.30. */
export const DEFAULT_OPSET = 21;
/** IR version written to models: 10 (ONNX 1.16), the one that goes with opset 21. */
export const IR_VERSION = 10;

/** All value names a graph defines: inputs, initializers and node outputs. */
export function definedNames(graph: Graph): Set<string> {
  const names = new Set<string>();
  for (const i of graph.inputs) names.add(i.name);
  for (const k of graph.initializers.keys()) names.add(k);
  for (const n of graph.nodes) for (const o of n.outputs) if (o !== '') names.add(o);
  return names;
}

/** The type and shape the graph knows for `name`, if any. */
export function lookupValue(graph: Graph, name: string): ValueInfo | undefined {
  return (
    graph.inputs.find((v) => v.name === name) ??
    graph.valueInfo.get(name) ??
    graph.outputs.find((v) => v.name === name) ??
    (() => {
      const t = graph.initializers.get(name);
      return t ? { name, dtype: t.dtype, shape: t.dims } : undefined;
    })()
  );
}

/** Subgraphs held by a node's attributes (the body of a `Loop`, the branches of an `If`). */
export function subgraphsOf(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of Object.values(node.attributes)) if (a.type === 'graph') out.push(a.value);
  return out;
}

/**
 * Names a graph reads without defining them: the outer-scope values a subgraph captures
 * (nested subgraphs included). Empty for a well-formed top-level graph.
 */
export function outerReferences(graph: Graph): Set<string> {
  const defined = definedNames(graph);
  const refs = new Set<string>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) if (i !== '' && !defined.has(i)) refs.add(i);
    for (const sub of subgraphsOf(n)) for (const r of outerReferences(sub)) if (!defined.has(r)) refs.add(r);
  }
  return refs;
}

/** Every value a node reads: its inputs and what its subgraphs capture from the outer scope. */
export function nodeReads(node: Node): string[] {
  const reads = node.inputs.filter((i) => i !== '');
  for (const sub of subgraphsOf(node)) reads.push(...outerReferences(sub));
  return reads;
}

/**
 * A copy of `graph` with every value name passed through `rename` — inputs, outputs, node
 * inputs and outputs, initializers, value infos — in its subgraphs too (their own values and
 * the outer values they capture alike). Node names are renamed with the same function. Empty
 * names (omitted optional inputs) stay empty.
 */
export function renameValues(graph: Graph, rename: (name: string) => string): Graph {
  const r = (name: string): string => (name === '' ? '' : rename(name));
  const info = (v: ValueInfo): ValueInfo => ({ ...v, name: r(v.name) });
  return {
    ...graph,
    inputs: graph.inputs.map(info),
    outputs: graph.outputs.map(info),
    nodes: graph.nodes.map((n) => renameNode(n, rename)),
    initializers: new Map([...graph.initializers].map(([k, v]) => [r(k), v])),
    parameters: new Map([...graph.parameters].map(([k, v]) => [r(k), v])),
    valueInfo: new Map([...graph.valueInfo].map(([k, v]) => [r(k), info(v)])),
  };
}

/** A node with its name, inputs, outputs and subgraphs renamed (see {@link renameValues}). */
export function renameNode(node: Node, rename: (name: string) => string): Node {
  const r = (name: string): string => (name === '' ? '' : rename(name));
  const attributes: Record<string, AttributeValue> = {};
  for (const [k, a] of Object.entries(node.attributes)) attributes[k] = a.type === 'graph' ? { type: 'graph', value: renameValues(a.value, rename) } : a;
  return { ...node, name: r(node.name), inputs: node.inputs.map(r), outputs: node.outputs.map(r), attributes };
}
