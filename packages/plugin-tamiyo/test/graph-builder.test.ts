import { create } from '@bufbuild/protobuf';
import { SeedStateSchema, SystemStatePacketSchema, type SystemStatePacket } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { PolicyGraphBuilder, coverageTypes } from '../src/graph/builder.js';
import { FeatureNormaliser, N } from '../src/graph/normaliser.js';
import { Registry, createRegistries } from '../src/graph/registry.js';
import { FEATURE_DIMS, R, RELATIONS, RELATIONS_INTO } from '../src/graph/schema.js';

function packet(seeds: { id?: string; stage: number; depth?: number; blend?: number; risk?: number }[] = []): SystemStatePacket {
  return create(SystemStatePacketSchema, {
    currentEpoch: 2,
    validationLoss: 0.3,
    trainingRunId: 'run-g',
    packetId: 'run-g-step-7',
    trainingMetrics: { loss: 0.5, val_loss: 0.3 },
    seedStates: seeds.map((s) => create(SeedStateSchema, { seedId: s.id ?? '', stage: s.stage, layerDepth: s.depth ?? 0, riskScore: s.risk ?? 0, metrics: s.blend === undefined ? {} : { blend_allowed: s.blend } })),
  });
}

const count = (g: ReturnType<PolicyGraphBuilder['build']>, r: number) => g.edges[r]!.count;

describe('graph schema', () => {
  test('21 relations with the reference per-destination counts', () => {
    expect(RELATIONS).toHaveLength(21);
    expect(RELATIONS_INTO).toEqual({ global: 3, seed: 4, blueprint: 3, layer: 5, activation: 4, parameter: 2 });
    expect(new Set(RELATIONS.map((r) => r.key)).size).toBe(21);
  });
});

describe('PolicyGraphBuilder', () => {
  test('no seeds: global 1×16, seed 0×14, blueprint 1×14; seed relations empty with [0,3] attributes', () => {
    const g = new PolicyGraphBuilder().build(packet(), 'BP001');
    expect(g.counts).toEqual({ global: 1, seed: 0, blueprint: 1, layer: 3, activation: 1, parameter: 1 });
    expect(g.features.global).toHaveLength(16);
    expect(g.features.seed).toHaveLength(0);
    expect(g.features.blueprint).toHaveLength(FEATURE_DIMS.blueprint);
    for (const r of [R.influences, R.reports, R.peer, R.allowed, R.associated, R.monitors, R.layerMonitoredBy]) {
      expect(count(g, r)).toBe(0);
      expect(g.edges[r]!.attr).toHaveLength(0);
    }
    expect(g.coverage.get('global.loss')).toBe(1);
    expect(g.coverage.get('edges.seed_monitors')).toBe(0);
    expect(g.blueprintId).toBe('BP001');
  });

  test('seed masks: a TRAINING seed with only id and stage', () => {
    const g = new PolicyGraphBuilder().build(packet([{ id: 'a', stage: 3 }]), 'BP001');
    const row = g.features.seed;
    for (const c of [1, 3, 5, 7, 11]) expect(row[c], `col ${c}`).toBe(0);
    expect(row[9]).toBe(1);
    expect(row[8]).toBeCloseTo(3 / 11);
    expect(row[13]).toBe(0);
    expect(g.seedFallbackScores[0]).toBeCloseTo(0 + 1 + 3 / 11);
  });

  test('P4 scenario: two layers, activations, parameters and seeds; adjacency [[0,1]]; blueprint risk', () => {
    const b = new PolicyGraphBuilder({ maxLayers: 2, maxActivations: 2, maxParameters: 2 });
    const g = b.build(packet([{ id: 'a', stage: 4 }, { id: 'b', stage: 4 }]), 'BP001', {
      risk: 0.35,
      graph: {
        layers: [{ depth: 0 }, { depth: 1 }],
        activations: [{ type: 'relu' }, { type: 'gelu' }],
        parameters: [{ name: 'alpha', min: 0, max: 1 }, { name: 'beta', min: 0, max: 2 }],
        adjacency: [[0, 1]],
      },
    });
    expect(count(g, R.activates)).toBe(4);
    expect(count(g, R.feeds)).toBe(4);
    expect(count(g, R.allowed)).toBe(4);
    expect(count(g, R.annotates)).toBe(1);
    expect(count(g, R.connects)).toBe(1);
    expect(g.edges[R.monitors]!.attr).toHaveLength(count(g, R.monitors) * 3);
    expect(g.features.blueprint[5]).toBeCloseTo(0.35);
    expect(g.coverage.has('edges.layer_connects')).toBe(true);
    expect(g.coverage.has('edges.seed_monitors')).toBe(true);
    expect(Object.keys(b.normaliser.toJSON())).toEqual(expect.arrayContaining(['loss', 'layer_latency_ms', 'parameter_default', 'epoch_progress']));
  });

  test('capability edges follow blend_allowed and the by-id / by-index allowlists', () => {
    const parameters = [{ name: 'alpha' }, { name: 'beta' }];
    const b = new PolicyGraphBuilder({ maxParameters: 2 });
    const none = b.build(packet([{ id: 'A', stage: 3 }, { id: 'B', stage: 3 }]), 'BP', { graph: { parameters } });
    expect(count(none, R.allowed)).toBe(0);
    expect(none.coverage.get('edges.seed_param_allowed')).toBe(0);
    const onlyA = b.build(packet([{ id: 'A', stage: 3, blend: 1 }, { id: 'B', stage: 3 }]), 'BP', { graph: { parameters } });
    expect([count(onlyA, R.allowed), count(onlyA, R.associated)]).toEqual([2, 2]);
    const byId = b.build(packet([{ id: 'A', stage: 4 }, { id: 'B', stage: 4 }]), 'BP', {
      graph: { parameters, capabilities: { allowed_parameters_by_seed_id: { A: ['alpha'], B: [] } } },
    });
    expect(count(byId, R.allowed)).toBe(1);
    const byIndex = b.build(packet([{ id: 'A', stage: 4 }, { id: 'B', stage: 4 }]), 'BP', { graph: { parameters, capabilities: { allowed_parameters_by_seed_index: { '1': [1] } } } });
    expect(count(byIndex, R.allowed)).toBe(3);
  });

  test('three layers with adjacency [[0,1],[1,2]] → 2 connects edges; one layer → none (an empty relation)', () => {
    const b = new PolicyGraphBuilder();
    expect(count(b.build(packet([{ stage: 1 }]), 'BP', { graph: { layers: [{}, {}, {}], adjacency: [[0, 1], [1, 2]] } }), R.connects)).toBe(2);
    const single = b.build(packet([{ stage: 1 }]), 'BP', { graph: { layers: [{ depth: 0 }] } });
    expect(single.counts.layer).toBe(1);
    expect(count(single, R.connects)).toBe(0);
    expect(count(single, R.peer)).toBe(0);
    expect(single.seedIds).toEqual(['seed-0']);
  });

  test('seed monitors: heuristic depth mapping, else explicit pairs filtered by thresholds', () => {
    const b = new PolicyGraphBuilder();
    const heuristic = b.build(packet([{ id: 'a', stage: 3, depth: 2 }, { id: 'b', stage: 3, depth: 9 }]), 'BP');
    expect([...heuristic.edges[R.monitors]!.dst]).toEqual([2, 2]);
    const explicit = b.build(packet([{ id: 'a', stage: 3, risk: 0.9 }, { id: 'b', stage: 3 }]), 'BP', {
      graph: { monitored_layers: [[0, 1], [1, 0, 0.7]], monitors: { thresholds: { risk_max: 0.5 } } },
    });
    expect([...explicit.edges[R.monitors]!.src]).toEqual([1]);
    expect(explicit.edges[R.monitors]!.attr[2]).toBeCloseTo(0.7);
  });

  test('typed coverage has node and edge families', () => {
    const g = new PolicyGraphBuilder().build(packet([{ id: 'a', stage: 3 }]), 'BP');
    const types = coverageTypes(g.coverage);
    expect(Object.keys(types)).toEqual(expect.arrayContaining(['node.global', 'node.seed', 'edges.layer_connects']));
    expect(types['edges.seed_param_allowed']).toBeUndefined();
  });
});

