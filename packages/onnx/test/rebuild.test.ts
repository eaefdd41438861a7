// A trainer rebuilt mid-run (a seed grafted or removed) carries values, optimizer state and the
// step count by parameter name; per-group clipping and per-parameter Adam steps keep the groups
// of one graph from influencing each other's updates.
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxGraphError, OnnxParameterError, OnnxRunError, OnnxRuntime, ParameterSet, Trainer, buildTrainingGraph, carryTrainerState, f32, i64,
  initParameters, mse, softmaxCrossEntropy, stackBatches, type Graph, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import { tinyMlpForward, tinyMlpParameters } from './tiny-mlp.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

function batches(seed: number, count: number, size = 6): { x: TensorData; labels: TensorData }[] {
  const p = new Prng(seed);
  return Array.from({ length: count }, () => ({
    x: f32([size, 4], Array.from({ length: size * 4 }, () => p.normal())),
    labels: i64([size], Array.from({ length: size }, () => Math.floor(p.next() * 3))),
  }));
}

const bits = (t: TensorData) => Array.from(t.data as Float32Array);

/** The tiny MLP with an extra residual adapter `h + relu(h·down)·up` after the hidden layer. */
function mlpWithAdapter(params: ParameterSet): Graph {
  const g = new GraphBuilder('mlp-adapter');
  const x = g.input('x', 'float32', ['batch', 4]);
  const y = g.input('labels', 'int64', ['batch']);
  const p = (n: string) => g.param(n, params.get(n));
  const h = x.matmul(p('fc1.w')).add(p('fc1.b')).relu();
  const s = h.add(h.matmul(p('seed.down')).relu().matmul(p('seed.up')));
  const logits = s.matmul(p('fc2.w')).add(p('fc2.b'));
  g.output(logits, 'logits');
  g.output(softmaxCrossEntropy(logits, y), 'loss');
  return g.build();
}

function adapterParameters(): ParameterSet {
  const host = tinyMlpParameters(4, 8, 3, 11);
  const seed = initParameters([
    { name: 'seed.down', dims: [8, 2], init: { kind: 'kaiming' } },
    { name: 'seed.up', dims: [2, 8], init: { kind: 'zeros' } },
  ], 5);
  return new ParameterSet([...host, ...seed]);
}

