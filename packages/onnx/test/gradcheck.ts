// Finite-difference gradient checking for the autodiff tests.
import { expect } from 'vitest';
import {
  GraphBuilder, type OnnxRuntime, gradients, mul, reduceSum, tensor, toNumbers, type DType, type Tensor, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';

export interface GradCase {
  /** Builds the forward computation; returns its (float) output and the inputs to differentiate. */
  build(g: GraphBuilder): { out: Tensor; wrt: Tensor[] };
  /** Feeds for every graph input. */
  feeds: Record<string, TensorData>;
  /** Finite-difference step (default 1e-6 for float64, 1e-3 for float32). */
  eps?: number;
  /** Tolerance: |analytic - numeric| <= tol * (1 + |numeric|) (default 1e-6 float64, 1e-3 float32). */
  tol?: number;
}

/**
 * Checks d(sum(out * R))/d(wrt) from the gradient graph against central finite differences of
 * the same graph's loss, for a fixed random projection R. Returns the largest error seen.
 */
export async function gradCheck(rt: OnnxRuntime, c: GradCase, seed = 7): Promise<number> {
  const g = new GraphBuilder('gradcheck');
  const { out, wrt } = c.build(g);
  if (out.shape === null || out.shape.some((d) => typeof d !== 'number')) throw new Error('gradCheck: output shape must be fixed');
  const dims = out.shape as number[];
  const prng = new Prng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  const r = out.dtype === 'float64'
    ? tensor('float64', dims, Float64Array.from({ length: n }, () => prng.uniform(0.5, 1.5) * (prng.next() < 0.5 ? -1 : 1)))
    : tensor('float32', dims, Float32Array.from({ length: n }, () => prng.uniform(0.5, 1.5) * (prng.next() < 0.5 ? -1 : 1)));
  const loss = reduceSum(mul(out, g.constant(r, 'projection')), undefined, { keepDims: false });
  g.output(loss, 'loss');
  const grads = gradients(g, loss, wrt);
  grads.forEach((t, i) => g.output(t, `grad_${i}`));
  const session = await rt.createSession(g.build());
  try {
    const base = await session.run(c.feeds);
    const isF64 = out.dtype === 'float64';
    const eps = c.eps ?? (isF64 ? 1e-6 : 1e-3);
    const tol = c.tol ?? (isF64 ? 1e-6 : 1e-3);
    let worst = 0;
    for (let i = 0; i < wrt.length; i++) {
      const w = wrt[i]!;
      const fed = c.feeds[w.name];
      if (!fed) throw new Error(`gradCheck: wrt "${w.name}" must be a fed input`);
      const analytic = toNumbers(base[`grad_${i}`]!);
      expect(base[`grad_${i}`]!.dims, `gradient dims of ${w.name}`).toEqual(fed.dims);
      const data = fed.data as Float32Array | Float64Array;
      for (let j = 0; j < data.length; j++) {
        const orig = data[j]!;
        const at = async (v: number) => {
          const copy = data.slice();
          copy[j] = v;
          const res = await session.run({ ...c.feeds, [w.name]: tensor(fed.dtype as DType, fed.dims, copy as never) }, ['loss']);
          return toNumbers(res.loss!)[0]!;
        };
        const numeric = ((await at(orig + eps)) - (await at(orig - eps))) / (2 * eps);
        const err = Math.abs(analytic[j]! - numeric) / (1 + Math.abs(numeric));
        worst = Math.max(worst, err);
        if (err > tol) expect.fail(`d loss / d ${w.name}[${j}]: analytic ${analytic[j]}, numeric ${numeric} (error ${err.toExponential(2)} > ${tol})`);
      }
    }
    return worst;
  } finally {
    await session.dispose();
  }
}

/** A random float64 tensor with values in [lo, hi) kept at least `gap` away from 0 when asked. */
export function rand64(prng: Prng, dims: number[], lo = -1, hi = 1, awayFromZero = 0): TensorData<'float64'> {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = prng.uniform(lo, hi);
    while (Math.abs(v) < awayFromZero) v = prng.uniform(lo, hi);
    data[i] = v;
  }
  return tensor('float64', dims, data);
}

/** A random float32 tensor. */
export function rand32(prng: Prng, dims: number[], lo = -1, hi = 1): TensorData<'float32'> {
  const n = dims.reduce((a, b) => a * b, 1);
  return tensor('float32', dims, Float32Array.from({ length: n }, () => prng.uniform(lo, hi)));
}
