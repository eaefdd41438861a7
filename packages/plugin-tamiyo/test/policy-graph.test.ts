// The folded policy graph (decisions 0058, 0063: per-type products, adjacency and aggregation
// MatMuls filled by packGraph) against the unfolded float64 reference on random graphs: random
// node counts (empty layer/activation/parameter types included), random edges with repeats,
// relations left empty at random, and a graph with no edges at all.
import { OnnxRuntime, ParameterSet, Prng, serializeModel, type OnnxSession } from '@esper/onnx';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PolicyGraph, RelationEdges } from '../src/graph/builder.js';
import { EDGE_ATTR_DIM, FEATURE_DIMS, NODE_TYPES, RELATIONS, type NodeType } from '../src/graph/schema.js';
import { REFERENCE_DIMS, initPolicyWeights, type PolicyDims } from '../src/policy/architecture.js';
import { POLICY_OUTPUTS, buildPolicyGraph, buildPolicyGraphAsync } from '../src/policy/graph.js';
import { packGraph } from '../src/policy/pack.js';
import { referenceForward } from './reference-gnn.js';

const SMALL: PolicyDims = { ...REFERENCE_DIMS, sageHidden: 16, gatHidden: 8, heads: 2, headHidden: 8 };
const weights = initPolicyWeights(11, SMALL);
// A random (not the untrained all-zero) policy head, so every output carries the graph's signal.
const policyHead = weights.get('policy_head.weight').data;
for (let i = 0; i < policyHead.length; i++) policyHead[i] = Math.cos(3 * i) * 0.4;

const runtime = new OnnxRuntime();
let session: OnnxSession;
beforeAll(async () => {
  session = await runtime.createSession(buildPolicyGraph(weights, SMALL));
});
afterAll(() => runtime.dispose());

/** A random graph: one global and one blueprint node, 1–6 seeds, 0–4 of the other types; each relation empty with probability `pEmpty`. */
function randomGraph(seed: number, pEmpty: number): PolicyGraph {
  const prng = new Prng(seed);
  const counts: Record<NodeType, number> = { global: 1, seed: 1 + prng.int(6), blueprint: 1, layer: prng.int(5), activation: prng.int(4), parameter: prng.int(4) };
  const features = Object.fromEntries(NODE_TYPES.map((t) => [t, Float32Array.from({ length: counts[t] * FEATURE_DIMS[t] }, () => prng.uniform(-2, 2))])) as Record<NodeType, Float32Array>;
  const edges: RelationEdges[] = RELATIONS.map((r) => {
    const possible = counts[r.src] > 0 && counts[r.dst] > 0 && prng.next() >= pEmpty;
    const count = possible ? 1 + prng.int(8) : 0;
    return {
      count,
      // Few nodes and up to 8 edges: repeated edges and several edges into one node happen often.
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

/** Largest absolute difference between the ONNX graph and the reference over every output. */
async function worstDifference(graph: PolicyGraph): Promise<number> {
  const out = await session.run(packGraph(graph, SMALL));
  const ref = referenceForward(weights, graph, SMALL);
  let worst = 0;
  for (const name of POLICY_OUTPUTS) {
    const got = out[name]!.data as Float32Array;
    expect(got.length, name).toBe(ref[name]!.length);
    got.forEach((v, i) => {
      expect(Number.isFinite(v), `${name}[${i}]`).toBe(true);
      worst = Math.max(worst, Math.abs(v - ref[name]![i]!));
    });
  }
  return worst;
}

describe('folded policy graph vs the unfolded reference', () => {
  test('random graphs, some relations empty, repeated edges', async () => {
    let emptyRelations = 0;
    let emptyTypes = 0;
    for (let s = 0; s < 12; s++) {
      const graph = randomGraph(100 + s, 0.3);
      emptyRelations += graph.edges.filter((e) => e.count === 0).length;
      emptyTypes += NODE_TYPES.filter((t) => graph.counts[t] === 0).length;
      expect(await worstDifference(graph), `graph ${s}`).toBeLessThan(1e-4);
    }
    // The seeds above do leave relations empty, and whole node types.
    expect(emptyRelations).toBeGreaterThan(20);
    expect(emptyTypes).toBeGreaterThan(0);
  });

  test('every relation populated', async () => {
    // The first seeds whose graph has every node type (so, with pEmpty 0, every relation).
    const graphs = Array.from({ length: 40 }, (_, s) => randomGraph(500 + s, 0)).filter((g) => g.edges.every((e) => e.count > 0));
    expect(graphs.length).toBeGreaterThan(2);
    for (const graph of graphs.slice(0, 3)) expect(await worstDifference(graph)).toBeLessThan(1e-4);
  });

  test('no edges at all: every node gets only its biases and root terms', async () => {
    const graph = randomGraph(3, 1);
    expect(graph.edges.every((e) => e.count === 0)).toBe(true);
    expect(await worstDifference(graph)).toBeLessThan(1e-4);
  });
});

describe('buildPolicyGraphAsync (the update path, decision 0062)', () => {
  test('gives the bytes of buildPolicyGraph, yielding after every weight when chunkBytes is 1', async () => {
    let yields = 0;
    const graph = await buildPolicyGraphAsync(weights, SMALL, { chunkBytes: 1, yieldControl: async () => void yields++ });
    expect(Buffer.from(serializeModel(graph)).equals(Buffer.from(serializeModel(buildPolicyGraph(weights, SMALL))))).toBe(true);
    // At least one yield per encoder and per SAGE weight (lin_l and lin_r of every relation, both layers).
    expect(yields).toBeGreaterThanOrEqual(NODE_TYPES.length + 2 * 2 * RELATIONS.length);
  });

  test('a missing weight rejects with the typed error of the synchronous build', async () => {
    const partial = new ParameterSet([...weights].filter(([name]) => name !== 'value_head.bias'));
    expect(() => buildPolicyGraph(partial, SMALL)).toThrow(/value_head\.bias/);
    await expect(buildPolicyGraphAsync(partial, SMALL)).rejects.toMatchObject({ code: 'ESPER_TAMIYO_POLICY_WEIGHTS' });
  });
});
