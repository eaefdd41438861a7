import { describe, expect, it } from 'vitest';
import { OnnxRuntime } from '../runtime/runtime.js';
import { Prng } from '../params/prng.js';
import { GraphBuilder } from './builder.js';
import { quantizeMatMulWeights, quantizeMatMulWeightsAsync } from './quantize.js';
import { f32, toNumbers } from './tensor-data.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });

function random(prng: Prng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => prng.uniform(-scale, scale));
}

/** x [rows, K] → x·W1 (large) → relu → ·W2 (small), plus a second reader of W1 that is not a MatMul. */
function model(K: number, N: number, prng: Prng, opts: { shareW1?: boolean } = {}) {
  const g = new GraphBuilder('q');
  const x = g.input('x', 'float32', ['rows', K]);
  const w1 = g.param('w1', f32([K, N], random(prng, K * N, 0.1)));
  const w2 = g.param('w2', f32([N, 4], random(prng, N * 4, 0.1)));
  g.output(x.matmul(w1).relu().matmul(w2), 'y');
  if (opts.shareW1 === true) g.output(w1.mul(g.param('two', f32([], [2]))), 'w1x2');
  return g.build();
}

describe('quantizeMatMulWeights', () => {
  it('replaces large float32 MatMul weights by int8 DynamicQuantizeMatMul within the quantization error, and runs on ONNX Runtime', async () => {
    const prng = new Prng(7);
    const graph = model(256, 512, prng);
    const report = quantizeMatMulWeights(graph, { minElements: 10_000 });
    expect(report.quantized).toEqual(['w1']); // w2 is [512, 4]: under the threshold
    const ops = report.graph.nodes.map((n) => `${n.domain}:${n.opType}`).filter((o) => o.includes('MatMul'));
    expect(ops).toEqual(['com.microsoft:DynamicQuantizeMatMul', ':MatMul']);
    expect(report.graph.initializers.has('w1')).toBe(false);
    expect(report.graph.initializers.get(report.graph.nodes.find((n) => n.opType === 'DynamicQuantizeMatMul')!.inputs[1]!)!.dtype).toBe('int8');
    expect(report.bytesBefore).toBe(256 * 512 * 4);
    expect(report.bytesAfter).toBe(256 * 512 + 512 * 4 + 512);

    const exact = await rt.createSession(graph);
    const quant = await rt.createSession(report.graph);
    const x = f32([3, 256], random(prng, 3 * 256));
    const a = toNumbers((await exact.run({ x })).y!);
    const b = toNumbers((await quant.run({ x })).y!);
    const magnitude = Math.max(...a.map(Math.abs));
    const err = Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))));
    expect(magnitude).toBeGreaterThan(0.1);
    expect(err).toBeLessThan(2e-2 * magnitude);
    expect(err).toBeGreaterThan(0); // it really is quantized
    await exact.dispose();
    await quant.dispose();
  });

  it('the async driver yields between weights and gives the same graph', async () => {
    const g = new GraphBuilder('two');
    const x = g.input('x', 'float32', [1, 64]);
    const prng = new Prng(11);
    const w1 = g.param('w1', f32([64, 64], random(prng, 64 * 64)));
    const w2 = g.param('w2', f32([64, 64], random(prng, 64 * 64)));
    g.output(x.matmul(w1).matmul(w2), 'y');
    const graph = g.build();
    let yields = 0;
    const async = await quantizeMatMulWeightsAsync(graph, { minElements: 1, chunkBytes: 1, yieldControl: async () => void yields++ });
    const sync = quantizeMatMulWeights(graph, { minElements: 1 });
    expect(yields).toBe(2);
    expect(async.quantized).toEqual(['w1', 'w2']);
    expect(async.graph.nodes).toEqual(sync.graph.nodes);
    expect([...async.graph.initializers.keys()]).toEqual([...sync.graph.initializers.keys()]);
  });

  it('keeps a weight that another node reads, and leaves graphs without large weights unchanged', () => {
    const prng = new Prng(3);
    const shared = quantizeMatMulWeights(model(128, 256, prng, { shareW1: true }), { minElements: 1_000 });
    expect(shared.quantized).toContain('w1');
    expect(shared.graph.initializers.has('w1')).toBe(true);

    const small = model(8, 8, prng);
    const none = quantizeMatMulWeights(small);
    expect(none.quantized).toEqual([]);
    expect(none.graph.nodes).toEqual(small.nodes);
  });

  it('maps an all-zero column to zero exactly and rejects a bad threshold', async () => {
    const g = new GraphBuilder('z');
    const x = g.input('x', 'float32', [1, 4]);
    const w = new Float32Array(4 * 3);
    for (let i = 0; i < 4; i++) w[i * 3] = i + 1; // column 0 = 1..4, columns 1 and 2 zero
    g.output(x.matmul(g.param('w', f32([4, 3], w))), 'y');
    const built = g.build();
    const report = quantizeMatMulWeights(built, { minElements: 1 });
    const s = await rt.createSession(report.graph);
    const y = toNumbers((await s.run({ x: f32([1, 4], [1, 1, 1, 1]) })).y!);
    expect(y[1]).toBe(0);
    expect(y[2]).toBe(0);
    expect(y[0]).toBeCloseTo(10, 1);
    await s.dispose();
    expect(() => quantizeMatMulWeights(built, { minElements: 0 })).toThrow(/minElements/);
  });
});
