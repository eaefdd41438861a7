import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxRuntime, Trainer, buildTrainingGraph, evaluationGraph, f32, i64, mse, ParameterSet,
  tensor, toNumbers, type OptimizerSpec, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import { tinyMlpForward, tinyMlpParameters } from './tiny-mlp.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

// Linear regression: loss = mean((x w - y)^2), x [4,3], w [3,2].
const X = [0.5, -1, 2, 1, 0.25, -0.5, -1.5, 1, 0.75, 0.2, 0.4, -0.3];
const Y = [1, 0, -1, 2, 0.5, 0.5, 0, -1];
const W0 = [0.1, -0.2, 0.3, 0.05, -0.1, 0.2];

function linearForward() {
  const g = new GraphBuilder('linear');
  const x = g.input('x', 'float32', ['n', 3]);
  const y = g.input('y', 'float32', ['n', 2]);
  const w = g.param('w', f32([3, 2], W0));
  g.output(mse(x.matmul(w), y), 'loss');
  return g.build();
}

/** JS reference: gradient of mean((XW - Y)^2) wrt W. */
function refGrad(w: number[]): number[] {
  const n = 4, k = 3, m = 2;
  const g = new Array<number>(k * m).fill(0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let p = 0;
      for (let t = 0; t < k; t++) p += X[i * k + t]! * w[t * m + j]!;
      const r = p - Y[i * m + j]!;
      for (let t = 0; t < k; t++) g[t * m + j]! += (2 / (n * m)) * r * X[i * k + t]!;
    }
  return g;
}

/** JS reference optimizers over `steps` steps at `lr`, with optional global-norm clipping. */
function refTrain(spec: OptimizerSpec, steps: number, lr: number, clip?: number): { w: number[]; norms: number[] } {
  let w = [...W0];
  const m = new Array<number>(6).fill(0);
  const v = new Array<number>(6).fill(0);
  const norms: number[] = [];
  for (let t = 1; t <= steps; t++) {
    let g = refGrad(w);
    const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
    norms.push(norm);
    if (clip !== undefined) g = g.map((x) => x * Math.min(1, clip / (norm + 1e-6)));
    if (spec.kind === 'sgd') {
      const wd = spec.weightDecay ?? 0, mu = spec.momentum ?? 0;
      g = g.map((x, i) => x + wd * w[i]!);
      if (mu === 0) w = w.map((x, i) => x - lr * g[i]!);
      else {
        for (let i = 0; i < 6; i++) m[i] = mu * m[i]! + g[i]!;
        w = w.map((x, i) => x - lr * (spec.nesterov ? g[i]! + mu * m[i]! : m[i]!));
      }
    } else {
      const b1 = spec.beta1 ?? 0.9, b2 = spec.beta2 ?? 0.999, eps = spec.epsilon ?? 1e-8;
      const wd = spec.weightDecay ?? (spec.kind === 'adamw' ? 0.01 : 0);
      if (spec.kind === 'adam') g = g.map((x, i) => x + wd * w[i]!);
      for (let i = 0; i < 6; i++) {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
      }
      w = w.map((x, i) => {
        const upd = m[i]! / (1 - b1 ** t) / (Math.sqrt(v[i]! / (1 - b2 ** t)) + eps);
        return x - lr * (upd + (spec.kind === 'adamw' ? wd * x : 0));
      });
    }
  }
  return { w, norms };
}

const batch = { x: f32([4, 3], X), y: f32([4, 2], Y) };

