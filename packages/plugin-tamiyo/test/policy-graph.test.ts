// The folded policy graph (decisions 0058, 0063: per-type products, adjacency and aggregation
// MatMuls filled by packGraph) against the unfolded float64 reference on random graphs: random
// node counts (empty layer/activation/parameter types included), random edges with repeats,
// relations left empty at random, and a graph with no edges at all.
import { OnnxRuntime, ParameterSet, Prng, serializeModel, type OnnxSession } from '@esper/onnx';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PolicyGraph } from '../src/graph/builder.js';
import { NODE_TYPES, RELATIONS } from '../src/graph/schema.js';
import { REFERENCE_DIMS, initPolicyWeights, type PolicyDims } from '../src/policy/architecture.js';
import { POLICY_OUTPUTS, buildPolicyGraph, buildPolicyGraphAsync } from '../src/policy/graph.js';
import { packGraph } from '../src/policy/pack.js';
import { randomPolicyGraph } from './random-graph.js';
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

/** A random graph (test/random-graph.ts) with 1–6 seeds; each relation empty with probability `pEmpty`. */
const randomGraph = (seed: number, pEmpty: number): PolicyGraph => randomPolicyGraph(new Prng(seed), 6, pEmpty);

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
