import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxRuntime, ParameterSet, Trainer, averagePool2d, buildTrainingGraph, conv2d, f32, gradients, i64, maxPool2d,
  softmaxCrossEntropy, toNumbers, type Graph, type OptimizerSpec,
} from '../src/index.js';

// Fixtures pytorch-mlp.json and pytorch-cnn.json (torch 2.11, float32), committed with the
// generator named in their `meta`; this test only reads them.
interface T { dims: number[]; data: number[] }
interface Fixture {
  meta: { torch: string; generator: string };
  input: T;
  labels: number[];
  params: Record<string, T>;
  loss: number;
  grads: Record<string, T>;
  optimizerSettings: Record<string, Record<string, number | boolean>>;
  optimizers: Record<string, { losses: number[]; globalGradNorms: number[]; params: Record<string, T> }>;
}
const load = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Fixture;
const TOL = 1e-5;

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

function mlp(fx: Fixture): Graph {
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['batch', 12]);
  const y = g.input('labels', 'int64', ['batch']);
  const p = (n: string) => g.param(n, f32(fx.params[n]!.dims, fx.params[n]!.data));
  const h1 = x.matmul(p('w1')).add(p('b1')).relu();
  const h2 = h1.matmul(p('w2')).add(p('b2')).gelu();
  g.output(softmaxCrossEntropy(h2.matmul(p('w3')).add(p('b3')), y), 'loss');
  return g.build();
}

function cnn(fx: Fixture): Graph {
  const g = new GraphBuilder('cnn');
  const x = g.input('x', 'float32', ['batch', 1, 8, 8]);
  const y = g.input('labels', 'int64', ['batch']);
  const p = (n: string) => g.param(n, f32(fx.params[n]!.dims, fx.params[n]!.data));
  const c = conv2d(x, p('conv_w'), p('conv_b'), { pads: [1, 1, 1, 1] }).relu();
  const m = maxPool2d(c, { kernelShape: [2, 2], strides: [2, 2] });
  const a = averagePool2d(m, { kernelShape: [2, 2], strides: [1, 1] });
  g.output(softmaxCrossEntropy(a.flatten().matmul(p('fc_w')).add(p('fc_b')), y), 'loss');
  return g.build();
}

function optimizer(kind: string, s: Record<string, number | boolean>): { spec: OptimizerSpec; lr: number; clip?: number } {
  const lr = s.lr as number;
  switch (kind) {
    case 'sgd': return { spec: { kind: 'sgd', momentum: s.momentum as number, nesterov: s.nesterov as boolean, weightDecay: s.weightDecay as number }, lr };
    case 'adam': return { spec: { kind: 'adam', beta1: s.beta1 as number, beta2: s.beta2 as number, epsilon: s.eps as number }, lr };
    case 'adamw': return { spec: { kind: 'adamw', beta1: s.beta1 as number, beta2: s.beta2 as number, epsilon: s.eps as number, weightDecay: s.weightDecay as number }, lr };
    case 'adam_clip': return { spec: { kind: 'adam', beta1: s.beta1 as number, beta2: s.beta2 as number, epsilon: s.eps as number }, lr, clip: s.clipGlobalNorm as number };
    default: throw new Error(`unknown optimizer ${kind}`);
  }
}

const maxAbsDiff = (a: ArrayLike<number>, b: readonly number[]) => b.reduce((m, v, i) => Math.max(m, Math.abs(a[i]! - v)), 0);

for (const [file, build] of [['pytorch-mlp.json', mlp], ['pytorch-cnn.json', cnn]] as const) {
  const fx = load(file);
  const names = Object.keys(fx.params);
  const batch = { x: f32(fx.input.dims, fx.input.data), labels: i64([fx.labels.length], fx.labels) };

  describe(`${file} (torch ${fx.meta.torch})`, () => {
    it(`loss and gradients match within ${TOL}`, async () => {
      const b = GraphBuilder.from(build(fx));
      gradients(b, b.tensor('loss'), names.map((n) => b.tensor(n))).forEach((t, i) => b.output(t, `grad/${names[i]}`));
      const s = await rt.createSession(b.build());
      const out = await s.run(batch);
      expect(Math.abs(toNumbers(out.loss!)[0]! - fx.loss)).toBeLessThan(TOL);
      for (const n of names) {
        expect(out[`grad/${n}`]!.dims).toEqual(fx.grads[n]!.dims);
        expect(maxAbsDiff(toNumbers(out[`grad/${n}`]!), fx.grads[n]!.data), n).toBeLessThan(TOL);
      }
      await s.dispose();
    });

    for (const [kind, ref] of Object.entries(fx.optimizers)) {
      it(`${kind}: 3 training-graph steps match within ${TOL}`, async () => {
        const o = optimizer(kind, fx.optimizerSettings[kind]!);
        const spec = buildTrainingGraph(build(fx), { loss: 'loss', optimizer: o.spec, ...(o.clip === undefined ? {} : { clipGradNorm: o.clip }) });
        const trainer = await Trainer.create(rt, spec, ParameterSet.fromGraph(build(fx)));
        for (let k = 0; k < ref.losses.length; k++) {
          const r = await trainer.step(batch, o.lr);
          expect(Math.abs(r.loss - ref.losses[k]!), `loss at step ${k + 1}`).toBeLessThan(TOL);
          expect(Math.abs(r.gradNorms.global! - ref.globalGradNorms[k]!), `grad norm at step ${k + 1}`).toBeLessThan(TOL * 10);
        }
        for (const n of names) expect(maxAbsDiff(trainer.parameters.get(n).data, ref.params[n]!.data), n).toBeLessThan(TOL);
        await trainer.dispose();
      });
    }
  });
}
