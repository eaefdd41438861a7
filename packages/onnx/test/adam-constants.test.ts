// Adam's step against PyTorch's formula as it runs on float32 tensors (issue 16, finding 5):
// exp_avg.lerp_(g, 1−β1); exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2) with float32 scalars;
// bias corrections 1 − β^t in Python floats; p.addcdiv_(m, √v/√c2 + ε, value=−lr/c1).
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, OnnxRuntime, buildTrainingGraph, f32, reduceSum, toNumbers, type TensorData } from '../src/index.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

// loss = sum(w · x): the gradient with respect to w is x, exactly.
function forward() {
  const g = new GraphBuilder('dot');
  const x = g.input('x', 'float32', [4]);
  const w = g.param('w', f32([4], [0, 0, 0, 0]));
  g.output(reduceSum(w.mul(x), undefined, { keepDims: false }), 'loss');
  return g.build();
}

const G = [0.3, -1.7, 2.5e-3, 40];
const B1 = 0.9, B2 = 0.999, EPS = 1e-8, LR = 0.05;

/** PyTorch's update of a parameter at 0 (so the new value is −update) from scaled moments M, V at step t. */
function torchUpdate(M: number[], V: number[], t: number): number[] {
  const w1 = Math.fround(1 - B1), w2 = Math.fround(1 - B2);
  const c1 = 1 - B1 ** t, c2 = 1 - B2 ** t;
  return G.map((g, i) => {
    const m = (1 - w1) * w1 * M[i]! + w1 * g; // lerp toward g with weight fround(1−β1)
    const v = Math.fround(B2) * w2 * V[i]! + w2 * g * g;
    return (LR / c1) * m / (Math.sqrt(v) / Math.sqrt(c2) + EPS);
  });
}

describe("Adam's constants", () => {
  for (const biasCorrection of ['global', 'per-parameter'] as const) {
    it(`the update equals PyTorch's formula within float32 rounding at steps 1, 10 and 1000 (${biasCorrection} bias correction)`, async () => {
      const spec = buildTrainingGraph(forward(), { loss: 'loss', optimizer: { kind: 'adam', beta1: B1, beta2: B2, epsilon: EPS }, biasCorrection });
      const s = await rt.createSession(spec.graph);
      try {
        for (const [t, M, V] of [[1, [0, 0, 0, 0], [0, 0, 0, 0]], [10, [1, -3, 0.01, 200], [2, 20, 1e-5, 9000]], [1000, [2, -10, 0.02, 300], [5, 150, 1e-4, 90000]]] as const) {
          const feeds: Record<string, TensorData> = {
            x: f32([4], G), w: f32([4], [0, 0, 0, 0]), 'opt/w/m': f32([4], M), 'opt/w/v': f32([4], V), lr: f32([], [LR]),
            step: f32([], [biasCorrection === 'global' ? t : 1]),
          };
          if (biasCorrection === 'per-parameter') feeds['opt/w/t'] = f32([], [t - 1]);
          const out = await s.run(feeds);
          const got = toNumbers(out['next/w']!).map((v) => -v);
          const want = torchUpdate([...M], [...V], t);
          got.forEach((u, i) => expect(Math.abs(u - want[i]!) / Math.abs(want[i]!), `step ${t}, element ${i}: ${u} vs ${want[i]}`).toBeLessThan(1e-6));
        }
      } finally {
        await s.dispose();
      }
    });
  }
});
