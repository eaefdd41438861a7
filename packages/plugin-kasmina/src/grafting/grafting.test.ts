import type { SeedSlot } from '@esper/core';
import { GRADIENT_GATES_METADATA_KEY, GraphBuilder, type Graph } from '@esper/onnx';
import { describe, expect, test } from 'vitest';
import { tinyHost } from '../../test/fixtures/tiny-host.js';
import type { Blueprint } from '../blueprints/blueprint.js';
import { DEFAULT_BLUEPRINTS } from '../blueprints/catalog.js';
import { interfaceIssues, isolationIssues, seedNamesIn } from './checks.js';
import { composeModel, gateTable } from './compose.js';
import { buildSeedGraph, type SeedGraph } from './seed-graph.js';

const host = tinyHost();
const slot = host.slots[0]!;
const slotValue = { dtype: 'float32' as const, shape: ['batch', 8] };
const build = (over: { blueprint?: Blueprint; generation?: number; runSeed?: number; slot?: SeedSlot; options?: Record<string, number> } = {}) =>
  buildSeedGraph({ seedId: 'hidden1', slot: over.slot ?? slot, slotValue, blueprint: over.blueprint ?? DEFAULT_BLUEPRINTS[0]!, options: over.options ?? {}, generation: over.generation ?? 1, runSeed: over.runSeed ?? 9 });
const seedOf = (r: ReturnType<typeof build>): SeedGraph => {
  if (!r.ok) throw new Error(r.issues.join('; '));
  return r.seed;
};

describe('buildSeedGraph', () => {
  test('a subgraph reading h and the controls, writing out; parameters named by slot and generation, seeded', () => {
    const seed = seedOf(build());
    expect(seed.graph.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['h', ['batch', 8]],
      ...['alpha', 'st', 'in_gate', 'host_gate'].map((n) => [n, []]),
      ['alpha_vec', [8]],
      ...['residual', 'confidence', 'gate_k', 'gate_tau', 'alpha_lo', 'alpha_hi'].map((n) => [n, []]),
    ]);
    expect(seed.graph.outputs.map((o) => [o.name, o.shape])).toEqual([['out', ['batch', 8]]]);
    expect(seed.parameterNames).toEqual(['seed/hidden1/g1/down.w', 'seed/hidden1/g1/down.b', 'seed/hidden1/g1/up.w', 'seed/hidden1/g1/up.b']);
    expect(seed.parameterCount).toBe(8 * 2 + 2 + 2 * 8 + 8);
    expect([...seed.graph.parameters.keys()]).toEqual(['g1/down.w', 'g1/down.b', 'g1/up.w', 'g1/up.b']);
    expect([...(seed.graph.initializers.get('g1/up.w')!.data as Float32Array)].every((v) => v === 0)).toBe(true);
    const again = seedOf(build());
    const down = (s: SeedGraph, g = 'g1') => [...(s.graph.initializers.get(`${g}/down.w`)!.data as Float32Array)];
    expect(down(again)).toEqual(down(seed));
    expect(down(seedOf(build({ runSeed: 10 })))).not.toEqual(down(seed));
    expect(down(seedOf(build({ generation: 2 })), 'g2')).not.toEqual(down(seed));
    expect(Object.keys(gateTable(seed.graph))).toHaveLength(3);
  });

  test('a kernel that changes the slot shape, or a slot of another width, does not fit', () => {
    const narrowing: Blueprint = { ...DEFAULT_BLUEPRINTS[0]!, forward: (x, p) => x.matmul(p['down.w']!) };
    const r = build({ blueprint: narrowing });
    expect(r).toMatchObject({ ok: false, issues: ['blueprint residual-mlp outputs float32 [batch, 2] at slot hidden1, which needs float32 [batch, 8]'] });
    expect(build({ slot: { ...slot, features: 5 } })).toMatchObject({ ok: false, issues: [expect.stringContaining('not [batch, 5]')] });
    const throwing: Blueprint = { ...DEFAULT_BLUEPRINTS[0]!, parameters: () => { throw new Error('boom'); } };
    expect(build({ blueprint: throwing })).toMatchObject({ ok: false, issues: [expect.stringContaining('cannot be built at slot hidden1: boom')] });
  });
});

