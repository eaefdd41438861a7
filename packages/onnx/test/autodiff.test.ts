import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxGraphError, OnnxRuntime, averagePool2d, concat, conv2d, maxPool2d, dropout, f32, flatten, gather, gatherElements, gemm, globalAveragePool, gradientGate,
  gradients, i64, layerNorm, mse, reduceMax, reduceMean, reduceSum, reshape, scatterElements, slice, softmaxCrossEntropy, tensor,
  toNumbers, transpose, unsqueeze, where, type GraphBuilder as GB, type Tensor,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import { gradCheck, rand32, rand64, type GradCase } from './gradcheck.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());
const prng = new Prng(99);

const in64 = (g: GB, name: string, dims: number[]) => g.input(name, 'float64', dims);

/** One-input elementwise case on float64. */
function unaryCase(f: (x: Tensor) => Tensor, lo = -2, hi = 2, away = 0.05): GradCase {
  return { build: (g) => { const x = in64(g, 'x', [2, 3]); return { out: f(x), wrt: [x] }; }, feeds: { x: rand64(prng, [2, 3], lo, hi, away) } };
}
/** Two-input broadcasting case on float64: x [2,3], y [3] or [2,1]. */
function binaryCase(f: (x: Tensor, y: Tensor) => Tensor, yDims: number[], ylo = -2, yhi = 2, xlo = -2, xhi = 2): GradCase {
  return {
    build: (g) => { const x = in64(g, 'x', [2, 3]); const y = in64(g, 'y', yDims); return { out: f(x, y), wrt: [x, y] }; },
    feeds: { x: rand64(prng, [2, 3], xlo, xhi), y: rand64(prng, yDims, ylo, yhi, 0.3) },
  };
}

