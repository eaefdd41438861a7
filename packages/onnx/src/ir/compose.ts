import { GRADIENT_GATES_METADATA_KEY, readGates } from '../autodiff/gate.js';
import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { definedNames, lookupValue, outerReferences, subgraphsOf, type Dim, type Graph, type Node, type ParameterKind, type ValueInfo } from './graph.js';
import { formatShape, unifyDim } from './shape.js';
import type { TensorData } from './tensor-data.js';

/** Options of {@link graft}. */
export interface GraftOptions {
  /** The host tensor the subgraph is inserted at: the subgraph consumes it and replaces it. */
  readonly at: string;
  /** Prefix for every subgraph name (`prefix/…`); must make them unique in the host. */
  readonly prefix: string;
  /** Subgraph input fed with the host tensor (default: the first non-parameter input). */
  readonly input?: string;
  /** Subgraph output that replaces the host tensor for its consumers (default: the first output). */
  readonly output?: string;
  /**
   * Other subgraph inputs wired to existing host tensors (subgraph input → host name). Inputs
   * not bound here become host graph inputs under their prefixed names (alpha, gates …).
   */
  readonly bind?: Readonly<Record<string, string>>;
}

/**
 * Inserts `sub` into `host` at tensor `at`: the subgraph reads `at`, and every consumer of
 * `at` in the host (and a host output of that name) now reads the subgraph's output instead.
 * This is the graph surgery behind grafting a seed. Parameters, constants and unbound inputs of
 * the subgraph are carried over under `prefix/`. The result is a new graph; neither argument
 * changes. Throws {@link OnnxGraphError} for unknown names or collisions and
 * {@link OnnxShapeError} when dtypes or known dims do not fit.
 */
