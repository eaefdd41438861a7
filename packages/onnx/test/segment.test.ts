// Segment reductions for graph networks (issue 16, "Build"): 1-D ids, a symbolic edge count,
// zero edges, and gradients by finite differences (ties in segmentMax included).
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxGraphError, OnnxRuntime, gather, gradients, i64, reduceSum, segmentMax, segmentMean, segmentSoftmax, segmentSum, tensor, toNumbers,
  type Tensor, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import { gradCheck, rand64 } from './gradcheck.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());
const prng = new Prng(61);

type Segment = (data: Tensor, ids: Tensor, n: number | Tensor) => Tensor;
const OPS: [string, Segment][] = [['segmentSum', segmentSum], ['segmentMean', segmentMean], ['segmentMax', segmentMax]];

/** JS reference over rows of width `f`. */
function reference(name: string, data: number[], ids: number[], n: number, f: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < n; s++) {
    const rows = ids.flatMap((id, e) => (id === s ? [e] : []));
    for (let j = 0; j < f; j++) {
      const v = rows.map((e) => data[e * f + j]!);
      if (v.length === 0) out.push(0);
      else if (name === 'segmentSum') out.push(v.reduce((a, b) => a + b, 0));
      else if (name === 'segmentMean') out.push(v.reduce((a, b) => a + b, 0) / v.length);
      else out.push(Math.max(...v));
    }
  }
  return out;
}

async function run(build: (g: GraphBuilder) => Record<string, Tensor>, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
  const g = new GraphBuilder('segments');
  for (const [name, t] of Object.entries(build(g))) g.output(t, name);
  const s = await rt.createSession(g.build());
  try {
    return await s.run(feeds);
  } finally {
    await s.dispose();
  }
}

const f64 = (dims: number[], v: number[]) => tensor('float64', dims, Float64Array.from(v));

describe('segment reductions', () => {
  it('sum, mean and max match a JS reference with a symbolic edge count, an empty segment giving 0, and zero edges giving zeros', async () => {
    const ids = [2, 0, 2, 1, 2];
    const data = rand64(prng, [5, 3]);
    for (const [name, op] of OPS) {
      const build = (g: GraphBuilder) => ({ y: op(g.input('d', 'float64', ['edges', 3]), g.input('i', 'int64', ['edges']), 4) });
      const r = await run(build, { d: data, i: i64([5], ids) });
      expect(r.y!.dims).toEqual([4, 3]);
      toNumbers(r.y!).forEach((v, k) => expect(v).toBeCloseTo(reference(name, Array.from(data.data), ids, 4, 3)[k]!, 12));
      const none = await run(build, { d: f64([0, 3], []), i: i64([0], []) });
      expect(toNumbers(none.y!), `${name} with no edges`).toEqual(new Array(12).fill(0));
    }
  });

  it('take the segment count from a tensor (the node features), and accept int32 ids and 1-D data', async () => {
    const r = await run((g) => {
      const h = g.input('h', 'float64', ['nodes', 2]);
      const ids = g.input('i', 'int32', ['edges']);
      const d = g.input('d', 'float64', ['edges']);
      return { sum: segmentSum(d, ids, h), max: segmentMax(d, ids, h) };
    }, { h: f64([3, 2], [0, 0, 0, 0, 0, 0]), i: tensor('int32', [4], Int32Array.of(1, 1, 0, 1)), d: f64([4], [1, 5, -2, 3]) });
    expect(toNumbers(r.sum!)).toEqual([-2, 9, 0]);
    expect(toNumbers(r.max!)).toEqual([-2, 5, 0]);
  });

  it('segmentSoftmax normalises each segment and is empty without edges', async () => {
    const ids = [1, 1, 0, 1, 3];
    const scores = f64([5, 2], [1, 0, 50, -1, 2, 2, 3, 100, 0.5, 0.25]);
    const build = (g: GraphBuilder) => ({ p: segmentSoftmax(g.input('s', 'float64', ['edges', 2]), g.input('i', 'int64', ['edges']), 4) });
    const r = toNumbers((await run(build, { s: scores, i: i64([5], ids) })).p!);
    for (const head of [0, 1]) {
      const members = [0, 1, 3];
      const z = members.reduce((a, e) => a + Math.exp(scores.data[e * 2 + head]!), 0);
      for (const e of members) expect(r[e * 2 + head]).toBeCloseTo(Math.exp(scores.data[e * 2 + head]!) / z, 12);
      expect(r[2 * 2 + head]).toBe(1);
      expect(r[4 * 2 + head]).toBe(1);
    }
    const none = await run(build, { s: f64([0, 2], []), i: i64([0], []) });
    expect(none.p!.dims).toEqual([0, 2]);
  });

  it('checks its arguments', () => {
    const g = new GraphBuilder();
    const d = g.input('d', 'float32', ['e', 3]);
    expect(() => segmentSum(d, g.input('f', 'float32', ['e']), 2)).toThrow(OnnxGraphError);
    expect(() => segmentSum(d, g.input('i2', 'int64', ['e', 1]), 2)).toThrow(/1-D/);
    expect(() => segmentSum(d, g.input('i3', 'int64', [4]), 2)).not.toThrow();
    expect(() => segmentSum(g.input('d4', 'float32', [5, 3]), g.input('i4', 'int64', [4]), 2)).toThrow(/data rows vs segment ids/);
    expect(() => segmentSum(d, g.input('i5', 'int64', ['e']), -1)).toThrow(/>= 0/);
  });
});