const CASES: Record<string, () => GradCase> = {
  'Add (broadcast [3])': () => binaryCase((x, y) => x.add(y), [3]),
  // Bias-style broadcasts whose gradient sums leading axes as a MatMul with ones (sumLeadingAxes).
  'Add (bias [4] over [2,3,4])': () => ({
    build: (g) => { const x = in64(g, 'x', [2, 3, 4]); const y = in64(g, 'y', [4]); return { out: x.add(y).mul(x), wrt: [x, y] }; },
    feeds: { x: rand64(prng, [2, 3, 4]), y: rand64(prng, [4]) },
  }),
  'Add (bias [3,4] over [batch,3,4])': () => ({
    build: (g) => { const x = g.input('x', 'float64', ['batch', 3, 4]); const y = in64(g, 'y', [3, 4]); return { out: reduceSum(x.add(y).mul(y), undefined, { keepDims: false }), wrt: [x, y] }; },
    feeds: { x: rand64(prng, [2, 3, 4]), y: rand64(prng, [3, 4]) },
  }),
  'Add (bias [n,4] over [batch,n,4], symbolic trailing dim: ReduceSum)': () => ({
    build: (g) => { const x = g.input('x', 'float64', ['batch', 'n', 4]); const y = g.input('y', 'float64', ['n', 4]); return { out: reduceSum(x.add(y).mul(y), undefined, { keepDims: false }), wrt: [x, y] }; },
    feeds: { x: rand64(prng, [2, 3, 4]), y: rand64(prng, [3, 4]) },
  }),
  'Sub (broadcast [2,1])': () => binaryCase((x, y) => x.sub(y), [2, 1]),
  'Mul (broadcast [3])': () => binaryCase((x, y) => x.mul(y), [3]),
  'Div (broadcast [2,1])': () => binaryCase((x, y) => x.div(y), [2, 1], 0.5, 2),
  'Pow': () => binaryCase((x, y) => x.pow(y), [3], -1.5, 1.5, 0.5, 2),
  Neg: () => unaryCase((x) => x.neg()),
  Relu: () => unaryCase((x) => x.relu()),
  'LeakyRelu (float32)': () => ({ build: (g) => { const x = g.input('x', 'float32', [2, 3]); return { out: x.leakyRelu(0.1), wrt: [x] }; }, feeds: { x: away32(rand32(prng, [2, 3], -2, 2)) } }),
  Tanh: () => unaryCase((x) => x.tanh()),
  Sigmoid: () => unaryCase((x) => x.sigmoid()),
  Exp: () => unaryCase((x) => x.exp()),
  Log: () => unaryCase((x) => x.log(), 0.2, 3),
  Sqrt: () => unaryCase((x) => x.sqrt(), 0.2, 3),
  'Gelu (exact, float32)': () => ({ build: (g) => { const x = g.input('x', 'float32', [2, 3]); return { out: x.gelu(), wrt: [x] }; }, feeds: { x: rand32(prng, [2, 3], -2, 2) } }),
  'Gelu (tanh, float32)': () => ({ build: (g) => { const x = g.input('x', 'float32', [2, 3]); return { out: x.gelu('tanh'), wrt: [x] }; }, feeds: { x: rand32(prng, [2, 3], -2, 2) } }),
  'Softmax (axis 1)': () => unaryCase((x) => x.softmax(1)),
  'Softmax (axis 0)': () => unaryCase((x) => x.softmax(0)),
  LogSoftmax: () => unaryCase((x) => x.logSoftmax()),
  'MatMul 2-D': () => ({
    build: (g) => { const x = in64(g, 'x', [2, 3]); const w = in64(g, 'w', [3, 4]); return { out: x.matmul(w), wrt: [x, w] }; },
    feeds: { x: rand64(prng, [2, 3]), w: rand64(prng, [3, 4]) },
  }),
  'MatMul batched x @ 2-D w': () => ({
    build: (g) => { const x = in64(g, 'x', [2, 2, 3]); const w = in64(g, 'w', [3, 2]); return { out: x.matmul(w), wrt: [x, w] }; },
    feeds: { x: rand64(prng, [2, 2, 3]), w: rand64(prng, [3, 2]) },
  }),
  'MatMul batched both': () => ({
    build: (g) => { const x = in64(g, 'x', [2, 2, 3]); const w = in64(g, 'w', [2, 3, 2]); return { out: x.matmul(w), wrt: [x, w] }; },
    feeds: { x: rand64(prng, [2, 2, 3]), w: rand64(prng, [2, 3, 2]) },
  }),
  'Gemm (transA, transB, alpha, beta, bias)': () => ({
    build: (g) => {
      const a = in64(g, 'a', [3, 2]); const b = in64(g, 'b', [4, 3]); const c = in64(g, 'c', [4]);
      return { out: gemm(a, b, c, { transA: true, transB: true, alpha: 0.7, beta: 1.3 }), wrt: [a, b, c] };
    },
    feeds: { a: rand64(prng, [3, 2]), b: rand64(prng, [4, 3]), c: rand64(prng, [4]) },
  }),
  'ReduceSum (axis 1, keepdims)': () => unaryCase((x) => reduceSum(x, [1])),
  'ReduceSum (all)': () => unaryCase((x) => reduceSum(x, undefined, { keepDims: false })),
  'ReduceMean (axis 0, no keepdims)': () => unaryCase((x) => reduceMean(x, [0], { keepDims: false })),
  'ReduceMax (axis 1)': () => unaryCase((x) => reduceMax(x, [1], { keepDims: false })),
  Reshape: () => unaryCase((x) => reshape(x, [3, 2]).mul(reshape(x, [3, 2]))),
  Flatten: () => ({ build: (g) => { const x = in64(g, 'x', [2, 3, 2]); return { out: flatten(x, 2).tanh(), wrt: [x] }; }, feeds: { x: rand64(prng, [2, 3, 2]) } }),
  Transpose: () => ({ build: (g) => { const x = in64(g, 'x', [2, 3, 2]); return { out: transpose(x, [2, 0, 1]).sigmoid(), wrt: [x] }; }, feeds: { x: rand64(prng, [2, 3, 2]) } }),
  'Unsqueeze/Squeeze': () => unaryCase((x) => unsqueeze(x, [0]).exp()),
  Concat: () => ({
    build: (g) => { const x = in64(g, 'x', [2, 3]); const y = in64(g, 'y', [2, 1]); return { out: concat([x, y, x], 1).tanh(), wrt: [x, y] }; },
    feeds: { x: rand64(prng, [2, 3]), y: rand64(prng, [2, 1]) },
  }),
  'Slice (negative step)': () => ({
    build: (g) => { const x = in64(g, 'x', [3, 4]); return { out: slice(x, { starts: [0, 3], ends: [3, 0], axes: [0, 1], steps: [2, -2] }).mul(2), wrt: [x] }; },
    feeds: { x: rand64(prng, [3, 4]) },
  }),
  'Gather axis 0 (repeated indices)': () => ({
    build: (g) => { const x = in64(g, 'x', [4, 2]); const i = g.input('i', 'int64', [3]); return { out: gather(x, i, 0), wrt: [x] }; },
    feeds: { x: rand64(prng, [4, 2]), i: i64([3], [2, 0, 2]) },
  }),
  'Gather axis 1': () => ({
    build: (g) => { const x = in64(g, 'x', [2, 4, 2]); const i = g.input('i', 'int64', [2, 2]); return { out: gather(x, i, 1), wrt: [x] }; },
    feeds: { x: rand64(prng, [2, 4, 2]), i: i64([2, 2], [3, 1, 1, 0]) },
  }),
  GatherElements: () => ({
    build: (g) => { const x = in64(g, 'x', [2, 3]); const i = g.input('i', 'int64', [2, 2]); return { out: gatherElements(x, i, 1), wrt: [x] }; },
    feeds: { x: rand64(prng, [2, 3]), i: i64([2, 2], [2, 2, 0, 1]) },
  }),
  'ScatterElements add': () => scatterCase('add', 5),
  'ScatterElements max': () => scatterCase('max', 5),
  'ScatterElements add (zero rows)': () => scatterCase('add', 0),
  'ScatterElements max (zero rows)': () => scatterCase('max', 0),
  'ScatterElements none': () => ({
    build: (g) => {
      const d = in64(g, 'd', [3, 2]); const u = in64(g, 'u', [2, 2]); const i = g.input('i', 'int64', [2, 2]);
      return { out: scatterElements(d, i, u, 0), wrt: [d, u] };
    },
    feeds: { d: rand64(prng, [3, 2]), u: rand64(prng, [2, 2]), i: i64([2, 2], [2, 0, 0, 1]) },
  }),
  Where: () => ({
    build: (g) => { const c = g.input('c', 'bool', [2, 3]); const x = in64(g, 'x', [2, 3]); const y = in64(g, 'y', [3]); return { out: where(c, x, y), wrt: [x, y] }; },
    feeds: { c: tensor('bool', [2, 3], Uint8Array.of(1, 0, 1, 0, 0, 1)), x: rand64(prng, [2, 3]), y: rand64(prng, [3]) },
  }),
  'Cast float64 → float32 → float64': () => ({ ...unaryCase((x) => x.cast('float32').tanh().cast('float64').mul(x)), eps: 1e-3, tol: 1e-3 }),
  LayerNormalization: () => ({
    build: (g) => { const x = in64(g, 'x', [3, 4]); const s = in64(g, 's', [4]); const b = in64(g, 'b', [4]); return { out: layerNorm(x, s, b), wrt: [x, s, b] }; },
    feeds: { x: rand64(prng, [3, 4]), s: rand64(prng, [4]), b: rand64(prng, [4]) },
    tol: 1e-5,
  }),
  'Dropout (runtime flag, eval)': () => ({
    build: (g) => { const x = in64(g, 'x', [2, 3]); const t = g.input('t', 'bool', []); return { out: dropout(x, 0.3, t).output.mul(x), wrt: [x] }; },
    feeds: { x: rand64(prng, [2, 3]), t: tensor('bool', [], Uint8Array.of(0)) },
  }),
  'Conv 2-D (pads, strides, dilations, bias; float32)': () => ({
    build: (g) => {
      const x = g.input('x', 'float32', [2, 2, 6, 5]); const w = g.input('w', 'float32', [3, 2, 3, 2]); const b = g.input('b', 'float32', [3]);
      return { out: conv2d(x, w, b, { pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 2] }), wrt: [x, w, b] };
    },
    feeds: { x: rand32(prng, [2, 2, 6, 5]), w: rand32(prng, [3, 2, 3, 2]), b: rand32(prng, [3]) },
    eps: 1e-2,
  }),
  'MaxPool (pads, strides; float32)': () => ({
    build: (g) => { const x = g.input('x', 'float32', [2, 2, 5, 5]); return { out: maxPool2d(x, { kernelShape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] }), wrt: [x] }; },
    feeds: { x: distinct32([2, 2, 5, 5]) },
  }),
  'MaxPool (dilations, overlapping windows; float32)': () => ({
    build: (g) => { const x = g.input('x', 'float32', [1, 2, 6, 6]); return { out: maxPool2d(x, { kernelShape: [2, 2], strides: [1, 1], dilations: [2, 2], pads: [0, 1, 1, 0] }), wrt: [x] }; },
    feeds: { x: distinct32([1, 2, 6, 6]) },
  }),
  'AveragePool (pads excluded; float32)': () => ({
    build: (g) => { const x = g.input('x', 'float32', [2, 2, 5, 5]); return { out: averagePool2d(x, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), wrt: [x] }; },
    feeds: { x: rand32(prng, [2, 2, 5, 5]) },
  }),
  'AveragePool (pads included, odd size; float32)': () => ({
    build: (g) => { const x = g.input('x', 'float32', [1, 2, 6, 6]); return { out: averagePool2d(x, { kernelShape: [2, 3], strides: [2, 2], pads: [0, 1, 1, 0], countIncludePad: true }), wrt: [x] }; },
    feeds: { x: rand32(prng, [1, 2, 6, 6]) },
  }),
  'GlobalAveragePool (float32)': () => ({
    build: (g) => { const x = g.input('x', 'float32', [2, 2, 3, 3]); return { out: globalAveragePool(x), wrt: [x] }; },
    feeds: { x: rand32(prng, [2, 2, 3, 3]) },
  }),
  'softmax cross-entropy (integer labels)': () => ({
    build: (g) => { const x = in64(g, 'x', [4, 3]); const y = g.input('y', 'int64', [4]); return { out: softmaxCrossEntropy(x, y), wrt: [x] }; },
    feeds: { x: rand64(prng, [4, 3], -2, 2), y: i64([4], [0, 2, 1, 2]) },
  }),
  MSE: () => ({
    build: (g) => { const p = in64(g, 'p', [3, 2]); const t = in64(g, 't', [3, 2]); return { out: mse(p, t), wrt: [p, t] }; },
    feeds: { p: rand64(prng, [3, 2]), t: rand64(prng, [3, 2]) },
  }),
  'MLP: relu(x W1 + b1) W2 → cross-entropy': () => ({
    build: (g) => {
      const x = in64(g, 'x', [4, 3]); const y = g.input('y', 'int64', [4]);
      const w1 = in64(g, 'w1', [3, 5]); const b1 = in64(g, 'b1', [5]); const w2 = in64(g, 'w2', [5, 3]);
      return { out: softmaxCrossEntropy(x.matmul(w1).add(b1).relu().matmul(w2), y), wrt: [w1, b1, w2] };
    },
    feeds: { x: rand64(prng, [4, 3]), y: i64([4], [0, 1, 2, 1]), w1: rand64(prng, [3, 5]), b1: rand64(prng, [5]), w2: rand64(prng, [5, 3]) },
  }),
};

