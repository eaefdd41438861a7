import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxRuntime, type Tensor, averagePool2d, cast, concat, conv2d, dropout, f32, flatten, gather, gemm, globalAveragePool,
  i64, layerNorm, maxPool2d, mse, reduceMax, reduceMean, reduceSum, reshape, scatterElements, slice, softmaxCrossEntropy, tensor,
  toNumbers, transpose, where, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import * as R from './reference.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

/** Builds a graph with `build`, runs it on ORT CPU, and checks result dims against the inferred shapes. */
async function run(build: (g: GraphBuilder) => Record<string, Tensor>, feeds: Record<string, TensorData> = {}): Promise<Record<string, TensorData>> {
  const g = new GraphBuilder('op');
  for (const [name, t] of Object.entries(outs(build, g))) g.output(t, name);
  const graph = g.build();
  const s = await rt.createSession(graph);
  try {
    const res = await s.run(feeds);
    for (const o of graph.outputs) {
      const dims = res[o.name]!.dims;
      expect(o.shape?.length, `rank of ${o.name}`).toBe(dims.length);
      o.shape!.forEach((d, i) => { if (typeof d === 'number') expect(dims[i], `inferred dim ${i} of ${o.name}`).toBe(d); });
    }
    return res;
  } finally {
    await s.dispose();
  }
}
function outs(build: (g: GraphBuilder) => Record<string, Tensor>, g: GraphBuilder) {
  return build(g);
}

const prng = new Prng(1234);
function rand(dims: number[], lo = -1, hi = 1): { t: TensorData<'float32'>; a: R.Arr } {
  const data = new Float32Array(R.size(dims));
  for (let i = 0; i < data.length; i++) data[i] = prng.uniform(lo, hi);
  return { t: f32(dims, data), a: R.arr(dims, data) };
}

function expectClose(actual: TensorData | undefined, expected: R.Arr, tol = 1e-5): void {
  expect(actual).toBeDefined();
  expect([...actual!.dims]).toEqual(expected.dims);
  const got = toNumbers(actual!);
  for (let i = 0; i < got.length; i++) {
    const e = expected.data[i]!;
    if (Math.abs(got[i]! - e) > tol * (1 + Math.abs(e))) expect.fail(`element ${i}: got ${got[i]}, expected ${e} (tol ${tol})`);
  }
}