describe('FeatureNormaliser', () => {
  test('EWMA with α = 0.1 from the priors, applied with the updated statistics', () => {
    const n = new FeatureNormaliser();
    const x = 1.4;
    const d = x - 0.8;
    const mean = 0.8 + 0.1 * d;
    const v = 0.9 * (0.09 + 0.1 * d * d);
    expect(n.normalize(N.loss, x)).toBeCloseTo((x - mean) / Math.sqrt(v), 12);
    expect(n.dirty).toBe(true);
    const copy = new FeatureNormaliser(JSON.parse(JSON.stringify(n.toJSON())) as never);
    expect(copy.mean[N.loss]).toBeCloseTo(mean, 12);
    expect(new FeatureNormaliser({ loss: { mean: 2, std: 3 } }).variance[N.loss]).toBe(9);
  });
});

describe('Registry', () => {
  test('empty key 0, new keys 1, 2, …; pre-seeded keys first; persisted table round-trips with the same digest', () => {
    const r = new Registry('seed_registry', 1024);
    expect([r.index(''), r.index('a'), r.index('b'), r.index('a')]).toEqual([0, 1, 2, 1]);
    const again = new Registry('seed_registry', 1024);
    again.load(r.toJSON());
    expect(again.index('b')).toBe(2);
    expect(again.digest()).toBe(r.digest());
    const regs = createRegistries();
    expect(regs.schedule.index('linear')).toBe(1);
    expect(regs.optimizerFamily.index('adagrad')).toBe(5);
  });

  test('past the cap keys hash stably and are not stored', () => {
    const r = new Registry('x', 3);
    r.index('a');
    r.index('b');
    const h = r.index('c');
    expect(h).toBeLessThan(3);
    expect(r.index('c')).toBe(h);
    expect(r.size).toBe(2);
  });
});
