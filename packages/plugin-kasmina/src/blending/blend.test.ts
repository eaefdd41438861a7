// The blend modes as ONNX graphs (float64, ONNX Runtime): the reference's values, and gradients
// checked against central finite differences of the same computation.
import { GraphBuilder, OnnxRuntime, Prng, gradients, reduceSum, tensor, toNumbers, type Tensor, type TensorData } from '@esper/onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { blend, blendWeight, blendWithWeight, confidenceGate, seedInput, stopGradient, type BlendControls } from './blend.js';
import { CONTROL_KEYS, CONVEX_BLEND, controlValues, resolveBlend, type ControlValues } from './controls.js';
import type { BlendConfig } from './modes.js';
import { SeedLifecycleStage } from '@esper/core/leyline';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

const f64 = (dims: number[], values: readonly number[]): TensorData => tensor('float64', dims, Float64Array.from(values));

/** The controls as float64 graph inputs (`alpha_vec` `[features]`). */
function controlInputs(g: GraphBuilder, features: number): BlendControls {
  return Object.fromEntries(CONTROL_KEYS.map((k) => [k, g.input(`c_${k}`, 'float64', k === 'alphaVec' ? [features] : [])])) as unknown as BlendControls;
}

/** Feeds of {@link controlInputs}. */
function controlFeeds(values: ControlValues, features: number): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const k of CONTROL_KEYS) {
    const v = values[k];
    feeds[`c_${k}`] = k === 'alphaVec' ? f64([features], typeof v === 'number' ? Array(features).fill(v) : (v as number[])) : f64([], [v as number]);
  }
  return feeds;
}

/** BLENDING controls with α and a blend configuration (as the executor feeds them). */
const blending = (alpha: number, features: number, config?: BlendConfig): ControlValues =>
  controlValues(SeedLifecycleStage.SEED_STAGE_BLENDING, alpha, resolveBlend(config, features).values);

/** Runs `out = blend(h, s)` on given h and s; returns the output and d sum(out·R) / d h, d s (R: fixed weights). */
async function direct(dims: [number, number], h: readonly number[], s: readonly number[], values: ControlValues, confidenceGate = true) {
  const g = new GraphBuilder('direct');
  const hIn = g.input('h', 'float64', dims);
  const sIn = g.input('s', 'float64', dims);
  const out = blend(hIn, sIn, controlInputs(g, dims[1]), { confidenceGate });
  g.output(out, 'out');
  const [dh, ds] = gradients(g, reduceSum(out, undefined, { keepDims: false }), [hIn, sIn]);
  g.output(dh!, 'dh');
  g.output(ds!, 'ds');
  const session = await rt.createSession(g.build());
  try {
    const r = await session.run({ h: f64(dims, h), s: f64(dims, s), ...controlFeeds(values, dims[1]) });
    return { out: toNumbers(r.out!), dh: toNumbers(r.dh!), ds: toNumbers(r.ds!) };
  } finally {
    await session.dispose();
  }
}

