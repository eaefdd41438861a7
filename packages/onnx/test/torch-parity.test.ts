import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxRuntime, ParameterSet, Trainer, buildTrainingGraph, f32, gradients, i64, softmaxCrossEntropy, toNumbers,
  type OptimizerSpec,
} from '../src/index.js';

// Reference numbers from PyTorch 2.11 (CPU, float32), made by fixtures/torch_mlp.py.
interface Trained { losses: number[]; gradNorms: number[]; params: Record<string, number[]>; lr: number }
interface Fixture {
  generator: string;
  x: { dims: number[]; data: number[] };
  labels: number[];
  params: Record<string, { dims: number[]; data: number[] }>;
  loss: number;
  grads: Record<string, number[]>;
  adam_clip: Trained & { clip: number };
  sgd_nesterov: Trained & { momentum: number; weightDecay: number };
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/torch-mlp.json', import.meta.url), 'utf8')) as Fixture;
const names = ['fc1.w', 'fc1.b', 'fc2.w', 'fc2.b', 'fc3.w', 'fc3.b'];
const TOL = 1e-5;

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

function forward() {
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['batch', 20]);
  const y = g.input('labels', 'int64', ['batch']);
  const p = Object.fromEntries(names.map((n) => [n, g.param(n, f32(fx.params[n]!.dims, fx.params[n]!.data))]));
  const h1 = x.matmul(p['fc1.w']!).add(p['fc1.b']!).relu();
  const h2 = h1.matmul(p['fc2.w']!).add(p['fc2.b']!).relu();
  g.output(softmaxCrossEntropy(h2.matmul(p['fc3.w']!).add(p['fc3.b']!), y), 'loss');
  return g.build();
}
const batch = { x: f32(fx.x.dims, fx.x.data), labels: i64([fx.labels.length], fx.labels) };

function maxAbsDiff(a: ArrayLike<number>, b: readonly number[]): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe(`parity with PyTorch (${fx.generator})`, () => {
  it(`loss and every parameter gradient match within ${TOL}`, async () => {
    const b = GraphBuilder.from(forward());
    const grads = gradients(b, b.tensor('loss'), names.map((n) => b.tensor(n)));
    grads.forEach((t, i) => b.output(t, `grad/${names[i]}`));
    const s = await rt.createSession(b.build());
    const out = await s.run(batch);
    expect(Math.abs(toNumbers(out.loss!)[0]! - fx.loss)).toBeLessThan(TOL);
    const diffs = names.map((n) => maxAbsDiff(toNumbers(out[`grad/${n}`]!), fx.grads[n]!));
    if (process.env.PARITY_REPORT) console.log(`parity gradients: max |ours - torch| = ${Math.max(...diffs).toExponential(2)}`);
    diffs.forEach((d, i) => expect(d, names[i]).toBeLessThan(TOL));
    await s.dispose();
  });

  const runs: [string, OptimizerSpec, Trained, number | undefined][] = [
    ['Adam with global-norm clipping', { kind: 'adam' }, fx.adam_clip, fx.adam_clip.clip],
    ['SGD with Nesterov momentum and weight decay', { kind: 'sgd', momentum: fx.sgd_nesterov.momentum, nesterov: true, weightDecay: fx.sgd_nesterov.weightDecay }, fx.sgd_nesterov, undefined],
  ];
  for (const [name, optimizer, ref, clip] of runs) {
    it(`${name}: 3 training-graph steps match torch.optim within ${TOL}`, async () => {
      const spec = buildTrainingGraph(forward(), { loss: 'loss', optimizer, ...(clip === undefined ? {} : { clipGradNorm: clip }) });
      const trainer = await Trainer.create(rt, spec, ParameterSet.fromGraph(forward()));
      for (let k = 0; k < 3; k++) {
        const r = await trainer.step(batch, ref.lr);
        expect(Math.abs(r.loss - ref.losses[k]!)).toBeLessThan(TOL);
        expect(Math.abs(r.gradNorms.global! - ref.gradNorms[k]!)).toBeLessThan(TOL * 10);
      }
      const diffs = names.map((n) => maxAbsDiff(trainer.parameters.get(n).data, ref.params[n]!));
      if (process.env.PARITY_REPORT) console.log(`parity ${name}: max |ours - torch| after 3 steps = ${Math.max(...diffs).toExponential(2)}`);
      diffs.forEach((d, i) => expect(d, names[i]).toBeLessThan(TOL));
      await trainer.dispose();
    });
  }
});