/** Float32 values at least 0.01 apart (a max-pool window never ties, even after a step). */
function distinct32(dims: number[]): ReturnType<typeof rand32> {
  const n = dims.reduce((a, b) => a * b, 1);
  const order = Array.from({ length: n }, (_, i) => i).sort(() => prng.next() - 0.5);
  return tensor('float32', dims, Float32Array.from(order, (v) => v * 0.01 - n * 0.005));
}

/** Moves float32 values away from 0 (the kink of relu-like functions). */
function away32(t: ReturnType<typeof rand32>): ReturnType<typeof rand32> {
  for (let i = 0; i < t.data.length; i++) if (Math.abs(t.data[i]!) < 0.05) t.data[i] = 0.5;
  return t;
}

function scatterCase(reduction: 'add' | 'max', rows: number): GradCase {
  const dst = [2, 0, 2, 1, 0].slice(0, rows);
  return {
    build: (g) => {
      const d = in64(g, 'd', [3, 2]); const u = in64(g, 'u', [rows, 2]); const i = g.input('i', 'int64', [rows, 2]);
      return { out: scatterElements(d, i, u, 0, reduction).tanh(), wrt: rows > 0 ? [d, u] : [d] };
    },
    feeds: { d: rand64(prng, [3, 2]), u: rand64(prng, [rows, 2]), i: i64([rows, 2], dst.flatMap((v) => [v, v])) },
  };
}

