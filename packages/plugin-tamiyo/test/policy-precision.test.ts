// The opt-in int8 policy (tamiyo.gnn.precision, decision 0067) against the float32 policy at the
// reference's sizes, on random graphs with and without empty relations: how far the outputs move,
// and that a decision whose float32 winner leads by more than that error is the same decision.
import { OnnxRuntime, Prng, type Graph, type Results } from '@esper/onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { REFERENCE_DIMS, initPolicyWeights } from '../src/policy/architecture.js';
import { buildPolicyGraph, type PolicyOutputName } from '../src/policy/graph.js';
import { packGraph } from '../src/policy/pack.js';
import { PRECISION_METADATA_KEY, applyPolicyPrecision, applyPolicyPrecisionAsync } from '../src/policy/precision.js';
import { gnnHarness, statePacket, DORMANT } from './gnn-harness.js';
import { randomPolicyGraph } from './random-graph.js';

const runtime = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => runtime.dispose());

/** Seeded weights with a random policy head (the untrained head is all zeros, so every class would tie). */
function weights() {
  const w = initPolicyWeights(5);
  const prng = new Prng(99);
  const bound = 1 / Math.sqrt(REFERENCE_DIMS.gatHidden);
  w.set('policy_head.weight', Float32Array.from({ length: REFERENCE_DIMS.policyClasses * REFERENCE_DIMS.gatHidden }, () => prng.uniform(-bound, bound)));
  return w;
}

const argmax = (a: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if ((a[i] as number) > (a[best] as number)) best = i;
  return best;
};
/** Lead of the winner over the runner-up. */
const margin = (a: ArrayLike<number>) => {
  const sorted = Array.from(a).sort((x, y) => y - x);
  return sorted.length < 2 ? Infinity : (sorted[0] as number) - (sorted[1] as number);
};
const values = (r: Results, name: PolicyOutputName) => r[name]!.data as Float32Array;

describe('int8 policy precision (decision 0067)', () => {
  const fp32 = buildPolicyGraph(weights());
  const int8 = applyPolicyPrecision(fp32, 'int8');

  test('quantizes the GraphSAGE and GAT message projections, a quarter of the bytes, and tags the graph', () => {
    const bytes = (g: Graph) => [...g.initializers.values()].reduce((n, t) => n + t.data.byteLength, 0);
    const quantized = int8.nodes.filter((n) => n.opType === 'DynamicQuantizeMatMul');
    // 6 node types × 2 SAGE layers + the GAT message tables at or above 65 536 weights; nothing that large left in float32.
    expect(quantized.length).toBe(23);
    const largeFloat = fp32.nodes.filter((n) => n.opType === 'MatMul' && (int8.initializers.get(n.inputs[1]!)?.data.length ?? 0) >= 65_536);
    expect(largeFloat).toEqual([]);
    expect(quantized.every((n) => n.domain === 'com.microsoft' && /^fold\/(sage|gat)\d\//.test(n.inputs[1]!))).toBe(true);
    expect(bytes(int8) / bytes(fp32)).toBeLessThan(0.3);
    expect(int8.metadata.get(PRECISION_METADATA_KEY)).toBe('int8');
    expect(applyPolicyPrecision(fp32, 'fp32').nodes).toBe(fp32.nodes);
    expect(applyPolicyPrecision(fp32, 'fp32').metadata.get(PRECISION_METADATA_KEY)).toBe('fp32');
  });

  test('the async build (policy updates) gives the same graph', async () => {
    let yields = 0;
    const async = await applyPolicyPrecisionAsync(fp32, 'int8', async () => void yields++);
    expect(yields).toBeGreaterThan(1);
    expect(async.nodes).toEqual(int8.nodes);
  });

  test('outputs stay within 2 % of their magnitude, and clear decisions are the same decisions', async () => {
    const a = await runtime.createSession(fp32);
    const b = await runtime.createSession(int8);
    const prng = new Prng(2026);
    const errs: Partial<Record<PolicyOutputName, number>> = {};
    const mags: Partial<Record<PolicyOutputName, number>> = {};
    let decisions = 0;
    let clear = 0;
    for (let i = 0; i < 16; i++) {
      const graph = randomPolicyGraph(prng, 16, i % 2 === 0 ? 0 : 0.3);
      const feeds = packGraph(graph);
      const x = await a.run(feeds);
      const y = await b.run(feeds);
      for (const name of ['policy_logits', 'seed_scores', 'blueprint_scores', 'risk_logits', 'value', 'graph_embedding', 'policy_params'] as const) {
        const u = values(x, name);
        const v = values(y, name);
        mags[name] = Math.max(mags[name] ?? 0, ...Array.from(u, Math.abs));
        errs[name] = Math.max(errs[name] ?? 0, ...Array.from(u, (t, k) => Math.abs(t - (v[k] as number))));
      }
      // A decision is "clear" when the float32 winner leads by more than twice the largest error seen on that output.
      for (const name of ['policy_logits', 'seed_scores'] as const) {
        const u = values(x, name);
        const v = values(y, name);
        const err = Math.max(...Array.from(u, (t, k) => Math.abs(t - (v[k] as number))));
        decisions++;
        if (margin(u) > 2 * err) {
          clear++;
          expect(argmax(v), `${name} on graph ${i}`).toBe(argmax(u));
        }
      }
    }
    // Largest error of each output over the 16 graphs, relative to its largest magnitude over them.
    const worst = Object.fromEntries(Object.entries(errs).map(([name, e]) => [name, e / (mags[name as PolicyOutputName] as number)]));
    for (const [name, rel] of Object.entries(worst)) expect(rel, name).toBeLessThan(2e-2);
    expect(clear).toBeGreaterThan(decisions / 2);
    await a.dispose();
    await b.dispose();
  });

  test('the controller reports policy_precision in its telemetry when it is not fp32', async () => {
    for (const precision of ['int8', 'fp32'] as const) {
      const { controller, telemetry } = await gnnHarness({ precision });
      await controller.evaluateEpoch(statePacket([DORMANT], 3));
      expect(telemetry[0]!.packet.systemHealth?.indicators.policy_precision).toBe(precision === 'int8' ? 'int8' : undefined);
      await controller.dispose();
    }
  });
});

describe('real-time decision threads (tamiyo.gnn.realtime, decision 0067)', () => {
  test('the worker thread is put under SCHED_FIFO where allowed, and telemetry says whether it was', async () => {
    const { controller, telemetry } = await gnnHarness({ worker: true, realtimePriority: 1 });
    const rt = controller.session.realtime!;
    expect(rt).toBeDefined();
    await controller.evaluateEpoch(statePacket([DORMANT], 3));
    expect(telemetry[0]!.packet.systemHealth?.indicators.policy_realtime).toBe(rt.applied ? 'on' : 'refused');
    if (!rt.applied) expect(rt.reason).not.toBe('');
    await controller.dispose();
    const plain = await gnnHarness({ worker: true });
    expect(plain.controller.session.realtime).toBeUndefined();
    await plain.controller.evaluateEpoch(statePacket([DORMANT], 3));
    expect(plain.telemetry[0]!.packet.systemHealth?.indicators.policy_realtime).toBeUndefined();
    await plain.controller.dispose();
  });
});
