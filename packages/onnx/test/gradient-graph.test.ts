// A gradient graph in one call, and full reductions that are scalars (issue 16, "Build").
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxGraphError, OnnxRuntime, buildTrainingGraph, conv2d, f32, gradientGate, gradientGraph, reduceMax, reduceMean, reduceSum, toNumbers,
} from '../src/index.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

function forward() {
  const g = new GraphBuilder('fwd');
  const x = g.input('x', 'float32', ['n', 2]);
  const w = g.param('w', f32([2, 1], [3, 4]));
  const y = x.matmul(w);
  g.output(y, 'y');
  g.output(y.mul(y).sum(), 'loss'); // a full reduction: a scalar without { keepDims: false }
  return g.build();
}

describe('gradientGraph', () => {
  it("gradientGraph(forward, { of: 'loss', wrt: ['w', 'x'] }) has outputs grad/w and grad/x next to the forward's", async () => {
    const graph = gradientGraph(forward(), { of: 'loss', wrt: ['w', 'x'] });
    expect(graph.outputs.map((o) => o.name)).toEqual(['y', 'loss', 'grad/w', 'grad/x']);
    const s = await rt.createSession(graph);
    // loss = Σ (x·w)², dL/dw = 2 xᵀ(xw), dL/dx = 2 (xw) wᵀ.
    const r = await s.run({ x: f32([2, 2], [1, 2, 3, 4]) });
    expect(toNumbers(r.loss!)).toEqual([11 ** 2 + 25 ** 2]);
    expect(toNumbers(r['grad/w']!)).toEqual([2 * (1 * 11 + 3 * 25), 2 * (2 * 11 + 4 * 25)]);
    expect(toNumbers(r['grad/x']!)).toEqual([2 * 11 * 3, 2 * 11 * 4, 2 * 25 * 3, 2 * 25 * 4]);
    await s.dispose();
  });

  it('keeps only what the gradients need without the forward outputs, names outputs as asked, and honours gradient gates', async () => {
    const g = new GraphBuilder('gated');
    const x = g.input('x', 'float32', [1, 2]);
    const gate = g.input('gate', 'float32', []);
    const w = g.param('w', f32([2, 1], [3, 4]), { kind: 'input' });
    g.output(reduceSum(gradientGate(x, gate).matmul(w)), 'loss');
    const graph = gradientGraph(g.build(), { of: 'loss', wrt: ['x'], keepOutputs: false, outputName: (n) => `d_${n}` });
    expect(graph.outputs.map((o) => o.name)).toEqual(['d_x']);
    const s = await rt.createSession(graph);
    const r = await s.run({ x: f32([1, 2], [5, 6]), gate: f32([], [0.5]), w: f32([2, 1], [3, 4]) });
    expect(toNumbers(r.d_x!)).toEqual([1.5, 2]);
    await s.dispose();
  });

  it('computes dL/dx without the weight-gradient Conv when only x is asked for', () => {
    const g = new GraphBuilder('conv');
    const x = g.input('x', 'float32', ['n', 2, 5, 5]);
    const w = g.param('w', f32([3, 2, 3, 3], new Float32Array(54).fill(0.1)));
    g.output(conv2d(x, w, null, { pads: [1, 1, 1, 1] }).mean(), 'loss');
    const ops = gradientGraph(g.build(), { of: 'loss', wrt: ['x'] }).nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(1);
  });

  it('says what is wrong with its arguments', () => {
    expect(() => gradientGraph(forward(), { of: 'nope', wrt: ['w'] })).toThrow(/"nope" is not an output of graph "fwd"/);
    expect(() => gradientGraph(forward(), { of: 'loss', wrt: ['v'] })).toThrow(/no value "v"/);
    expect(() => gradientGraph(forward(), { of: 'loss', wrt: ['w', 'w'] })).toThrow(OnnxGraphError);
    expect(() => gradientGraph(forward(), { of: 'loss', wrt: [] })).toThrow(/wrt names no value/);
  });
});

describe('full reductions are scalars', () => {
  it('reduce over every axis with no axes given gives shape []; with axes, ONNX keepdims stays the default', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['n', 3]);
    expect(x.sum().shape).toEqual([]);
    expect(reduceMean(x).shape).toEqual([]);
    expect(reduceMax(x).shape).toEqual([]);
    expect(x.min().shape).toEqual([]);
    expect(x.mean(undefined, { keepDims: true }).shape).toEqual([1, 1]);
    expect(x.sum([1]).shape).toEqual(['n', 1]);
    expect(x.sum([0, 1]).shape).toEqual([1, 1]);
  });

  it('a training graph takes x.mean() as its loss, and says how to fix a loss that kept its axes', () => {
    const make = (keep: boolean) => {
      const g = new GraphBuilder('m');
      const x = g.input('x', 'float32', ['n', 3]);
      const w = g.param('w', f32([3, 1], [1, 2, 3]));
      g.output(keep ? x.matmul(w).mean([0, 1]) : x.matmul(w).mean(), 'loss');
      return g.build();
    };
    expect(buildTrainingGraph(make(false), { loss: 'loss', optimizer: { kind: 'sgd' } }).outputs.loss).toBe('loss');
    expect(() => buildTrainingGraph(make(true), { loss: 'loss', optimizer: { kind: 'sgd' } })).toThrow(/has shape \[1, 1\], not a scalar; .*keepDims: false/);
  });
});
