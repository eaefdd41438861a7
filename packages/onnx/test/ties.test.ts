// Gradients of max-type operators at structural ties: the function is differentiable there
// (max over concat([x, x]) is max over x), so finite differences, JAX and PyTorch agree on one
// derivative, and each tied element must receive an even share of it (issue 16, finding 1).
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxRuntime, concat, f32, gather, gradients, i64, maxPool2d, reduceMax, reduceMin, reduceSum, reshape, scatterElements, tensor, toNumbers,
  unsqueeze, type Tensor, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import { gradCheck, rand64 } from './gradcheck.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());
const prng = new Prng(16);

/** d sum(f(x)) / dx for one fed input `x`. */
async function gradOfSum(dtype: 'float32' | 'float64', dims: number[], f: (x: Tensor) => Tensor, x: TensorData): Promise<number[]> {
  const g = new GraphBuilder('tie');
  const xin = g.input('x', dtype, dims);
  const loss = reduceSum(f(xin), undefined, { keepDims: false });
  g.output(loss, 'loss');
  g.output(gradients(g, loss, [xin])[0]!, 'gx');
  const s = await rt.createSession(g.build());
  try {
    return toNumbers((await s.run({ x })).gx!);
  } finally {
    await s.dispose();
  }
}

/** Nearest-neighbour 2× upsampling of NCHW `x` (fixed dims) by Unsqueeze + Expand + Reshape. */
function upsample2x(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape as number[] as [number, number, number, number];
  const six = unsqueeze(unsqueeze(x, [3]), [5]); // [n, c, h, 1, w, 1]
  const ones = x.builder.constant(tensor(x.dtype, [1, 1, 1, 2, 1, 2], (x.dtype === 'float64' ? new Float64Array(4) : new Float32Array(4)).fill(1) as never), 'ones');
  return reshape(six.mul(ones), [n, c, 2 * h, 2 * w]);
}

const f64 = (dims: number[], v: number[]) => tensor('float64', dims, Float64Array.from(v));