describe('reverse-mode gradients match central finite differences', () => {
  // Tolerances: float64 cases use step 1e-6 and |analytic − numeric| ≤ 1e-6·(1 + |numeric|)
  // (LayerNormalization 1e-5); float32 cases (ORT has no float64 kernel for Gelu, LeakyRelu,
  // Conv, pools) use step 1e-3 (Conv 1e-2) and 1e-3. Measured worst errors: ~1e-10 (float64),
  // ~1e-4 (float32). Set GRADCHECK_REPORT=1 to print them.
  for (const [name, make] of Object.entries(CASES)) {
    it(name, async () => {
      const worst = await gradCheck(rt, make());
      if (process.env.GRADCHECK_REPORT) console.log(`gradcheck ${name}: worst relative error ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1);
    });
  }
});

describe('Dropout in training', () => {
  // Every run draws a new mask, so finite differences do not apply; check the rule exactly
  // against the mask the same run produced: d/dx sum(c * dropout(x)) = c * mask / (1 - p).
  it('scales the gradient by mask / (1 - ratio)', async () => {
    const g = new GraphBuilder('dropout-grad');
    const x = g.input('x', 'float64', [8, 8]);
    const c = g.input('c', 'float64', [8, 8]);
    const d = dropout(x, 0.3, true, { seed: 5 });
    const loss = reduceSum(d.output.mul(c), undefined, { keepDims: false });
    g.output(loss, 'loss');
    g.output(d.mask, 'mask');
    g.output(gradients(g, loss, [x])[0]!, 'gx');
    const s = await rt.createSession(g.build());
    const cv = rand64(prng, [8, 8]);
    const r = await s.run({ x: rand64(prng, [8, 8]), c: cv });
    const mask = toNumbers(r.mask!);
    expect(mask.some((m) => m === 0) && mask.some((m) => m === 1)).toBe(true);
    const gx = toNumbers(r.gx!);
    mask.forEach((m, i) => expect(gx[i]).toBeCloseTo((m * cv.data[i]!) / 0.7, 12));
    await s.dispose();
  });
});

describe('gradient gate', () => {
  it('is identity forward and scales the gradient by the gate backward', async () => {
    const g = new GraphBuilder('gate');
    const x = g.input('x', 'float32', [2]);
    const gate = g.input('gate', 'float32', []);
    const w = g.input('w', 'float32', [2]);
    const y = gradientGate(x.mul(w), gate).mul(3);
    const loss = reduceSum(y, undefined, { keepDims: false });
    g.output(loss, 'loss');
    const [gw] = gradients(g, loss, [w]);
    g.output(gw!, 'gw');
    const s = await rt.createSession(g.build());
    const feeds = { x: f32([2], [1, 2]), w: f32([2], [5, 7]) };
    for (const gv of [0, 0.5, 1]) {
      const r = await s.run({ ...feeds, gate: f32([], [gv]) });
      expect(toNumbers(r.loss!)).toEqual([3 * (5 + 14)]);
      expect(toNumbers(r.gw!)).toEqual([3 * gv * 1, 3 * gv * 2]);
    }
    await s.dispose();
  });

  it('passes the finite-difference check with the gate at 1 and stops gradients at 0', async () => {
    const make = (gv: number): GradCase => ({
      build: (g) => { const x = in64(g, 'x', [2, 3]); const gate = g.input('gate', 'float64', []); return { out: gradientGate(x.tanh(), gate).mul(x), wrt: [x] }; },
      feeds: { x: rand64(prng, [2, 3]), gate: tensor('float64', [], Float64Array.of(gv)) },
    });
    await gradCheck(rt, make(1));
    await expect(gradCheck(rt, make(0))).rejects.toThrow(/analytic/);
  });
});

describe('gradients()', () => {
  it('gives zeros for parameters the loss does not use and names missing rules', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2]);
    const unused = g.input('u', 'float32', [2]);
    const loss = reduceSum(x.mul(x), undefined, { keepDims: false });
    const [gu] = gradients(g, loss, [unused]);
    g.output(gu!, 'gu');
    g.output(loss, 'loss');
    const s = await rt.createSession(g.build());
    expect(toNumbers((await s.run({ x: f32([2], [1, 2]), u: f32([2], [3, 4]) })).gu!)).toEqual([0, 0]);
    await s.dispose();

    const h = new GraphBuilder();
    const a = h.input('a', 'float32', [2, 2]);
    const t = h.op1('Round', [a], {}, { dtype: 'float32', shape: [2, 2] });
    expect(() => gradients(h, reduceSum(t), [a])).toThrow(OnnxGraphError);
    expect(() => gradients(h, reduceSum(t), [a])).toThrow(/no gradient rule for Round/);
  });

  it('masks the Relu gradient on the output: 0 at x ≤ 0 and at NaN, NaN where a non-finite gradient meets an inactive unit', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [6]);
    const w = g.input('w', 'float32', [6]); // the upstream gradient of relu(x)
    const [gx] = gradients(g, reduceSum(x.relu().mul(w), undefined, { keepDims: false }), [x]);
    g.output(gx!, 'gx');
    const s = await rt.createSession(g.build());
    const out = await s.run({ x: f32([6], [-1, 0, 2, Number.NaN, 3, -4]), w: f32([6], [5, 6, 7, 8, Infinity, Infinity]) });
    expect(Array.from(out.gx!.data as Float32Array)).toEqual([0, 0, 7, 0, Infinity, Number.NaN]);
    await s.dispose();
  });

  it('sums leading axes with a MatMul when the trailing dims are known, else with ReduceSum', () => {
    const ops = (dims: (number | string)[], bias: (number | string)[] = [4]) => {
      const g = new GraphBuilder();
      const x = g.input('x', 'float32', dims);
      const b = g.input('b', 'float32', bias);
      g.output(gradients(g, reduceSum(x.add(b).mul(x), undefined, { keepDims: false }), [b])[0]!, 'gb');
      return g.build({ prune: true }).nodes.map((n) => n.opType);
    };
    expect(ops(['batch', 4])).toContain('MatMul');
    expect(ops(['batch', 4])).not.toContain('ReduceSum');
    expect(ops(['batch', 3, 4])).toContain('MatMul');
    expect(ops(['batch', 'n', 4])).toContain('MatMul');
    expect(ops(['batch', 'n', 4], ['n', 4])).toContain('ReduceSum');
    expect(ops(['batch', 'n', 4], ['n', 4])).not.toContain('MatMul');
  });

  it('sums a bias gradient over an empty batch to zeros, float32 and float64', async () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const g = new GraphBuilder();
      const x = g.input('x', dtype, ['batch', 3]);
      const b = g.input('b', dtype, [3]);
      const [gb] = gradients(g, reduceSum(x.add(b).mul(x), undefined, { keepDims: false }), [b]);
      g.output(gb!, 'gb');
      const s = await rt.createSession(g.build());
      const mk = (dims: number[], v: number[]) => (dtype === 'float32' ? f32(dims, v) : tensor('float64', dims, Float64Array.from(v)));
      expect(toNumbers((await s.run({ x: mk([0, 3], []), b: mk([3], [1, 2, 3]) })).gb!)).toEqual([0, 0, 0]);
      expect(toNumbers((await s.run({ x: mk([2, 3], [1, 2, 3, 4, 5, 6]), b: mk([3], [1, 2, 3]) })).gb!)).toEqual([5, 7, 9]);
      await s.dispose();
    }
  });

  it('derives gradients on a built graph via GraphBuilder.from', async () => {
    const g = new GraphBuilder('fwd');
    const x = g.input('x', 'float32', [1, 2]);
    const w = g.param('w', f32([2, 1], [3, 4]), { kind: 'input' });
    g.output(reduceSum(x.matmul(w), undefined, { keepDims: false }), 'loss');
    const b = GraphBuilder.from(g.build());
    const [gw] = gradients(b, b.tensor('loss'), [b.tensor('w')]);
    b.output(gw!, 'grad_w');
    const s = await rt.createSession(b.build());
    const r = await s.run({ x: f32([1, 2], [5, 6]), w: f32([2, 1], [3, 4]) });
    expect(toNumbers(r.grad_w!)).toEqual([5, 6]);
    expect(toNumbers(r.loss!)).toEqual([39]);
    await s.dispose();
  });
});
