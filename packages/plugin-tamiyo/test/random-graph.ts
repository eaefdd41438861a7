// Random policy graphs for the graph and pack tests: one global and one blueprint node,
// 1–`maxSeeds` seeds, 0–4 nodes of the optional types, each relation empty with probability
// `pEmpty`, else 1–8 edges (few nodes, so repeated edges and several edges into one node are common).
import type { Prng } from '@esper/onnx';
import type { PolicyGraph, RelationEdges } from '../src/graph/builder.js';
import { EDGE_ATTR_DIM, FEATURE_DIMS, NODE_TYPES, RELATIONS, type NodeType } from '../src/graph/schema.js';

export function randomPolicyGraph(prng: Prng, maxSeeds: number, pEmpty: number): PolicyGraph {
  const counts: Record<NodeType, number> = { global: 1, seed: 1 + prng.int(maxSeeds), blueprint: 1, layer: prng.int(5), activation: prng.int(4), parameter: prng.int(4) };
  const features = Object.fromEntries(NODE_TYPES.map((t) => [t, Float32Array.from({ length: counts[t] * FEATURE_DIMS[t] }, () => prng.uniform(-2, 2))])) as Record<NodeType, Float32Array>;
  const edges: RelationEdges[] = RELATIONS.map((r) => {
    const possible = counts[r.src] > 0 && counts[r.dst] > 0 && prng.next() >= pEmpty;
    const count = possible ? 1 + prng.int(8) : 0;
    return {
      count,
      src: Int32Array.from({ length: count }, () => prng.int(counts[r.src])),
      dst: Int32Array.from({ length: count }, () => prng.int(counts[r.dst])),
      attr: Float32Array.from({ length: count * EDGE_ATTR_DIM }, () => prng.uniform(-1, 1)),
    };
  });
  const ids = (t: NodeType) => Array.from({ length: counts[t] }, (_, i) => `${t}${i}`);
  return {
    counts,
    features,
    edges,
    seedIds: ids('seed'),
    blueprintId: 'BP001',
    layerIds: ids('layer'),
    activationIds: ids('activation'),
    parameterIds: ids('parameter'),
    seedBlendAllowed: new Float32Array(counts.seed),
    seedFallbackScores: new Float32Array(counts.seed),
    blueprintFallbackScore: 0,
    coverage: new Map(),
  };
}
