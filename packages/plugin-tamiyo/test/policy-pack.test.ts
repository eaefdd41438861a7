// Allocation-free decision path (decision 0063, GC pressure): packGraph into a reused
// PackScratch gives exactly the feeds of a fresh pack, whatever the order of graph sizes; a
// reused graph builder gives the edges and coverage of a fresh one, and shares its coverage map
// only while nothing changed.
import { create } from '@bufbuild/protobuf';
import { SeedStateSchema, SystemStatePacketSchema, type SystemStatePacket } from '@esper/core/leyline';
import { Prng } from '@esper/onnx';
import { describe, expect, test } from 'vitest';
import type { AdaptationCommand } from '@esper/core/leyline';
import { PolicyGraphBuilder, type BlueprintMetadata, type PolicyGraph } from '../src/graph/builder.js';
import { REFERENCE_DIMS, type PolicyDims } from '../src/policy/architecture.js';
import { PackScratch, packGraph, type PolicyFeeds } from '../src/policy/pack.js';
import { gnnHarness, statePacket } from './gnn-harness.js';
import { randomPolicyGraph } from './random-graph.js';

const SMALL: PolicyDims = { ...REFERENCE_DIMS, heads: 2 };

/** A random graph (test/random-graph.ts) with 1–`maxSeeds` seeds; each relation empty with probability 0.3. */
const randomGraph = (prng: Prng, maxSeeds: number): PolicyGraph => randomPolicyGraph(prng, maxSeeds, 0.3);

/** Feeds as plain data (dtype, dims, values), for exact comparison. */
function plain(feeds: PolicyFeeds): Record<string, [string, readonly number[], unknown[]]> {
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, [t.dtype, t.dims, Array.from(t.data as ArrayLike<unknown>)]]));
}

describe('packGraph with a PackScratch', () => {
  test('equals a fresh pack for graphs that grow, shrink and grow again (zero-filled reuse, exact lengths)', () => {
    const prng = new Prng(63);
    const scratch = new PackScratch();
    const sizes = [2, 12, 1, 16, 3, 16, 1, 8];
    for (const [i, maxSeeds] of sizes.entries()) {
      const graph = randomGraph(prng, maxSeeds);
      const reused = packGraph(graph, SMALL, scratch);
      const fresh = packGraph(graph, SMALL);
      expect(plain(reused), `graph ${i}`).toEqual(plain(fresh));
      for (const [name, t] of Object.entries(reused)) expect(t.data.length, name).toBe(t.dims.reduce((a, b) => a * b, 1));
    }
  });

  test('feeds of one call share the scratch buffers; without a scratch every call has its own arrays', () => {
    const graph = randomGraph(new Prng(5), 4);
    const scratch = new PackScratch();
    const a = packGraph(graph, SMALL, scratch);
    const b = packGraph(graph, SMALL, scratch);
    expect(a.sage_adj!.data.buffer).toBe(b.sage_adj!.data.buffer);
    const c = packGraph(graph, SMALL);
    const d = packGraph(graph, SMALL);
    expect(c.sage_adj!.data.buffer).not.toBe(d.sage_adj!.data.buffer);
    expect(plain(a)).toEqual(plain(c));
  });
});

function packet(step: number, seeds: number): SystemStatePacket {
  return create(SystemStatePacketSchema, {
    currentEpoch: 1 + (step % 4),
    globalStep: BigInt(step),
    validationLoss: 0.3,
    trainingLoss: step % 3 === 0 ? 0 : 0.4,
    trainingRunId: 'run-p',
    trainingMetrics: step % 2 === 0 ? { loss: 0.5, val_loss: 0.3 } : { grad_norm: 1 },
    seedStates: Array.from({ length: seeds }, (_, i) => create(SeedStateSchema, { seedId: `s${i}`, stage: 1 + ((i + step) % 6), layerDepth: i % 3, riskScore: (i + step) % 4 === 0 ? 0.2 : 0 })),
  });
}

const META: BlueprintMetadata = { risk: 0.3, graph: { layers: [{ depth: 0, type: 'linear' }, { depth: 1 }], adjacency: [[0, 1]], monitored_layers: [[0, 1, 0.5]] } };

describe('PolicyGraphBuilder reuse', () => {
  test('a reused builder gives the edges and coverage of a fresh builder for every packet', () => {
    const reused = new PolicyGraphBuilder();
    for (let step = 0; step < 24; step++) {
      const p = packet(step, [1, 4, 0, 16, 2][step % 5]!);
      const meta = step % 4 === 3 ? META : undefined;
      const a = reused.build(p, 'BP001', meta);
      const b = new PolicyGraphBuilder().build(p, 'BP001', meta);
      expect([...a.coverage], `step ${step}`).toEqual([...b.coverage]);
      expect(a.counts).toEqual(b.counts);
      a.edges.forEach((e, r) => {
        expect(e.count, `step ${step} relation ${r}`).toBe(b.edges[r]!.count);
        expect([...e.src]).toEqual([...b.edges[r]!.src]);
        expect([...e.dst]).toEqual([...b.edges[r]!.dst]);
        expect([...e.attr]).toEqual([...b.edges[r]!.attr]);
      });
    }
  });

  test('the coverage map is shared while unchanged, replaced when a value changes, and never modified', () => {
    const builder = new PolicyGraphBuilder();
    const first = builder.build(packet(2, 4), 'BP001');
    const snapshot = [...first.coverage];
    const same = builder.build(packet(2, 4), 'BP001');
    expect(same.coverage).toBe(first.coverage);
    const other = builder.build(packet(1, 4), 'BP001');
    expect(other.coverage).not.toBe(first.coverage);
    expect([...first.coverage]).toEqual(snapshot);
    expect([...other.coverage]).not.toEqual(snapshot);
  });
});

describe('GnnController feed buffers', () => {
  /** What a decision decided, without its id, time and signature. */
  const decided = (c: AdaptationCommand) => {
    const { signature: _signature, ...annotations } = c.annotations;
    return { type: c.commandType, target: c.targetSeedId, annotations };
  };

  test.each([true, false])('overlapping decisions (worker: %s) each run on their own feeds: the same commands as one after another', async (worker) => {
    const packets = [statePacket([1, 3], 2, 0.4), statePacket([1, 1, 3, 1, 2], 3, 0.35), statePacket([2, 1, 1], 4, 0.3)];
    const sequential = await gnnHarness({ worker, blueprints: ['BP001'] });
    const overlapping = await gnnHarness({ worker, blueprints: ['BP001'] });
    try {
      const one: AdaptationCommand[] = [];
      for (const p of packets) one.push(await sequential.controller.evaluateEpoch(p));
      // All three are packed before the first run settles: the second and third get fresh arrays.
      const all = await Promise.all(packets.map((p) => overlapping.controller.evaluateEpoch(p)));
      expect(all.map(decided)).toEqual(one.map(decided));
      // And once they have settled, the next decision reuses the scratch again.
      const next = statePacket([1, 3, 3], 5, 0.3);
      expect(decided(await overlapping.controller.evaluateEpoch(next))).toEqual(decided(await sequential.controller.evaluateEpoch(next)));
    } finally {
      await sequential.controller.dispose();
      await overlapping.controller.dispose();
    }
  });
});