describe('ties share the gradient evenly', () => {
  it('ReduceMax(concat([x, x])) at x = [0.5, 2, -1] has gradient [0, 1, 0] (was [0, 2, 0])', async () => {
    expect(await gradOfSum('float64', [3], (x) => reduceMax(concat([x, x], 0)), f64([3], [0.5, 2, -1]))).toEqual([0, 1, 0]);
    expect(await gradOfSum('float64', [3], (x) => reduceMin(concat([x, x, x], 0)), f64([3], [0.5, 2, -1]))).toEqual([0, 0, 1]);
  });

  it('ReduceMax / ReduceMin over axes with structural ties match finite differences', async () => {
    for (const reduce of [reduceMax, reduceMin]) {
      await gradCheck(rt, {
        build: (g) => { const x = g.input('x', 'float64', [2, 3]); return { out: reduce(concat([x, x.mul(1), x], 1), [1]).tanh(), wrt: [x] }; },
        feeds: { x: rand64(prng, [2, 3]) },
      });
      await gradCheck(rt, {
        build: (g) => { const x = g.input('x', 'float64', [2, 3]); return { out: reduce(concat([x, x], 0), [0], { keepDims: false }), wrt: [x] }; },
        feeds: { x: rand64(prng, [2, 3]) },
      });
    }
  });

  it('MaxPool 2×2 over a nearest-upsampled map gives 1 per element (was 4), and matches finite differences', async () => {
    const x = f32([1, 2, 2, 3], [0.1, -0.5, 0.9, 0.3, -0.2, 0.7, -0.8, 0.4, 0.6, 0.05, -0.35, 0.25]);
    const gx = await gradOfSum('float32', [1, 2, 2, 3], (t) => maxPool2d(upsample2x(t), { kernelShape: [2, 2], strides: [2, 2] }), x);
    expect(gx).toEqual(new Array(12).fill(1));
    await gradCheck(rt, {
      build: (g) => { const t = g.input('x', 'float32', [1, 2, 2, 3]); return { out: maxPool2d(upsample2x(t), { kernelShape: [2, 2], strides: [2, 2] }), wrt: [t] }; },
      feeds: { x },
    });
    // Overlapping windows (stride 1) over the upsampled map: ties in every window.
    await gradCheck(rt, {
      build: (g) => { const t = g.input('x', 'float32', [1, 2, 2, 3]); return { out: maxPool2d(upsample2x(t), { kernelShape: [2, 2], strides: [1, 1] }), wrt: [t] }; },
      feeds: { x },
    });
  });

  it('MaxPool: zero padding never ties with a window maximum of 0', async () => {
    // Window (0, 0) holds three padding positions and one element equal to 0, its maximum.
    const x = f32([1, 1, 2, 2], [0, -1, -2, -3]);
    const gx = await gradOfSum('float32', [1, 1, 2, 2], (t) => maxPool2d(upsample2x(t), { kernelShape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1] }), x);
    // x00 is the max of 4 windows (one of them with padding); x01, x10, x11 of one or two each.
    const h = 4;
    const up = (i: number, j: number) => [0, -1, -2, -3][(i >> 1) * 2 + (j >> 1)]!;
    const want = [0, 0, 0, 0];
    for (let oi = 0; oi < 3; oi++)
      for (let oj = 0; oj < 3; oj++) {
        const cells: [number, number][] = [];
        for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) {
          const i = oi * 2 - 1 + di, j = oj * 2 - 1 + dj;
          if (i >= 0 && i < h && j >= 0 && j < h) cells.push([i, j]);
        }
        const m = Math.max(...cells.map(([i, j]) => up(i, j)));
        const ties = cells.filter(([i, j]) => up(i, j) === m);
        for (const [i, j] of ties) want[(i >> 1) * 2 + (j >> 1)]! += 1 / ties.length;
      }
    gx.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    expect(gx[0]).toBeCloseTo(4, 6);
  });

  it('ScatterElements(max) of a duplicated edge gives 1 (was 2), and matches finite differences', async () => {
    // Two edges carry h[0] to node 1 (a multi-edge); node 0 gets h[1]. Data starts low.
    const build = (g: GraphBuilder) => {
      const h = g.input('h', 'float64', [2, 2]);
      const edgesSrc = g.constant(i64([3], [0, 0, 1]), 'src');
      const dst = g.constant(i64([3, 2], [1, 1, 1, 1, 0, 0]), 'dst');
      const msgs = gather(h, edgesSrc, 0);
      const base = g.constant(f64([2, 2], [-5, -5, -5, -5]), 'base');
      return { out: scatterElements(base, dst, msgs, 0, 'max'), wrt: [h] };
    };
    const g = new GraphBuilder('dup');
    const { out, wrt } = build(g);
    const loss = reduceSum(out, undefined, { keepDims: false });
    g.output(loss, 'loss');
    g.output(gradients(g, loss, wrt)[0]!, 'gh');
    const s = await rt.createSession(g.build());
    expect(toNumbers((await s.run({ h: f64([2, 2], [0.3, -0.4, 0.8, 0.1]) })).gh!)).toEqual([1, 1, 1, 1]);
    await s.dispose();
    await gradCheck(rt, { build, feeds: { h: rand64(prng, [2, 2]) } });
    // The data element tied with an update: each gets half.
    const tied = new GraphBuilder('tied');
    const h = tied.input('h', 'float64', [1, 2]);
    const sum = scatterElements(h, tied.constant(i64([1, 2], [0, 0]), 'idx'), h.mul(1), 0, 'max');
    const l2 = reduceSum(sum, undefined, { keepDims: false });
    tied.output(l2, 'loss');
    tied.output(gradients(tied, l2, [h])[0]!, 'gh');
    const s2 = await rt.createSession(tied.build());
    expect(toNumbers((await s2.run({ h: f64([1, 2], [0.3, -0.4]) })).gh!)).toEqual([1, 1]);
    await s2.dispose();
  });
});
