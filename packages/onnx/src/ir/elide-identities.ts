import type { Graph, Node } from './graph.js';

/**
 * Removes `Identity` nodes that only give an intermediate value a graph-output name: the
 * producing node writes the output name directly instead. ONNX Runtime keeps such an Identity
 * as a full copy (it cannot rename a value that other nodes also read), which in a training
 * graph costs a pass over every optimizer-state tensor per step. Values that are graph
 * inputs, initializers or already outputs keep their Identity, as does a second output
 * aliasing the same value. Returns a new graph; intermediate names that were renamed no
 * longer exist in it.
 */
export function elideOutputIdentities(graph: Graph): Graph {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const protectedNames = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys(), ...outputs]);
  const produced = new Set(graph.nodes.flatMap((n) => n.outputs));
  const rename = new Map<string, string>();
  const dropped = new Set<Node>();
  for (const node of graph.nodes) {
    if (node.opType !== 'Identity' || node.domain !== '' || node.inputs.length !== 1 || node.outputs.length !== 1) continue;
    const [from] = node.inputs as [string];
    const [to] = node.outputs as [string];
    if (!outputs.has(to) || protectedNames.has(from) || !produced.has(from) || rename.has(from)) continue;
    rename.set(from, to);
    dropped.add(node);
  }
  if (rename.size === 0) return graph;
  const map = (name: string) => rename.get(name) ?? name;
  const nodes = graph.nodes
    .filter((n) => !dropped.has(n))
    .map((n) => ({ ...n, inputs: n.inputs.map(map), outputs: n.outputs.map(map) }));
  const valueInfo = new Map([...graph.valueInfo].filter(([name]) => !rename.has(name)));
  return { ...graph, nodes, valueInfo };
}