describe('forward operators on ONNX Runtime CPU vs a JS reference', () => {
  it('MatMul (2-D and batched) and Gemm', async () => {
    const a = rand([3, 4]); const b = rand([4, 5]); const A = rand([2, 3, 4]); const B = rand([2, 4, 5]); const c = rand([5]);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [3, 4]); const y = g.input('b', 'float32', [4, 5]);
      const X = g.input('A', 'float32', [2, 3, 4]); const Y = g.input('B', 'float32', [2, 4, 5]); const z = g.input('c', 'float32', [5]);
      const bt = g.input('bt', 'float32', [5, 4]);
      return { mm: x.matmul(y), bmm: X.matmul(Y), gemm: gemm(x, bt, z, { transB: true, alpha: 0.5, beta: 2 }) };
    }, { a: a.t, b: b.t, A: A.t, B: B.t, c: c.t, bt: f32([5, 4], Float32Array.from(R.transpose(b.a, [1, 0]).data)) });
    expectClose(r.mm, R.matmul(a.a, b.a));
    expectClose(r.bmm, R.matmul(A.a, B.a));
    expectClose(r.gemm, R.broadcast(R.map(R.matmul(a.a, b.a), (v) => 0.5 * v), c.a, (x, y) => x + 2 * y));
  });

  it('Add, Sub, Mul, Div, Pow with broadcasting, and Neg', async () => {
    const a = rand([2, 3]); const b = rand([3]); const p = rand([2, 3], 0.5, 2);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [2, 3]); const y = g.input('b', 'float32', [3]); const z = g.input('p', 'float32', [2, 3]);
      return { add: x.add(y), sub: x.sub(y), mul: x.mul(y), div: x.div(y.add(3)), pow: z.pow(y), neg: x.neg(), addc: x.add(2) };
    }, { a: a.t, b: b.t, p: p.t });
    expectClose(r.add, R.broadcast(a.a, b.a, (x, y) => x + y));
    expectClose(r.sub, R.broadcast(a.a, b.a, (x, y) => x - y));
    expectClose(r.mul, R.broadcast(a.a, b.a, (x, y) => x * y));
    expectClose(r.div, R.broadcast(a.a, b.a, (x, y) => x / (y + 3)));
    expectClose(r.pow, R.broadcast(p.a, b.a, (x, y) => x ** y));
    expectClose(r.neg, R.map(a.a, (x) => -x));
    expectClose(r.addc, R.map(a.a, (x) => x + 2));
  });

  it('Relu, LeakyRelu, Gelu (exact and tanh), Tanh, Sigmoid, Exp, Log, Sqrt', async () => {
    const a = rand([4, 5], -3, 3); const p = rand([4, 5], 0.1, 4);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [4, 5]); const y = g.input('p', 'float32', [4, 5]);
      return { relu: x.relu(), leaky: x.leakyRelu(0.2), gelu: x.gelu(), gelut: x.gelu('tanh'), tanh: x.tanh(), sig: x.sigmoid(), exp: x.exp(), log: y.log(), sqrt: y.sqrt() };
    }, { a: a.t, p: p.t });
    expectClose(r.relu, R.map(a.a, (x) => Math.max(0, x)));
    expectClose(r.leaky, R.map(a.a, (x) => (x >= 0 ? x : 0.2 * x)));
    expectClose(r.gelu, R.map(a.a, (x) => 0.5 * x * (1 + R.erf(x / Math.SQRT2))));
    expectClose(r.gelut, R.map(a.a, (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))));
    expectClose(r.tanh, R.map(a.a, Math.tanh));
    expectClose(r.sig, R.map(a.a, (x) => 1 / (1 + Math.exp(-x))));
    expectClose(r.exp, R.map(a.a, Math.exp));
    expectClose(r.log, R.map(p.a, Math.log));
    expectClose(r.sqrt, R.map(p.a, Math.sqrt));
  });

  it('Softmax and LogSoftmax on the last axis and axis 0', async () => {
    const a = rand([3, 4], -4, 4);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [3, 4]);
      return { sm: x.softmax(), lsm: x.logSoftmax(), sm0: x.softmax(0), lsm0: x.logSoftmax(0) };
    }, { a: a.t });
    expectClose(r.sm, R.softmax(a.a, -1));
    expectClose(r.lsm, R.softmax(a.a, -1, true));
    expectClose(r.sm0, R.softmax(a.a, 0));
    expectClose(r.lsm0, R.softmax(a.a, 0, true));
  });

  it('ReduceSum, ReduceMean, ReduceMax over axes, with and without keepdims', async () => {
    const a = rand([2, 3, 4]);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [2, 3, 4]);
      return {
        sum1: reduceSum(x, [1]), sumAll: reduceSum(x, undefined, { keepDims: false }), mean02: reduceMean(x, [0, 2], { keepDims: false }),
        meanNeg: reduceMean(x, [-1]), max2: reduceMax(x, [2], { keepDims: false }), maxAll: reduceMax(x), maxAllKeep: reduceMax(x, undefined, { keepDims: true }),
      };
    }, { a: a.t });
    expectClose(r.sum1, R.reduce(a.a, [1], true, 'sum'));
    expectClose(r.sumAll, R.reduce(a.a, [0, 1, 2], false, 'sum'));
    expectClose(r.mean02, R.reduce(a.a, [0, 2], false, 'mean'));
    expectClose(r.meanNeg, R.reduce(a.a, [2], true, 'mean'));
    expectClose(r.max2, R.reduce(a.a, [2], false, 'max'));
    expectClose(r.maxAll, R.reduce(a.a, [0, 1, 2], false, 'max')); // no axes: a scalar by default
    expectClose(r.maxAllKeep, R.reduce(a.a, [0, 1, 2], true, 'max'));
  });

  it('Reshape, Flatten, Transpose, Concat, Slice, Identity', async () => {
    const a = rand([2, 3, 4]); const b = rand([2, 1, 4]);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [2, 3, 4]); const y = g.input('b', 'float32', [2, 1, 4]);
      return {
        reshape: reshape(x, [0, -1]), flat: flatten(x, 2), tr: transpose(x, [2, 0, 1]), cat: concat([x, y], 1),
        sl: slice(x, { starts: [1, 3], ends: [3, 0], axes: [1, 2], steps: [1, -2] }), id: x.builder.op1('Identity', [x], {}, { dtype: 'float32', shape: x.shape }),
      };
    }, { a: a.t, b: b.t });
    expectClose(r.reshape, { dims: [2, 12], data: a.a.data });
    expectClose(r.flat, { dims: [6, 4], data: a.a.data });
    expectClose(r.tr, R.transpose(a.a, [2, 0, 1]));
    const cat: number[] = [];
    for (let n = 0; n < 2; n++) cat.push(...a.a.data.slice(n * 12, n * 12 + 12), ...b.a.data.slice(n * 4, n * 4 + 4));
    expectClose(r.cat, { dims: [2, 4, 4], data: cat });
    const sl: number[] = [];
    for (let n = 0; n < 2; n++) for (let i = 1; i < 3; i++) for (const j of [3, 1]) sl.push(a.a.data[n * 12 + i * 4 + j]!);
    expectClose(r.sl, { dims: [2, 2, 2], data: sl });
    expectClose(r.id, a.a);
  });

  it('Gather along axis 0 and 1', async () => {
    const a = rand([4, 3]);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [4, 3]); const i0 = g.input('i0', 'int64', [2, 2]); const i1 = g.input('i1', 'int64', [2]);
      return { g0: gather(x, i0, 0), g1: gather(x, i1, 1) };
    }, { a: a.t, i0: i64([2, 2], [3, 0, 1, 3]), i1: i64([2], [2, -3]) });
    const row = (i: number) => a.a.data.slice(i * 3, i * 3 + 3);
    expectClose(r.g0, { dims: [2, 2, 3], data: [...row(3), ...row(0), ...row(1), ...row(3)] });
    expectClose(r.g1, { dims: [4, 2], data: [0, 1, 2, 3].flatMap((i) => [a.a.data[i * 3 + 2]!, a.a.data[i * 3]!]) });
  });

  it('ScatterElements with add and max reduction, including a zero-row index tensor', async () => {
    // message passing: 5 edges into 3 nodes, 2 features
    const data = f32([3, 2], [0, 0, 0, 0, -5, -5]);
    const dst = [2, 0, 2, 1, 2];
    const idx = i64([5, 2], dst.flatMap((d) => [d, d]));
    const upd = rand([5, 2]);
    const build = (rows: number) => (g: GraphBuilder) => {
      const d = g.input('d', 'float32', [3, 2]); const i = g.input('i', 'int64', [rows, 2]); const u = g.input('u', 'float32', [rows, 2]);
      return { add: scatterElements(d, i, u, 0, 'add'), max: scatterElements(d, i, u, 0, 'max'), none: scatterElements(d, i.builder.constant(i64([1, 2], [1, 0])), i.builder.constant(f32([1, 2], [7, 8]))) };
    };
    const r = await run(build(5), { d: data, i: idx, u: upd.t });
    const add = Array.from(data.data, Number); const max = Array.from(data.data, Number);
    dst.forEach((d, e) => { for (let f = 0; f < 2; f++) { add[d * 2 + f]! += upd.a.data[e * 2 + f]!; max[d * 2 + f] = Math.max(max[d * 2 + f]!, upd.a.data[e * 2 + f]!); } });
    expectClose(r.add, { dims: [3, 2], data: add });
    expectClose(r.max, { dims: [3, 2], data: max });
    expectClose(r.none, { dims: [3, 2], data: [0, 8, 7, 0, -5, -5] });
    const empty = await run(build(0), { d: data, i: i64([0, 2], []), u: f32([0, 2], []) });
    expectClose(empty.add, R.arr([3, 2], data.data));
    expectClose(empty.max, R.arr([3, 2], data.data));
  });

  it('Where and Cast', async () => {
    const a = rand([2, 3], -2, 2); const b = rand([2, 3]);
    const cond = tensor('bool', [2, 3], Uint8Array.from(a.a.data.map((v) => (v > 0 ? 1 : 0))));
    const r = await run((g) => {
      const x = g.input('a', 'float32', [2, 3]); const y = g.input('b', 'float32', [2, 3]); const c = g.input('c', 'bool', [2, 3]);
      return { where: where(c, x, y), toInt: cast(x, 'int64'), back: cast(cast(x, 'int32'), 'float32'), toBool: cast(x, 'bool') };
    }, { a: a.t, b: b.t, c: cond });
    expectClose(r.where, { dims: [2, 3], data: a.a.data.map((v, i) => (v > 0 ? v : b.a.data[i]!)) });
    expect(r.toInt!.dtype).toBe('int64');
    expectClose(r.toInt, R.map(a.a, Math.trunc));
    expectClose(r.back, R.map(a.a, Math.trunc));
    expectClose(r.toBool, R.map(a.a, (v) => (v !== 0 ? 1 : 0)));
  });

  it('LayerNormalization', async () => {
    const a = rand([3, 5]); const s = rand([5]); const b = rand([5]);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [3, 5]);
      return { ln: layerNorm(x, g.param('s', s.t), g.param('b', b.t), { epsilon: 1e-5 }) };
    }, { a: a.t });
    const mean = R.reduce(a.a, [1], true, 'mean');
    const centered = R.broadcast(a.a, mean, (x, m) => x - m);
    const variance = R.reduce(R.map(centered, (v) => v * v), [1], true, 'mean');
    const norm = R.broadcast(centered, variance, (c, v) => c / Math.sqrt(v + 1e-5));
    expectClose(r.ln, R.broadcast(R.broadcast(norm, s.a, (x, y) => x * y), b.a, (x, y) => x + y), 1e-4);
  });

  it('Dropout in training (scaled kept values, mask) and evaluation (identity), also as a runtime flag', async () => {
    const a = rand([64, 32], 0.5, 1.5);
    const r = await run((g) => {
      const x = g.input('a', 'float32', [64, 32]); const flag = g.input('training', 'bool', []);
      const t = dropout(x, 0.25, true, { seed: 3 }); const e = dropout(x, 0.25, false); const f = dropout(x, 0.25, flag, { seed: 3 });
      return { train: t.output, mask: t.mask, evalOut: e.output, evalMask: e.mask, flagOut: f.output };
    }, { a: a.t, training: tensor('bool', [], Uint8Array.of(0)) });
    const mask = toNumbers(r.mask!);
    const kept = mask.reduce((s, v) => s + v, 0) / mask.length;
    expect(kept).toBeGreaterThan(0.7);
    expect(kept).toBeLessThan(0.8);
    expectClose(r.train, { dims: [64, 32], data: a.a.data.map((v, i) => (mask[i] ? v / 0.75 : 0)) });
    expectClose(r.evalOut, a.a);
    expect(toNumbers(r.evalMask!).every((v) => v === 1)).toBe(true);
    expectClose(r.flagOut, a.a);
  });

  it('Conv 2-D (pads, strides, bias), MaxPool, AveragePool, GlobalAveragePool', async () => {
    const x = rand([2, 3, 7, 7]); const w = rand([4, 3, 3, 3]); const b = rand([4]);
    const r = await run((g) => {
      const xi = g.input('x', 'float32', ['n', 3, 7, 7]);
      const c = conv2d(xi, g.param('w', w.t), g.param('b', b.t), { pads: [1, 0, 1, 2], strides: [2, 1] });
      return {
        conv: c,
        max: maxPool2d(xi, { kernelShape: [3, 2], strides: [2, 2], pads: [1, 1, 1, 0] }),
        avg: averagePool2d(xi, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
        gap: globalAveragePool(c),
      };
    }, { x: x.t });
    const conv = R.conv2d(x.a, w.a, b.a.data, [1, 0, 1, 2], [2, 1]);
    expectClose(r.conv, conv, 1e-4);
    expectClose(r.max, R.pool2d(x.a, [3, 2], [2, 2], [1, 1, 1, 0], 'max'));
    expectClose(r.avg, R.pool2d(x.a, [3, 3], [2, 2], [1, 1, 1, 1], 'avg'));
    const gap = R.reduce(conv, [2, 3], true, 'mean');
    expectClose(r.gap, gap, 1e-4);
  });

  it('losses: softmax cross-entropy with integer labels, and MSE', async () => {
    const logits = rand([6, 4], -3, 3); const labels = [0, 3, 1, 1, 2, 3]; const p = rand([6, 4]); const t = rand([6, 4]);
    const r = await run((g) => {
      const l = g.input('logits', 'float32', ['n', 4]); const y = g.input('labels', 'int64', ['n']);
      const pi = g.input('p', 'float32', [6, 4]); const ti = g.input('t', 'float32', [6, 4]);
      return { ce: softmaxCrossEntropy(l, y), mse: mse(pi, ti) };
    }, { logits: logits.t, labels: i64([6], labels), p: p.t, t: t.t });
    const lsm = R.softmax(logits.a, 1, true);
    const ce = -labels.reduce((s, c, i) => s + lsm.data[i * 4 + c]!, 0) / labels.length;
    expectClose(r.ce, { dims: [], data: [ce] });
    const m = p.a.data.reduce((s, v, i) => s + (v - t.a.data[i]!) ** 2, 0) / p.a.data.length;
    expectClose(r.mse, { dims: [], data: [m] });
  });
});