describe('training graph: one session.run per step', () => {
  const cases: [string, OptimizerSpec, number | undefined][] = [
    ['SGD', { kind: 'sgd' }, undefined],
    ['SGD + momentum + weight decay', { kind: 'sgd', momentum: 0.9, weightDecay: 0.01 }, undefined],
    ['SGD + Nesterov', { kind: 'sgd', momentum: 0.8, nesterov: true }, undefined],
    ['Adam', { kind: 'adam' }, undefined],
    ['Adam + L2', { kind: 'adam', weightDecay: 0.1, beta1: 0.8 }, undefined],
    ['AdamW', { kind: 'adamw', weightDecay: 0.05 }, undefined],
    ['SGD + global-norm clipping', { kind: 'sgd', momentum: 0.5 }, 0.1],
  ];
  for (const [name, optimizer, clip] of cases) {
    it(`${name} matches a JS reference over 3 steps`, async () => {
      const spec = buildTrainingGraph(linearForward(), { loss: 'loss', optimizer, ...(clip === undefined ? {} : { clipGradNorm: clip }) });
      const trainer = await Trainer.create(rt, spec, ParameterSet.fromGraph(linearForward()));
      const norms: number[] = [];
      for (let s = 0; s < 3; s++) norms.push((await trainer.step(batch, 0.05)).gradNorms.global!);
      const ref = refTrain(optimizer, 3, 0.05, clip);
      const w = Array.from(trainer.parameters.get('w').data);
      w.forEach((v, i) => expect(v).toBeCloseTo(ref.w[i]!, 5));
      norms.forEach((v, i) => expect(v).toBeCloseTo(ref.norms[i]!, 5));
      expect(trainer.stepCount).toBe(3);
      await trainer.dispose();
    });
  }

  it('Adam keeps its moments scaled: after step 1 the state holds g and g² (PyTorch: (1−β1)·g, (1−β2)·g²)', async () => {
    const spec = buildTrainingGraph(linearForward(), { loss: 'loss', optimizer: { kind: 'adam', beta1: 0.8, beta2: 0.99 } });
    const session = await rt.createSession(spec.graph);
    const zeros = f32([3, 2], new Float32Array(6));
    const out = await session.run({ ...batch, w: f32([3, 2], W0), 'opt/w/m': zeros, 'opt/w/v': zeros, lr: f32([], [0.05]), step: f32([], [1]) });
    const g = refGrad(W0);
    Array.from(toNumbers(out['next/opt/w/m'] as TensorData)).forEach((m, i) => expect(m).toBeCloseTo(g[i]!, 6));
    Array.from(toNumbers(out['next/opt/w/v'] as TensorData)).forEach((v, i) => expect(v).toBeCloseTo(g[i]! ** 2, 6));
    // The first Adam step moves every weight by lr·g/(|g| + ε): lr in magnitude.
    Array.from(toNumbers(out['next/w'] as TensorData)).forEach((w, i) => expect(w).toBeCloseTo(W0[i]! - 0.05 * Math.sign(g[i]!), 5));
    await session.dispose();
  });

  it('names its inputs and outputs and reports per-group gradient norms', () => {
    const g = new GraphBuilder('two');
    const x = g.input('x', 'float32', ['n', 3]);
    const h = x.matmul(g.param('a', f32([3, 3], new Float32Array(9).fill(0.1)))).relu();
    g.output(mse(h.matmul(g.param('b', f32([3, 1], [1, 1, 1]))), g.input('y', 'float32', ['n', 1])), 'loss');
    const spec = buildTrainingGraph(g.build(), { loss: 'loss', optimizer: { kind: 'adam' }, groups: { host: ['a', 'b'] } });
    expect(spec.dataInputs).toEqual(['x', 'y']);
    expect(spec.parameters).toEqual(['a', 'b']);
    expect(spec.state.map((s) => s.name)).toEqual(['opt/a/m', 'opt/a/v', 'opt/b/m', 'opt/b/v']);
    expect(spec.outputs.gradNorms).toEqual({ host: 'grad_norm/host', global: 'grad_norm/global' });
    expect(spec.graph.outputs.map((o) => o.name)).toEqual(expect.arrayContaining(['loss', 'next/a', 'next/b', 'next/opt/a/m', 'grad_norm/global']));
  });
});