const close = (actual: readonly number[], expected: readonly number[], digits = 12) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a, `element ${i}`).toBeCloseTo(expected[i]!, digits));
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('blend modes: the reference acceptance values (kasmina §9.2)', () => {
  test('CONVEX, α 0.3, host [1], seed [2]: out 1.3; the host gets no gradient, the seed 0.3', async () => {
    const r = await direct([1, 1], [1], [2], blending(0.3, 1));
    close(r.out, [0.7 * 1 + 0.3 * 2]);
    expect(r.dh).toEqual([0]);
    close(r.ds, [0.3]);
  });

  test('RESIDUAL, α 0.3, host [[1,2]], seed [[3,5]]: out sg(h) + 0.3·s; host gradient 0, seed 0.3', async () => {
    const r = await direct([1, 2], [1, 2], [3, 5], blending(0.3, 2, { mode: 'RESIDUAL' }));
    close(r.out, [1 + 0.9, 2 + 1.5]);
    expect(r.dh).toEqual([0, 0]);
    close(r.ds, [0.3, 0.3]);
  });

  test('RESIDUAL, α 0.4, host ones, seed twos: every element 1.8', async () => {
    const r = await direct([1, 2], [1, 1], [2, 2], blending(0.4, 2, { mode: 'RESIDUAL' }));
    close(r.out, [1.8, 1.8]);
  });

  test('CHANNEL, [2,3] ones, α 0.5, v [0.2, 0.6, 1.0]: out a·s + (1−a)·h with a = 0.5·v; seed gradient in column c is a_c', async () => {
    const h = [1, 1, 1, 1, 1, 1];
    const s = [1, 1, 1, 1, 1, 1];
    const r = await direct([2, 3], h, s, blending(0.5, 3, { mode: 'CHANNEL', alphaVec: [0.2, 0.6, 1] }));
    close(r.out, [1, 1, 1, 1, 1, 1]);
    close(r.ds, [0.1, 0.3, 0.5, 0.1, 0.3, 0.5]);
    expect(r.dh).toEqual([0, 0, 0, 0, 0, 0]);
    // Distinct values, so the output checks the per-column weights too.
    const r2 = await direct([2, 3], [1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1], blending(0.5, 3, { mode: 'CHANNEL', alphaVec: [0.2, 0.6, 1] }));
    const a = [0.1, 0.3, 0.5];
    close(r2.out, [1, 2, 3, 4, 5, 6].map((hv, i) => a[i % 3]! * [6, 5, 4, 3, 2, 1][i]! + (1 - a[i % 3]!) * hv));
  });

  test('CONFIDENCE, logits [[3,0.5],[1,0.9]], zero host, α 0.6, k 4, τ 0.1, lo 0.1, hi 0.9: out e·s, e = clamp(0.6·g) per row; logits gradient e', async () => {
    const confidence = { gateK: 4, gateTau: 0.1, alphaLo: 0.1, alphaHi: 0.9 };
    const r = await direct([2, 2], [0, 0, 0, 0], [3, 0.5, 1, 0.9], blending(0.6, 2, { mode: 'CONFIDENCE', confidence }));
    const e = [2.5, 0.1].map((margin) => Math.min(0.9, Math.max(0.1, 0.6 * sigmoid(4 * (margin - 0.1)))));
    close(e, [0.6 * sigmoid(9.6), 0.3]); // margin 0.1 = τ: g = 0.5
    close(r.out, [e[0]! * 3, e[0]! * 0.5, e[1]! * 1, e[1]! * 0.9]);
    close(r.ds, [e[0]!, e[0]!, e[1]!, e[1]!]);
    expect(r.dh).toEqual([0, 0, 0, 0]);
  });

  test('CONFIDENCE clamps: α 0 and lo 0.1 still let in 0.1·s, a confident row stops at hi 0.9; a tied top-2 gives margin 0', async () => {
    const confidence = { gateK: 4, gateTau: 0.2, alphaLo: 0.1, alphaHi: 0.9 };
    const r = await direct([1, 3], [0, 0, 0], [2, -1, 0.5], blending(0, 3, { mode: 'CONFIDENCE', confidence }));
    close(r.out, [0.2, -0.1, 0.05]);
    close(r.ds, [0.1, 0.1, 0.1]);
    const sure = await direct([1, 3], [1, 1, 1], [20, -1, 0.5], blending(1, 3, { mode: 'CONFIDENCE', confidence }));
    close(sure.out, [0.9 * 20 + 0.1, 0.9 * -1 + 0.1, 0.9 * 0.5 + 0.1]);
    close(sure.ds, [0.9, 0.9, 0.9]);
    const tied = await direct([1, 3], [0, 0, 0], [2, 2, 0.5], blending(1, 3, { mode: 'CONFIDENCE', confidence: { ...confidence, alphaLo: 0, alphaHi: 1 } }));
    close(tied.out, [2, 2, 0.5].map((v) => sigmoid(4 * (0 - 0.2)) * v));
  });

  test('CONVEX controls compute the old convex blend bit for bit: (1−α)·h + α·s', async () => {
    const h = [0.3, -1.7, 2.9, 0.125];
    const s = [1.1, 0.4, -0.6, 3.3];
    for (const alpha of [0, 0.1, 0.37, 0.5, 1]) {
      const r = await direct([2, 2], h, s, { ...controlValues(SeedLifecycleStage.SEED_STAGE_BLENDING, alpha), ...CONVEX_BLEND });
      expect(r.out).toEqual(h.map((hv, i) => (1 - alpha) * hv + alpha * s[i]!));
    }
  });

  test('without the confidence gate, CONVEX, RESIDUAL and CHANNEL give the same bits, forward and backward', async () => {
    const h = [0.3, -1.7, 2.9, 0.125, 4, -0.5];
    const s = [1.1, 0.4, -0.6, 3.3, -2, 0.75];
    for (const config of [undefined, { mode: 'RESIDUAL' as const }, { mode: 'CHANNEL' as const, alphaVec: [0.2, 0.6, 1] }]) {
      const values = blending(0.45, 3, config);
      expect(await direct([2, 3], h, s, values, false)).toEqual(await direct([2, 3], h, s, values, true));
    }
  });

  test('the confidence gate alone: per-row sigmoid of the top-2 margin; ones for width 1', async () => {
    const g = new GraphBuilder('gate');
    const s = g.input('s', 'float64', [3, 4]);
    g.output(confidenceGate(s, g.input('k', 'float64', []), g.input('tau', 'float64', [])), 'g');
    const one = g.input('one', 'float64', [2, 1]);
    g.output(confidenceGate(one, g.scalar(1, 'float64'), g.scalar(0, 'float64')).add(one.mul(0)), 'g1');
    const session = await rt.createSession(g.build());
    const rows = [
      [0.1, 2, -3, 1.5], // margin 0.5
      [-1, -1, -2, -5], // tie: margin 0
      [7, 7, 7, 7], // all equal: margin 0
    ];
    const r = await session.run({ s: f64([3, 4], rows.flat()), k: f64([], [2]), tau: f64([], [0.25]), one: f64([2, 1], [5, -5]) });
    await session.dispose();
    expect(r.g!.dims).toEqual([3, 1]);
    close(toNumbers(r.g!), [0.5, 0, 0].map((m) => sigmoid(2 * (m - 0.25))));
    expect(toNumbers(r.g1!)).toEqual([1, 1]);
  });
});