describe('carrying a trainer across a rebuild', () => {
  for (const biasCorrection of ['global', 'per-parameter'] as const) {
    it(`a rebuild with identical topology continues bit for bit like no rebuild (Adam, ${biasCorrection} bias correction, stepMany)`, async () => {
      const params = tinyMlpParameters(4, 8, 3, 11);
      const options = { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 0.01 }, metrics: ['logits'], biasCorrection } as const;
      const data = batches(3, 8);
      const straight = await Trainer.create(rt, buildTrainingGraph(tinyMlpForward(params), options), params);
      const expected = [...(await straight.stepMany(stackBatches(data.slice(0, 4)), 0.02)), ...(await straight.stepMany(stackBatches(data.slice(4)), 0.02))];

      const first = await Trainer.create(rt, buildTrainingGraph(tinyMlpForward(params), options), params);
      const before = await first.stepMany(stackBatches(data.slice(0, 4)), 0.02);
      // The rebuild: a new forward graph (start values = the initial ones), a new training graph.
      const spec = buildTrainingGraph(tinyMlpForward(params), options);
      const carried = carryTrainerState(spec, ParameterSet.fromGraph(tinyMlpForward(params)), first.snapshot());
      expect(carried.carried).toEqual(['fc1.w', 'fc1.b', 'fc2.w', 'fc2.b']);
      expect(carried.fresh).toEqual([]);
      expect(carried.dropped).toEqual([]);
      expect(carried.optimizerState.size).toBe(spec.state.length);
      await first.dispose();
      const second = await Trainer.create(rt, spec, carried.parameters, {}, carried);
      expect(second.stepCount).toBe(4);
      const after = await second.stepMany(stackBatches(data.slice(4)), 0.02);

      const got = [...before, ...after];
      expect(got.map((r) => r.step)).toEqual(expected.map((r) => r.step));
      expect(got.map((r) => r.loss)).toEqual(expected.map((r) => r.loss));
      expect(got.map((r) => r.gradNorms)).toEqual(expected.map((r) => r.gradNorms));
      for (const [name, t] of straight.parameters) expect(bits(second.parameters.get(name))).toEqual(bits(t));
      for (const [name, t] of straight.optimizerState) expect(bits(second.optimizerState.get(name)!)).toEqual(bits(t));
      await straight.dispose();
      await second.dispose();
    });
  }

  it('a graft keeps the surviving parameters and their moments; the new ones start from their initial values with zero state', async () => {
    const host = tinyMlpParameters(4, 8, 3, 11);
    const options = { loss: 'loss', optimizer: { kind: 'adam' }, biasCorrection: 'per-parameter' } as const;
    const data = batches(4, 6);
    const hostTrainer = await Trainer.create(rt, buildTrainingGraph(tinyMlpForward(host), options), host);
    await hostTrainer.stepMany(stackBatches(data.slice(0, 3)), 0.01);
    const old = hostTrainer.snapshot();

    const initial = adapterParameters();
    const spec = buildTrainingGraph(mlpWithAdapter(initial), options);
    const carried = carryTrainerState(spec, initial, old);
    expect(carried.carried).toEqual(['fc1.w', 'fc1.b', 'fc2.w', 'fc2.b']);
    expect(carried.fresh).toEqual(['seed.down', 'seed.up']);
    expect(bits(carried.parameters.get('fc1.w'))).toEqual(bits(old.parameters.get('fc1.w')));
    expect(bits(carried.parameters.get('seed.down'))).toEqual(bits(initial.get('seed.down')));
    // Moments and step counts of surviving parameters carry; the seed's slots are not given (zero).
    expect(carried.optimizerState.get('opt/fc1.w/m')).toBe(old.optimizerState.get('opt/fc1.w/m'));
    expect(bits(carried.optimizerState.get('opt/fc1.w/t')!)).toEqual([3]);
    expect(carried.optimizerState.has('opt/seed.up/m')).toBe(false);

    const grown = await Trainer.create(rt, spec, carried.parameters, {}, carried);
    expect(grown.stepCount).toBe(3);
    expect(bits(grown.optimizerState.get('opt/seed.up/m')!)).toEqual(new Array(16).fill(0));
    await grown.stepMany(stackBatches(data.slice(3)), 0.01);
    expect(bits(grown.optimizerState.get('opt/fc1.w/t')!)).toEqual([6]);
    expect(bits(grown.optimizerState.get('opt/seed.up/t')!)).toEqual([3]);

    // Removing the adapter again drops its parameters and keeps everything else.
    const back = carryTrainerState(buildTrainingGraph(tinyMlpForward(host), options), host, grown.snapshot());
    expect(back.dropped).toEqual(['seed.down', 'seed.up']);
    expect(back.fresh).toEqual([]);
    expect(bits(back.parameters.get('fc2.w'))).toEqual(bits(grown.parameters.get('fc2.w')));
    await hostTrainer.dispose();
    await grown.dispose();
  });

  it('per-parameter bias correction: a parameter that joins at step 100 takes the steps of a fresh Adam', async () => {
    const params = tinyMlpParameters(4, 8, 3, 11);
    const data = batches(5, 3);
    const fresh = await Trainer.create(rt, buildTrainingGraph(tinyMlpForward(params), { loss: 'loss', optimizer: { kind: 'adam' } }), params);
    const late = await Trainer.create(rt, buildTrainingGraph(tinyMlpForward(params), { loss: 'loss', optimizer: { kind: 'adam' }, biasCorrection: 'per-parameter' }), params, {}, { stepCount: 100 });
    for (const b of data) {
      const a = await fresh.step(b, 0.01);
      const c = await late.step(b, 0.01);
      expect(c.step).toBe(a.step + 100);
      expect(c.loss).toBe(a.loss);
    }
    for (const [name, t] of fresh.parameters) expect(bits(late.parameters.get(name))).toEqual(bits(t));
    await fresh.dispose();
    await late.dispose();
  });

  it('compileSingleStep: false compiles the one-step session only at the first step()', async () => {
    const params = tinyMlpParameters(4, 8, 3, 11);
    const spec = buildTrainingGraph(tinyMlpForward(params), { loss: 'loss', optimizer: { kind: 'adam' } });
    const data = batches(6, 3);
    const eager = await Trainer.create(rt, spec, params);
    const lazy = await Trainer.create(rt, spec, params, {}, { compileSingleStep: false });
    expect(() => lazy.session).toThrow(OnnxRunError);
    const created = rt.metrics.sessionsCreated;
    const many = await lazy.stepMany(stackBatches(data.slice(0, 2)), 0.01);
    expect(rt.metrics.sessionsCreated).toBe(created + 1); // the Scan graph only
    const one = await lazy.step(data[2]!, 0.01);
    expect(rt.metrics.sessionsCreated).toBe(created + 2);
    expect(lazy.session.backend).toBe('cpu');
    const expected = [await eager.step(data[0]!, 0.01), await eager.step(data[1]!, 0.01), await eager.step(data[2]!, 0.01)];
    expect([...many, one].map((r) => r.loss)).toEqual(expected.map((r) => r.loss));
    await eager.dispose();
    await lazy.dispose();
  });

  it('rejects state it cannot use', async () => {
    const params = tinyMlpParameters(4, 8, 3, 11);
    const spec = buildTrainingGraph(tinyMlpForward(params), { loss: 'loss', optimizer: { kind: 'adam' } });
    await expect(Trainer.create(rt, spec, params, {}, { optimizerState: new Map([['opt/nope/m', f32([1], [0])]]) })).rejects.toThrow(OnnxParameterError);
    await expect(Trainer.create(rt, spec, params, {}, { optimizerState: new Map([['opt/fc1.b/m', f32([3], [0, 0, 0])]]) })).rejects.toThrow(/wants float32\[8\]/);
    await expect(Trainer.create(rt, spec, params, {}, { stepCount: -1 })).rejects.toThrow(OnnxParameterError);
  });
});