// Three Gaussian blobs in 2-D; an MLP 2-16-3 learns to separate them.
function blobs(seed: number, perClass: number): { x: TensorData<'float32'>; y: TensorData<'int64'> } {
  const p = new Prng(seed);
  const centres = [[0, 2], [-1.8, -1], [1.8, -1]];
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < perClass; i++)
    centres.forEach(([cx, cy], c) => {
      xs.push(cx! + 0.5 * p.normal(), cy! + 0.5 * p.normal());
      ys.push(c);
    });
  return { x: f32([ys.length, 2], xs), y: i64([ys.length], ys) };
}

const mlpForward = tinyMlpForward;
const mlpParams = () => tinyMlpParameters(2, 16, 3, 2024);

async function trainMlp(steps: number): Promise<{ losses: number[]; params: ParameterSet }> {
  const params = mlpParams();
  const spec = buildTrainingGraph(mlpForward(params), { loss: 'loss', optimizer: { kind: 'adam' }, metrics: ['logits'], groups: { fc1: ['fc1.w', 'fc1.b'], fc2: ['fc2.w', 'fc2.b'] } });
  const trainer = await Trainer.create(rt, spec, params);
  const data = blobs(7, 32);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push((await trainer.step({ x: data.x, labels: data.y }, 0.05)).loss);
  const out = trainer.parameters;
  await trainer.dispose();
  return { losses, params: out };
}

describe('MLP on a synthetic classification task', () => {
  it('reaches loss < 0.1 in 150 Adam steps, deterministically, and the evaluation graph agrees', async () => {
    const a = await trainMlp(150);
    const b = await trainMlp(150);
    expect(a.losses).toEqual(b.losses);
    expect(a.losses[0]!).toBeGreaterThan(0.5);
    expect(a.losses.at(-1)!).toBeLessThan(0.1);

    // Held-out data through the forward-only graph fed with the trained parameters.
    const evalGraph = evaluationGraph(mlpForward(a.params));
    const s = await rt.createSession(evalGraph);
    const test = blobs(8, 50);
    const r = await s.run({ x: test.x, labels: test.y, ...a.params.toFeeds() });
    const logits = toNumbers(r.logits!);
    const labels = toNumbers(test.y);
    let correct = 0;
    labels.forEach((c, i) => {
      const row = logits.slice(i * 3, i * 3 + 3);
      if (row.indexOf(Math.max(...row)) === c) correct++;
    });
    expect(correct / labels.length).toBeGreaterThan(0.95);
    await s.dispose();
  });

  it('a gradient gate of 0 isolates the layers below it; frozen parameters stay put', async () => {
    const params = mlpParams();
    const spec = buildTrainingGraph(mlpForward(params, true), { loss: 'loss', optimizer: { kind: 'sgd' }, trainable: ['fc1.w', 'fc1.b', 'fc2.w'] });
    expect(spec.frozen).toEqual(['fc2.b']);
    const trainer = await Trainer.create(rt, spec, params);
    const data = blobs(7, 8);
    const gate = (v: number) => tensor('float32', [], Float32Array.of(v));
    const r0 = await trainer.step({ x: data.x, labels: data.y, gate: gate(0) }, 0.1);
    expect(r0.gradNorms['fc1.w']).toBe(0);
    expect(trainer.parameters.get('fc1.w').data).toEqual(params.get('fc1.w').data);
    expect(trainer.parameters.get('fc2.w').data).not.toEqual(params.get('fc2.w').data);
    const r1 = await trainer.step({ x: data.x, labels: data.y, gate: gate(1) }, 0.1);
    expect(r1.gradNorms['fc1.w']).toBeGreaterThan(0);
    expect(trainer.parameters.get('fc1.w').data).not.toEqual(params.get('fc1.w').data);
    expect(trainer.parameters.get('fc2.b').data).toEqual(params.get('fc2.b').data);
    await trainer.dispose();
  });
});