/**
 * A small model around the blend: host value `h = xh·P` (P: a host parameter), seed
 * `s = 3·tanh(seedInput(h)·W)` (W: the seed's parameter), `out = blend(h, s)`. With `frozen`, the
 * confidence gate and the host term are inputs (`gate`, `h_host`) instead: the function whose
 * derivative the stop-gradients promise.
 */
function model(frozen: boolean, n: number, d: number, f: number) {
  const g = new GraphBuilder(frozen ? 'frozen' : 'full');
  const xh = g.input('xh', 'float64', [n, d]);
  const p = g.input('P', 'float64', [d, f]);
  const w = g.input('W', 'float64', [f, f]);
  const controls = controlInputs(g, f);
  const h = xh.matmul(p);
  const s = seedInput(h, controls).matmul(w).tanh().mul(3);
  const sg = stopGradient(s);
  const gate: Tensor = frozen ? g.input('gate', 'float64', [n, 1]) : confidenceGate(sg, controls.gateK, controls.gateTau);
  const hostTerm = frozen ? g.input('h_host', 'float64', [n, f]) : h;
  const out = blendWithWeight(hostTerm, s, sg, controls, blendWeight(s, controls, gate));
  const prng = new Prng(5);
  const projection = g.constant(f64([n, f], Array.from({ length: n * f }, () => prng.uniform(-1.5, 1.5))), 'projection');
  const loss = reduceSum(out.mul(projection), undefined, { keepDims: false });
  g.output(loss, 'loss');
  if (!frozen) {
    const [dw, dp] = gradients(g, loss, [w, p]);
    g.output(dw!, 'dW');
    g.output(dp!, 'dP');
    g.output(gate.add(s.sum([1], { keepDims: true }).mul(0)), 'gate_value');
    g.output(h, 'h_value');
  }
  return g.build();
}

