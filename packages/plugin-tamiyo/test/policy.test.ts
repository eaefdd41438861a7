import { OnnxRuntime } from '@esper/onnx';
import type { SystemStatePacket } from '@esper/core/leyline';
import { afterAll, describe, expect, test } from 'vitest';
import { PolicyGraphBuilder, type BlueprintMetadata } from '../src/graph/builder.js';
import { RELATIONS } from '../src/graph/schema.js';
import { REFERENCE_DIMS, initPolicyWeights, policyParameterCount, type PolicyDims } from '../src/policy/architecture.js';
import { POLICY_OUTPUTS, buildPolicyGraph } from '../src/policy/graph.js';
import { packGraph } from '../src/policy/pack.js';
import { policyStatePacket } from './policy-packet.js';
import { referenceForward } from './reference-gnn.js';

const SMALL: PolicyDims = { ...REFERENCE_DIMS, sageHidden: 16, gatHidden: 8, heads: 2, headHidden: 8 };

const runtime = new OnnxRuntime();
afterAll(() => runtime.dispose());

async function compare(packet: SystemStatePacket, meta: BlueprintMetadata = {}, dims = SMALL, seed = 7) {
  const weights = initPolicyWeights(seed, dims);
  // Random (not the untrained zeros) policy head, so every output is exercised.
  const ph = weights.get('policy_head.weight').data;
  for (let i = 0; i < ph.length; i++) ph[i] = Math.sin(i) * 0.3;
  const graph = new PolicyGraphBuilder().build(packet, 'BP001', meta);
  const session = await runtime.createSession(buildPolicyGraph(weights, dims));
  const out = await session.run(packGraph(graph, dims));
  const ref = referenceForward(weights, graph, dims);
  let worst = 0;
  for (const name of POLICY_OUTPUTS) {
    const got = [...(out[name]!.data as Float32Array)];
    expect(got.length, name).toBe(ref[name]!.length);
    got.forEach((v, i) => {
      expect(Number.isFinite(v), name).toBe(true);
      worst = Math.max(worst, Math.abs(v - ref[name]![i]!));
    });
  }
  return { graph, out, worst };
}

describe('policy graph', () => {
  test('the reference sizes have the reference parameter count', () => {
    expect(policyParameterCount()).toBe(13_953_971);
  });

  test('matches the unfolded reference with every relation non-empty', async () => {
    const meta: BlueprintMetadata = {
      risk: 0.3,
      stage: 2,
      graph: { parameters: [{ name: 'alpha', min: 0, max: 1 }, { name: 'beta', min: -1, max: 1 }], layers: [{ depth: 0 }, { depth: 1 }, { depth: 2 }], activations: [{ type: 'relu' }, { type: 'gelu' }] },
    };
    const builder = new PolicyGraphBuilder({ maxParameters: 2, maxActivations: 2 });
    const packet = policyStatePacket('run-p', [
      { id: 'a', stage: 4, depth: 0 },
      { id: 'b', stage: 3, depth: 1, risk: 0.2 },
      { id: 'c', stage: 5, depth: 2 },
    ]);
    const graph = builder.build(packet, 'BP001', meta);
    expect(graph.edges.every((e) => e.count > 0)).toBe(true);
    const weights = initPolicyWeights(3, SMALL);
    const session = await runtime.createSession(buildPolicyGraph(weights, SMALL));
    const out = await session.run(packGraph(graph, SMALL));
    const ref = referenceForward(weights, graph, SMALL);
    for (const name of POLICY_OUTPUTS) {
      const got = [...(out[name]!.data as Float32Array)];
      got.forEach((v, i) => expect(Math.abs(v - ref[name]![i]!), `${name}[${i}]`).toBeLessThan(1e-4));
    }
  });

  test('matches the unfolded reference with empty relations (one seed, no blending seed, one layer)', async () => {
    const packet = policyStatePacket('run-p', [{ id: 'only', stage: 1 }]);
    const { graph, worst } = await compare(packet, { graph: { layers: [{ depth: 0 }] } });
    const empty = RELATIONS.filter((_, i) => graph.edges[i]!.count === 0).map((r) => r.name);
    expect(empty).toEqual(expect.arrayContaining(['peer', 'allowed', 'associated', 'connects']));
    expect(worst).toBeLessThan(1e-4);
  });
});