describe('gradient clipping per group', () => {
  // Two independent regressions in one graph: loss = mse(x·a, y) + mse(x·b, 10·y).
  function twoHeads(): Graph {
    const g = new GraphBuilder('two-heads');
    const x = g.input('x', 'float32', ['n', 3]);
    const y = g.input('y', 'float32', ['n', 1]);
    const a = g.param('a', f32([3, 1], [0.1, -0.2, 0.3]));
    const b = g.param('b', f32([3, 1], [0.5, 0.5, -0.5]));
    g.output(mse(x.matmul(a), y).add(mse(x.matmul(b), y.mul(10))), 'loss');
    return g.build();
  }
  function headA(): Graph {
    const g = new GraphBuilder('head-a');
    const x = g.input('x', 'float32', ['n', 3]);
    const y = g.input('y', 'float32', ['n', 1]);
    const a = g.param('a', f32([3, 1], [0.1, -0.2, 0.3]));
    g.output(mse(x.matmul(a), y), 'loss');
    return g.build();
  }
  const batch = { x: f32([4, 3], [1, 2, 0, -1, 0.5, 2, 0, 1, -1, 3, -2, 1]), y: f32([4, 1], [1, -1, 0.5, 2]) };

  it("one group's update does not depend on another's gradient (global clipping would couple them)", async () => {
    const groups = { host: ['a'], seed: ['b'] };
    const perGroup = await Trainer.create(rt, buildTrainingGraph(twoHeads(), { loss: 'loss', optimizer: { kind: 'adam' }, clipGradNorm: 0.5, clipScope: 'groups', groups }), ParameterSet.fromGraph(twoHeads()));
    const global = await Trainer.create(rt, buildTrainingGraph(twoHeads(), { loss: 'loss', optimizer: { kind: 'sgd' }, clipGradNorm: 0.5, groups }), ParameterSet.fromGraph(twoHeads()));
    const alone = await Trainer.create(rt, buildTrainingGraph(headA(), { loss: 'loss', optimizer: { kind: 'adam' }, clipGradNorm: 0.5 }), ParameterSet.fromGraph(headA()));
    const aloneSgd = await Trainer.create(rt, buildTrainingGraph(headA(), { loss: 'loss', optimizer: { kind: 'sgd' }, clipGradNorm: 0.5 }), ParameterSet.fromGraph(headA()));
    for (let i = 0; i < 3; i++) {
      const r = await perGroup.step(batch, 0.05);
      expect(r.gradNorms.host).toBeGreaterThan(0.5);
      await global.step(batch, 0.05);
      await alone.step(batch, 0.05);
      await aloneSgd.step(batch, 0.05);
    }
    expect(bits(perGroup.parameters.get('a'))).toEqual(bits(alone.parameters.get('a')));
    expect(bits(global.parameters.get('a'))).not.toEqual(bits(aloneSgd.parameters.get('a')));
    for (const t of [perGroup, global, alone, aloneSgd]) await t.dispose();
  });

  it('needs the groups to partition the trainable parameters', () => {
    expect(() => buildTrainingGraph(twoHeads(), { loss: 'loss', optimizer: { kind: 'sgd' }, clipGradNorm: 1, clipScope: 'groups', groups: { host: ['a'] } })).toThrow(OnnxGraphError);
    expect(() => buildTrainingGraph(twoHeads(), { loss: 'loss', optimizer: { kind: 'sgd' }, clipGradNorm: 1, clipScope: 'groups', groups: { x: ['a', 'b'], y: ['b'] } })).toThrow(/disjoint/);
  });
});