export function graft(host: Graph, sub: Graph, options: GraftOptions): Graph {
  const { at, prefix } = options;
  const hostNames = definedNames(host);
  if (!hostNames.has(at)) throw new OnnxGraphError(`graft: host graph "${host.name}" has no tensor "${at}"`);
  // Subgraphs (Loop, If bodies) read outer values by name, which renaming cannot follow.
  const nested = sub.nodes.find((n) => subgraphsOf(n).length > 0);
  if (nested) throw new OnnxGraphError(`graft: subgraph "${sub.name}" has a ${nested.opType} node ("${nested.name}") with a body graph; graft the body's contents instead`);
  const reader = host.nodes.find((n) => subgraphsOf(n).some((g) => outerReferences(g).has(at)));
  if (reader) throw new OnnxGraphError(`graft: "${at}" is read inside the body of ${reader.opType} node "${reader.name}"; graft at a tensor outside control flow`);
  const subParams = sub.parameters;
  const recvName = options.input ?? sub.inputs.find((i) => !subParams.has(i.name))?.name;
  const recv = sub.inputs.find((i) => i.name === recvName);
  if (!recv) throw new OnnxGraphError(`graft: subgraph "${sub.name}" has no input "${String(recvName)}"`);
  const outName = options.output ?? sub.outputs[0]?.name;
  const subOut = sub.outputs.find((o) => o.name === outName);
  if (!subOut) throw new OnnxGraphError(`graft: subgraph "${sub.name}" has no output "${String(outName)}"`);

  const atInfo = lookupValue(host, at);
  checkFit(`graft at "${at}"`, atInfo, recv);

  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; hostNames.has(name); i++) name = `${base}_${i}`;
    hostNames.add(name);
    return name;
  };

  // Where the original value of `at` lives after the graft.
  const producer = host.nodes.find((n) => n.outputs.includes(at));
  const isHostOutput = host.outputs.some((o) => o.name === at);
  let source = at;
  if (isHostOutput && !producer) throw new OnnxGraphError(`graft: "${at}" is both a graph input (or initializer) and an output; graft at a tensor computed by a node instead`);
  if (producer) source = fresh(`${at}__pre_graft`);

  // Rename every subgraph value.
  const bind = options.bind ?? {};
  const rename = new Map<string, string>();
  rename.set(recv.name, source);
  for (const [subInput, hostName] of Object.entries(bind)) {
    const si = sub.inputs.find((i) => i.name === subInput);
    if (!si) throw new OnnxGraphError(`graft: bind names subgraph input "${subInput}", which does not exist`);
    if (!hostNames.has(hostName)) throw new OnnxGraphError(`graft: bind maps "${subInput}" to host tensor "${hostName}", which does not exist`);
    checkFit(`graft bind "${subInput}"`, lookupValue(host, hostName), si);
    rename.set(subInput, hostName);
  }
  const prefixed = (name: string): string => {
    if (name === '') return '';
    const known = rename.get(name);
    if (known !== undefined) return known;
    const p = `${prefix}/${name}`;
    if (hostNames.has(p)) throw new OnnxGraphError(`graft: name "${p}" already exists in the host; choose another prefix`);
    hostNames.add(p);
    rename.set(name, p);
    return p;
  };
  const replacement = prefixed(subOut.name);

  const redirect = (name: string): string => (name === at ? replacement : name);
  const hostNodes: Node[] = host.nodes.map((n) => ({
    ...n,
    inputs: n.inputs.map(redirect),
    outputs: n === producer ? n.outputs.map((o) => (o === at ? source : o)) : n.outputs,
  }));
  const subNodes: Node[] = sub.nodes.map((n) => ({
    ...n,
    name: `${prefix}/${n.name}`,
    inputs: n.inputs.map(prefixed),
    outputs: n.outputs.map(prefixed),
  }));
  const extra: Node[] = [];
  if (isHostOutput) extra.push({ name: fresh(`${prefix}/graft_output`), opType: 'Identity', domain: '', inputs: [replacement], outputs: [at], attributes: {} });

  const inputs: ValueInfo[] = [...host.inputs];
  for (const i of sub.inputs) {
    if (i.name === recv.name || bind[i.name] !== undefined) continue;
    inputs.push({ ...i, name: prefixed(i.name) });
  }
  const initializers = new Map<string, TensorData>(host.initializers);
  for (const [n, t] of sub.initializers) if (!rename.has(n) || rename.get(n)!.startsWith(`${prefix}/`)) initializers.set(prefixed(n), t);
  const parameters = new Map<string, ParameterKind>(host.parameters);
  for (const [n, k] of sub.parameters) parameters.set(prefixed(n), k);

  const valueInfo = new Map<string, ValueInfo>();
  for (const [n, v] of host.valueInfo) {
    const name = n === at ? source : n;
    valueInfo.set(name, { ...v, name });
  }
  if (producer && isHostOutput) {
    const o = host.outputs.find((x) => x.name === at)!;
    valueInfo.set(source, { ...o, name: source });
  }
  for (const [n, v] of sub.valueInfo) valueInfo.set(prefixed(n), { ...v, name: prefixed(n) });
  valueInfo.set(replacement, { ...subOut, name: replacement });

  const metadata = new Map(host.metadata);
  // The subgraph's gradient gates (stop-gradients, isolation gates) must survive the graft, or
  // its training graph would treat them as plain identities.
  const subGates = readGates(sub.metadata.get(GRADIENT_GATES_METADATA_KEY));
  if (Object.keys(subGates).length > 0) {
    const table = readGates(metadata.get(GRADIENT_GATES_METADATA_KEY));
    for (const [output, gate] of Object.entries(subGates)) table[prefixed(output)] = prefixed(gate);
    metadata.set(GRADIENT_GATES_METADATA_KEY, JSON.stringify(table));
  }
  return {
    name: host.name,
    opset: Math.max(host.opset, sub.opset),
    inputs,
    outputs: host.outputs.map((o) => ({ ...o })),
    nodes: topoSort([...hostNodes, ...subNodes, ...extra], new Set([...inputs.map((i) => i.name), ...initializers.keys()])),
    initializers,
    parameters,
    valueInfo,
    metadata,
  };
}

function checkFit(what: string, host: ValueInfo | undefined, want: ValueInfo): void {
  if (!host) return;
  if (host.dtype !== want.dtype) throw new OnnxShapeError(`${what}: host tensor is ${host.dtype}, subgraph input "${want.name}" expects ${want.dtype}`);
  if (host.shape !== null && want.shape !== null) {
    if (host.shape.length !== want.shape.length) throw new OnnxShapeError(`${what}: host shape ${formatShape(host.shape)} vs subgraph input ${formatShape(want.shape)}`);
    host.shape.forEach((d, i) => unifyDim(d, want.shape![i] as Dim, `${what}: host shape ${formatShape(host.shape)} vs subgraph input ${formatShape(want.shape)}`));
  }
}

/** Stable topological order (Kahn's algorithm keeping the given order among ready nodes). */
export function topoSort(nodes: readonly Node[], available: ReadonlySet<string>): Node[] {
  const ready = new Set(available);
  const pending = [...nodes];
  const out: Node[] = [];
  while (pending.length > 0) {
    const idx = pending.findIndex((n) => n.inputs.every((i) => i === '' || ready.has(i)));
    if (idx < 0) {
      const missing = pending[0]!.inputs.filter((i) => i !== '' && !ready.has(i));
      throw new OnnxGraphError(`graph has a cycle or undefined inputs: node "${pending[0]!.name}" waits for ${missing.join(', ')}`);
    }
    const [n] = pending.splice(idx, 1) as [Node];
    for (const o of n.outputs) if (o !== '') ready.add(o);
    out.push(n);
  }
  return out;
}
