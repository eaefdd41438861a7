// Empty batches and non-finite steps (issue 16, findings 2, 3 and 4).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, NON_FINITE_OUTPUT, OnnxRuntime, ParameterSet, Trainer, buildTrainingGraph, conv2d, f32, gradients, i64, mse, reduceMean, softmaxCrossEntropy,
  stackBatches, toNumbers, type OptimizerSpec, type TensorData,
} from '../src/index.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

const root = fileURLToPath(new URL('../../..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/empty-batch-child.ts', import.meta.url));

/** Runs test/fixtures/empty-batch-child.ts in a fresh process with a timeout: a hang fails instead of blocking the suite. */
function inChild(mode: 'trainer' | 'gradient'): unknown {
  const run = spawnSync(process.execPath, ['--conditions=@esper/source', '--import', 'tsx', child, mode], { cwd: root, encoding: 'utf8', timeout: 90_000 });
  const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`child did not finish (status ${run.status}, signal ${run.signal}): ${run.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

// loss = mean((x·w − y)²) + mean(x·v): two parameters, so groups can differ.
function forward() {
  const g = new GraphBuilder('linear');
  const x = g.input('x', 'float32', ['n', 3]);
  const y = g.input('y', 'float32', ['n', 2]);
  const w = g.param('w', f32([3, 2], [0.1, -0.2, 0.3, 0.05, -0.1, 0.2]));
  const v = g.param('v', f32([3, 1], [0.5, -0.5, 0.25]));
  g.output(mse(x.matmul(w), y).add(reduceMean(x.matmul(v), undefined, { keepDims: false })), 'loss');
  return g.build();
}

const X = [0.5, -1, 2, 1, 0.25, -0.5, -1.5, 1, 0.75, 0.2, 0.4, -0.3];
const Y = [1, 0, -1, 2, 0.5, 0.5, 0, -1];
const batch = (scale = 1) => ({ x: f32([4, 3], X.map((v) => v * scale)), y: f32([4, 2], Y) });
const poisoned = (value: number) => {
  const x = [...X];
  x[4] = value;
  return { x: f32([4, 3], x), y: f32([4, 2], Y) };
};
const empty = { x: f32([0, 3], []), y: f32([0, 2], []) };

/** Parameters and optimizer state as plain arrays, to compare bit for bit. */
function snapshot(t: Trainer): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, v] of t.parameters) out[name] = Array.from(v.data as Float32Array);
  for (const [name, v] of t.optimizerState) out[name] = Array.from(v.data);
  return out;
}

const OPTIMIZERS: [string, OptimizerSpec][] = [
  ['Adam', { kind: 'adam' }],
  ['AdamW', { kind: 'adamw', weightDecay: 0.1 }],
  ['SGD + momentum', { kind: 'sgd', momentum: 0.9 }],
  ['SGD', { kind: 'sgd' }],
];

describe('non-finite guard', () => {
  for (const [name, optimizer] of OPTIMIZERS) {
    it(`${name}: a NaN or ±∞ in a batch changes nothing, is reported and counted, and later steps continue as if it never came`, async () => {
      const spec = buildTrainingGraph(forward(), { loss: 'loss', optimizer, clipGradNorm: 1 });
      expect(spec.outputs.nonFinite).toBe(NON_FINITE_OUTPUT);
      const guarded = await Trainer.create(rt, spec, ParameterSet.fromGraph(forward()));
      const clean = await Trainer.create(rt, spec, ParameterSet.fromGraph(forward()));
      await guarded.step(batch(), 0.05);
      await clean.step(batch(), 0.05);
      const before = snapshot(guarded);
      for (const bad of [Number.NaN, Infinity, -Infinity]) {
        const r = await guarded.step(poisoned(bad), 0.05);
        expect(r.nonFinite).toBe(true);
        expect(r.step).toBe(2);
        expect(snapshot(guarded)).toEqual(before);
      }
      expect(guarded.stepCount).toBe(1);
      expect(guarded.nonFiniteSteps).toBe(3);
      const a = await guarded.step(batch(0.5), 0.05);
      const b = await clean.step(batch(0.5), 0.05);
      expect(a).toEqual(b);
      expect(a.nonFinite).toBe(false);
      expect(snapshot(guarded)).toEqual(snapshot(clean));
      await guarded.dispose();
      await clean.dispose();
    });
  }

  it('stepMany: each step of the Scan is guarded on its own, and equals step() on the finite batches', async () => {
    const spec = buildTrainingGraph(forward(), { loss: 'loss', optimizer: { kind: 'adam' } });
    const many = await Trainer.create(rt, spec, ParameterSet.fromGraph(forward()));
    const single = await Trainer.create(rt, spec, ParameterSet.fromGraph(forward()));
    const batches = [batch(1), poisoned(Number.NaN), batch(0.5), poisoned(Infinity), batch(2)];
    const results = await many.stepMany(stackBatches(batches), 0.05);
    expect(results.map((r) => r.nonFinite)).toEqual([false, true, false, true, false]);
    expect(results.map((r) => r.step)).toEqual([1, 2, 2, 3, 3]);
    expect(many.stepCount).toBe(3);
    expect(many.nonFiniteSteps).toBe(2);
    const finite = [];
    for (const b of [batch(1), batch(0.5), batch(2)]) finite.push(await single.step(b, 0.05));
    expect(results.filter((r) => !r.nonFinite)).toEqual(finite);
    expect(snapshot(many)).toEqual(snapshot(single));
    await many.dispose();
    await single.dispose();
  });

  it("with per-group clipping, a group with a non-finite norm keeps its values and the others still step", async () => {
    // d sqrt(u) / du is +∞ at u = 0: the loss is finite, u's gradient is not.
    const g = new GraphBuilder('sqrt');
    const x = g.input('x', 'float32', ['n', 3]);
    const w = g.param('w', f32([3, 1], [0.1, 0.2, 0.3]));
    const u = g.param('u', f32([1], [0]));
    g.output(reduceMean(x.matmul(w), undefined, { keepDims: false }).add(reduceMean(u.sqrt(), undefined, { keepDims: false })), 'loss');
    const graph = g.build();
    const spec = buildTrainingGraph(graph, { loss: 'loss', optimizer: { kind: 'sgd' }, clipGradNorm: 10, clipScope: 'groups', groups: { host: ['w'], seed: ['u'] } });
    const t = await Trainer.create(rt, spec, ParameterSet.fromGraph(graph));
    const r = await t.step({ x: f32([2, 3], [1, 2, 3, 4, 5, 6]) }, 0.1);
    expect(r.nonFinite).toBe(true);
    expect(r.gradNorms.seed).toBe(Infinity);
    expect(Array.from(t.parameters.get('u').data)).toEqual([0]);
    const want = [0.1 - 0.1 * 2.5, 0.2 - 0.1 * 3.5, 0.3 - 0.1 * 4.5];
    Array.from(t.parameters.get('w').data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    await t.dispose();
  });

  it('is on by default and can be turned off, in which case a NaN reaches every parameter', async () => {
    const spec = buildTrainingGraph(forward(), { loss: 'loss', optimizer: { kind: 'adam' }, nonFiniteGuard: false });
    expect(spec.outputs.nonFinite).toBeUndefined();
    expect(spec.graph.outputs.map((o) => o.name)).not.toContain(NON_FINITE_OUTPUT);
    expect(spec.graph.nodes.map((n) => n.opType)).not.toContain('If');
    const t = await Trainer.create(rt, spec, ParameterSet.fromGraph(forward()));
    const r = await t.step(poisoned(Number.NaN), 0.05);
    expect(r.nonFinite).toBe(false);
    expect(Array.from(t.parameters.get('w').data).every(Number.isNaN)).toBe(true);
    await t.dispose();
  });
});

describe('empty batches', () => {
  it('a step on an empty batch runs nothing and says so: no step counted, no decay, for step() and stepMany()', async () => {
    const spec = buildTrainingGraph(forward(), { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 0.5 } });
    const t = await Trainer.create(rt, spec, ParameterSet.fromGraph(forward()));
    const before = snapshot(t);
    const r = await t.step(empty, 0.1);
    expect(r).toMatchObject({ step: 1, emptyBatch: true, nonFinite: false, metrics: {}, gradNorms: { w: 0, v: 0, global: 0 } });
    expect(r.loss).toBeNaN();
    const rs = await t.stepMany(stackBatches([empty, empty, empty]), 0.1);
    expect(rs.map((x) => [x.step, x.emptyBatch])).toEqual([[1, true], [1, true], [1, true]]);
    expect(t.stepCount).toBe(0);
    expect(t.emptyBatches).toBe(4);
    expect(snapshot(t)).toEqual(before);
    expect(t.isEmptyBatch(batch())).toBe(false);
    await t.dispose();
  });

  it('a Conv training step on an empty batch returns at once (ONNX Runtime spins forever on its weight gradient)', () => {
    expect(inChild('trainer')).toEqual({
      one: { step: 1, loss: 'NaN', metrics: {}, gradNorms: { 'c.w': 0, 'fc.w': 0, global: 0 }, nonFinite: false, emptyBatch: true },
      many: [true, true],
      stepCount: 0,
      emptyBatches: 3,
      unchanged: true,
    });
  }, 120_000);

  it("a Conv weight gradient run directly on an empty batch is zeros (an If skips ORT's 0-channel Conv)", () => {
    expect(inChild('gradient')).toEqual({ dims: [4, 2, 3, 3], zeros: true, gx: [0, 2, 6, 6] });
  }, 120_000);

  it('softmaxCrossEntropy and mse of an empty batch are NaN, with gradients (no ESPER_ONNX_RUN from an internal Reshape)', async () => {
    const g = new GraphBuilder('losses');
    const logits = g.input('logits', 'float32', ['n', 5]);
    const labels = g.input('labels', 'int64', ['n']);
    const w = g.input('w', 'float32', [5, 5]);
    const ce = softmaxCrossEntropy(logits.matmul(w), labels);
    const sq = mse(logits.matmul(w), logits);
    g.output(ce, 'ce');
    g.output(sq, 'mse');
    g.output(gradients(g, ce, [w])[0]!, 'gw_ce');
    g.output(gradients(g, sq, [w])[0]!, 'gw_mse');
    const s = await rt.createSession(g.build());
    const eye = f32([5, 5], Array.from({ length: 25 }, (_, i) => (i % 6 === 0 ? 1 : 0)));
    const out = await s.run({ logits: f32([0, 5], []), labels: i64([0], []), w: eye });
    expect(toNumbers(out.ce!)[0]).toBeNaN();
    expect(toNumbers(out.mse!)[0]).toBeNaN();
    expect(out.gw_ce!.dims).toEqual([5, 5]);
    // A non-empty batch still gives the usual values.
    const full = await s.run({ logits: f32([2, 5], [1, 2, 3, 4, 5, 0, 0, 0, 0, 1]), labels: i64([2], [4, 0]), w: eye });
    const lse = (v: number[]) => Math.log(v.reduce((a, x) => a + Math.exp(x), 0));
    expect(toNumbers(full.ce!)[0]).toBeCloseTo((lse([1, 2, 3, 4, 5]) - 5 + lse([0, 0, 0, 0, 1]) - 0) / 2, 6);
    expect(toNumbers(full.mse!)[0]).toBe(0);
    await s.dispose();
  });

  it('build() prunes what no output needs: only dL/dx requested, the weight-gradient Conv is not in the graph', async () => {
    const g = new GraphBuilder('conv');
    const x = g.input('x', 'float32', ['n', 2, 5, 5]);
    const w = g.input('w', 'float32', [3, 2, 3, 3]);
    const loss = reduceMean(conv2d(x, w, null, { pads: [1, 1, 1, 1] }));
    const [gx] = gradients(g, loss, [x, w]);
    g.output(gx!, 'gx');
    const graph = g.build();
    expect(graph.nodes.filter((n) => n.opType === 'Conv')).toHaveLength(1); // the forward; the weight gradient's is gone
    expect(graph.nodes.map((n) => n.opType)).toContain('ConvTranspose');
    const s = await rt.createSession(graph);
    const out: Record<string, TensorData> = await s.run({ x: f32([0, 2, 5, 5], []), w: f32([3, 2, 3, 3], new Float32Array(54).fill(0.1)) });
    expect(out.gx!.dims).toEqual([0, 2, 5, 5]);
    await s.dispose();
    const kept = new GraphBuilder('kept');
    const a = kept.input('a', 'float32', [2]);
    a.mul(3);
    kept.output(a.add(1), 'b');
    expect(kept.build({ prune: false }).nodes.map((n) => n.opType)).toEqual(['Mul', 'Add', 'Identity']);
  });
});