describe('composeModel and its checks', () => {
  const seed = seedOf(build());
  const composed = composeModel(host, [{ seedId: 'hidden1', slot, seed }], 1);
  const hostParams = new Set(host.graph.parameters.keys());

  test('splices the seed at its slot, adds its controls, carries its gradient gates', () => {
    expect(composed.topologyVersion).toBe(1);
    expect(composed.controlInputs).toEqual(
      ['alpha', 'st', 'in_gate', 'host_gate', 'alpha_vec', 'residual', 'confidence', 'gate_k', 'gate_tau', 'alpha_lo', 'alpha_hi'].map((n) => `seed/hidden1/${n}`),
    );
    expect(composed.seedParameters).toEqual({ hidden1: seed.parameterNames });
    expect(composed.graph.inputs.map((i) => i.name)).toEqual(['x', 'labels', ...composed.controlInputs]);
    expect(composed.graph.outputs).toEqual(host.graph.outputs);
    const gates = gateTable(composed.graph);
    const values = Object.values(gates);
    expect(values).toHaveLength(3);
    expect(values).toContain('seed/hidden1/in_gate');
    expect(values).toContain('seed/hidden1/host_gate');
    // The third is the stop-gradient's constant 0.
    const constant = values.find((v) => v !== 'seed/hidden1/in_gate' && v !== 'seed/hidden1/host_gate')!;
    expect(composed.graph.initializers.get(constant)!.data).toEqual(Float32Array.of(0));
    for (const [out, gate] of Object.entries(gates)) {
      expect(composed.graph.nodes.some((n) => n.outputs.includes(out))).toBe(true);
      expect(composed.graph.inputs.some((i) => i.name === gate) || composed.graph.initializers.has(gate)).toBe(true);
    }
    expect(composeModel(host, [], 0).graph).toBe(host.graph);
  });

  test('isolation: clean as built; an ungated read of a host value, a host read of a seed internal or a shared name are violations', () => {
    expect(isolationIssues(composed.graph, 'hidden1', seed.parameterNames, hostParams)).toEqual([]);
    expect(isolationIssues(composed.graph, 'hidden1', seed.parameterNames, new Set([...hostParams, seed.parameterNames[0]!]))).toEqual([
      'parameter "seed/hidden1/g1/down.w" is shared with the host',
    ]);
    const source = composed.graph.nodes.find((n) => n.name.startsWith('seed/hidden1/') && n.opType === 'Identity')!.inputs[0]!;
    const leaky: Graph = {
      ...composed.graph,
      nodes: [
        ...composed.graph.nodes,
        { name: 'seed/hidden1/leak', opType: 'Relu', domain: '', inputs: [source], outputs: ['seed/hidden1/leak_out'], attributes: {} },
        { name: 'peek', opType: 'Relu', domain: '', inputs: ['seed/hidden1/kernel/Add_out'], outputs: ['peek_out'], attributes: {} },
      ],
    };
    const issues = isolationIssues(leaky, 'hidden1', seed.parameterNames, hostParams);
    expect(issues).toContain(`seed node "seed/hidden1/leak" reads host value "${source}" without its in_gate/host_gate gradient gate`);
    expect(issues.some((i) => i.startsWith('host node "peek" reads seed value'))).toBe(true);
    const ungated: Graph = { ...composed.graph, metadata: new Map([[GRADIENT_GATES_METADATA_KEY, '{}']]) };
    expect(isolationIssues(ungated, 'hidden1', seed.parameterNames, hostParams)).toContain("the seed's input is not gated by seed/hidden1/in_gate");
  });

  test('interface: fits as built; a missing control input or parameter is reported; seedNamesIn finds what is left', () => {
    expect(interfaceIssues(composed.graph, 'hidden1', slot, ['batch', 8], seed.parameterNames)).toEqual([]);
    const broken: Graph = {
      ...composed.graph,
      inputs: composed.graph.inputs.filter((i) => i.name !== 'seed/hidden1/st').map((i) => (i.name === 'seed/hidden1/alpha_vec' ? { ...i, shape: [4] } : i)),
    };
    expect(interfaceIssues(broken, 'hidden1', slot, ['batch', 8], [...seed.parameterNames, 'seed/hidden1/g1/extra'])).toEqual([
      'control input seed/hidden1/st missing',
      'control input seed/hidden1/alpha_vec is float32 [4], not float32 [8]',
      'parameter seed/hidden1/g1/extra missing',
    ]);
    expect(interfaceIssues(composed.graph, 'hidden1', slot, ['batch', 4], [])).toEqual([expect.stringContaining('blend output seed/hidden1/out is float32 [batch, 8]')]);
    expect(seedNamesIn(composed.graph, 'hidden1').length).toBeGreaterThan(10);
    expect(seedNamesIn(host.graph, 'hidden1')).toEqual([]);
  });

  test('a seed graph without gradient gates adds none', () => {
    const b = new GraphBuilder('x');
    b.output(b.input('h', 'float32', ['batch', 8]).relu(), 'out');
    const plain = b.build();
    const withPlain = composeModel(host, [{ seedId: 'hidden1', slot, seed: { graph: plain, parameterNames: [], parameterCount: 0, confidenceGate: false } }], 1);
    expect(gateTable(withPlain.graph)).toEqual({});
  });
});