/** Central differences of `loss` over every element of input `name`. */
async function numeric(session: Awaited<ReturnType<OnnxRuntime['createSession']>>, feeds: Record<string, TensorData>, name: string, eps = 1e-6): Promise<number[]> {
  const base = feeds[name]!;
  const data = base.data as Float64Array;
  const out: number[] = [];
  for (let j = 0; j < data.length; j++) {
    const at = async (v: number) => {
      const copy = data.slice();
      copy[j] = v;
      const r = await session.run({ ...feeds, [name]: tensor('float64', base.dims, copy) }, ['loss']);
      return toNumbers(r.loss!)[0]!;
    };
    out.push(((await at(data[j]! + eps)) - (await at(data[j]! - eps))) / (2 * eps));
  }
  return out;
}

describe('gradients through each mode (finite differences, float64)', () => {
  const [N, D, F] = [4, 3, 3];
  const prng = new Prng(11);
  const rand = (dims: number[], lo = -1, hi = 1) => f64(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => prng.uniform(lo, hi)));
  const data = { xh: rand([N, D]), P: rand([D, F]), W: rand([F, F], -1.5, 1.5) };
  const confidence = { gateK: 3, gateTau: 0.3, alphaLo: 0.15, alphaHi: 0.85 };
  const modes: [string, BlendConfig | undefined][] = [
    ['CONVEX', undefined],
    ['RESIDUAL', { mode: 'RESIDUAL' }],
    ['CHANNEL', { mode: 'CHANNEL', alphaVec: [0.25, 1, 0.6] }],
    ['CONFIDENCE', { mode: 'CONFIDENCE', confidence }],
  ];

  test.each(modes)('%s: dL/dW equals the finite difference with the gate held; dL/dP flows only through the seed input', async (_name, config) => {
    const full = await rt.createSession(model(false, N, D, F));
    const frozen = await rt.createSession(model(true, N, D, F));
    try {
      for (const inGate of [1, 0]) {
        // BLENDING (host term stop-gradient); in_gate 0 as in TRAINING also cuts the seed input's path.
        const values = { ...blending(0.7, F, config), inGate };
        const feeds = { ...data, ...controlFeeds(values, F) };
        const r = await full.run(feeds);
        const held = { ...feeds, gate: r.gate_value!, h_host: r.h_value! };
        const worst = (analytic: number[], numbers: number[]) => Math.max(...analytic.map((a, i) => Math.abs(a - numbers[i]!) / (1 + Math.abs(numbers[i]!))));
        const dW = toNumbers(r.dW!);
        expect(dW.some((v) => Math.abs(v) > 1e-3)).toBe(true);
        expect(worst(dW, await numeric(frozen, held, 'W'))).toBeLessThan(1e-6);
        const dP = toNumbers(r.dP!);
        if (inGate === 0) {
          // No gradient reaches the host parameter, though the output depends on it.
          expect(dP.every((v) => v === 0)).toBe(true);
          expect((await numeric(full, feeds, 'P')).some((v) => Math.abs(v) > 1e-3)).toBe(true);
        } else {
          // Only the seed-input path: the derivative with the blend's host term held fixed.
          expect(worst(dP, await numeric(frozen, held, 'P'))).toBeLessThan(1e-6);
        }
      }
    } finally {
      await full.dispose();
      await frozen.dispose();
    }
  });

  test('CONFIDENCE: the gate is a stop-gradient (the unheld finite difference of W differs from the gradient)', async () => {
    const full = await rt.createSession(model(false, N, D, F));
    try {
      const feeds = { ...data, ...controlFeeds({ ...blending(0.7, F, { mode: 'CONFIDENCE', confidence: { ...confidence, alphaLo: 0, alphaHi: 1 } }) }, F) };
      const r = await full.run(feeds);
      const dW = toNumbers(r.dW!);
      const unheld = await numeric(full, feeds, 'W');
      expect(Math.max(...dW.map((a, i) => Math.abs(a - unheld[i]!)))).toBeGreaterThan(1e-4);
    } finally {
      await full.dispose();
    }
  });
});