describe('segment reductions: gradients by finite differences', () => {
  // A message-passing layer: messages gathered from source nodes, reduced at target nodes.
  const layer = (op: Segment, src: number[], dst: number[]) => ({
    build: (g: GraphBuilder) => {
      const h = g.input('h', 'float64', [4, 3]);
      const w = g.input('w', 'float64', [3, 3]);
      const s = g.input('src', 'int64', ['edges']);
      const d = g.input('dst', 'int64', ['edges']);
      const msgs = gather(h, s, 0).matmul(w);
      return { out: op(msgs, d, h).tanh().add(h), wrt: [h, w] };
    },
    feeds: { h: rand64(prng, [4, 3]), w: rand64(prng, [3, 3]), src: i64([src.length], src), dst: i64([dst.length], dst) },
  });
  for (const [name, op] of OPS) {
    it(`${name}: edges, an empty segment, and zero edges`, async () => {
      await gradCheck(rt, layer(op, [0, 1, 3, 2, 0], [1, 1, 0, 3, 3]));
      await gradCheck(rt, layer(op, [], []));
    });
  }

  it('segmentMax shares the gradient evenly among tied rows: a duplicated edge and a self-loop', async () => {
    // Node 0 reaches node 1 twice (a multi-edge); node 2 has a self-loop and an edge from itself again.
    await gradCheck(rt, layer(segmentMax, [0, 0, 2, 2, 3], [1, 1, 2, 2, 0]));
    const g = new GraphBuilder('dup');
    const h = g.input('h', 'float64', [2, 2]);
    const agg = segmentMax(gather(h, g.constant(i64([2], [0, 0]), 'src'), 0), g.constant(i64([2], [1, 1]), 'dst'), 2);
    const loss = reduceSum(agg);
    g.output(gradients(g, loss, [h])[0]!, 'gh');
    const s = await rt.createSession(g.build());
    expect(toNumbers((await s.run({ h: f64([2, 2], [0.3, -0.4, 0.8, 0.1]) })).gh!)).toEqual([1, 1, 0, 0]);
    await s.dispose();
  });

  it('segmentSoftmax: attention over incoming edges, one and several heads, with zero edges', async () => {
    const attention = (heads: number, src: number[], dst: number[]) => ({
      build: (g: GraphBuilder) => {
        const h = g.input('h', 'float64', [4, 3]);
        const a = g.input('a', 'float64', [3, heads]);
        const d = g.input('dst', 'int64', ['edges']);
        const scores = gather(h, g.input('src', 'int64', ['edges']), 0).matmul(a);
        return { out: segmentSoftmax(heads === 1 ? scores.reshape([-1]) : scores, d, h), wrt: [h, a] };
      },
      feeds: { h: rand64(prng, [4, 3]), a: rand64(prng, [3, heads]), src: i64([src.length], src), dst: i64([dst.length], dst) },
    });
    // gradCheck needs a fixed output shape: wrap in a segment sum of the weighted messages.
    const weighted = (heads: number, src: number[], dst: number[]) => {
      const c = attention(heads, src, dst);
      return {
        ...c,
        build: (g: GraphBuilder) => {
          const { out, wrt } = c.build(g);
          const msgs = gather(wrt[0]!, g.tensor('src'), 0);
          const weights = heads === 1 ? out.reshape([-1, 1]) : out.reshape([-1, heads]).sum([1]);
          return { out: segmentSum(msgs.mul(weights), g.tensor('dst'), 4), wrt };
        },
      };
    };
    await gradCheck(rt, weighted(1, [0, 1, 3, 2, 0, 1], [1, 1, 0, 3, 3, 1]));
    await gradCheck(rt, weighted(2, [0, 1, 3, 2, 0, 1], [1, 1, 0, 3, 3, 1]));
    await gradCheck(rt, weighted(2, [], []));
  });
});
