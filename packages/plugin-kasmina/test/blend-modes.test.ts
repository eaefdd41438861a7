// Blend modes end to end: signed SEED commands carry Tamiyo's blend-mode annotations, Kasmina
// applies them to seeds grafted into the tiny host, and the composed model's forward output is
// checked against the same model computed by hand (float64 JavaScript).
import type { StepObservation } from '@esper/core';
import { SeedLifecycleStage, SeedOperation, TelemetryLevel } from '@esper/core/leyline';
import { OnnxRuntime, ParameterSet, Prng, toNumbers } from '@esper/onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { recordingExecutor } from './fixtures/recording.js';
import { Harness, bytesOf } from './fixtures/harness.js';
import { CLASSES, INPUTS, WIDTH, batches } from './fixtures/tiny-host.js';

const Op = SeedOperation;
const S = SeedLifecycleStage;
const runtime = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => runtime.dispose());

function setup() {
  const t = recordingExecutor({ blendingOptimizerSteps: 8 });
  const { executor, packets } = t;
  const observe = (over: Partial<StepObservation> = {}) =>
    executor.observeSteps({ steps: 4, globalStep: 4, epoch: 0, loss: 0.5, hostGradNorm: 1, seedGradNorms: { hidden1: 0.2, hidden2: 0.2 }, ...over });
  const lastPacketEvents = (description: string) => packets[packets.length - 1]!.events.filter((e) => e.description === description).map((e) => e.attributes);
  return { ...t, observe, lastPacketEvents };
}

// --- the tiny host and the residual-mlp seed, by hand (row-major matrices, float64) ---------

type Matrix = { rows: number; cols: number; data: Float64Array };
const matrix = (rows: number, cols: number, data: ArrayLike<number>): Matrix => ({ rows, cols, data: Float64Array.from(data) });
function matmul(a: Matrix, b: Matrix): Matrix {
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) for (let k = 0; k < a.cols; k++) for (let j = 0; j < b.cols; j++) out[i * b.cols + j]! += a.data[i * a.cols + k]! * b.data[k * b.cols + j]!;
  return { rows: a.rows, cols: b.cols, data: out };
}
const map = (a: Matrix, f: (v: number, row: number, col: number) => number): Matrix => ({ ...a, data: a.data.map((v, i) => f(v, Math.floor(i / a.cols), i % a.cols)) });
const addRow = (a: Matrix, bias: ArrayLike<number>) => map(a, (v, _r, c) => v + bias[c]!);
const relu = (a: Matrix) => map(a, (v) => Math.max(0, v));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** What the hand-computed model needs: every parameter by name, as float64. */
type Params = (name: string) => Float64Array;

/** `s = x + up(relu(down(x)))` of the seed in slot `id` (generation 1). */
function residualMlp(x: Matrix, p: Params, id: string): Matrix {
  const down = p(`seed/${id}/g1/down.w`);
  const hidden = down.length / WIDTH;
  const inner = relu(addRow(matmul(x, matrix(WIDTH, hidden, down)), p(`seed/${id}/g1/down.b`)));
  const up = addRow(matmul(inner, matrix(hidden, WIDTH, p(`seed/${id}/g1/up.w`))), p(`seed/${id}/g1/up.b`));
  return map(x, (v, r, c) => v + up.data[r * WIDTH + c]!);
}

/** Blend of each slot as a function of the slot value h and the seed output s (identity: no seed). */
type SlotBlend = (h: Matrix, s: Matrix) => Matrix;

function forward(xData: ArrayLike<number>, batch: number, p: Params, blends: { hidden1?: SlotBlend; hidden2?: SlotBlend }): Matrix {
  const x = matrix(batch, INPUTS, xData);
  let h1 = relu(addRow(matmul(x, matrix(INPUTS, WIDTH, p('fc1.w'))), p('fc1.b')));
  if (blends.hidden1) h1 = blends.hidden1(h1, residualMlp(h1, p, 'hidden1'));
  let h2 = relu(addRow(matmul(h1, matrix(WIDTH, WIDTH, p('fc2.w'))), p('fc2.b')));
  if (blends.hidden2) h2 = blends.hidden2(h2, residualMlp(h2, p, 'hidden2'));
  return addRow(matmul(h2, matrix(WIDTH, CLASSES, p('head.w'))), p('head.b'));
}

/** CHANNEL: `a = clamp01(α·v)` per column. */
const channel = (alpha: number, v: readonly number[]): SlotBlend => (h, s) =>
  map(h, (hv, r, c) => {
    const a = clamp(alpha * v[c]!, 0, 1);
    return a * s.data[r * s.cols + c]! + (1 - a) * hv;
  });

/** CONFIDENCE: `e = clamp(α·sigmoid(k·(top1 − top2 − τ)), lo, hi)` per row of s. */
const confidence = (alpha: number, k: number, tau: number, lo: number, hi: number, gates: number[] = []): SlotBlend => (h, s) => {
  const e: number[] = [];
  for (let r = 0; r < s.rows; r++) {
    const row = [...s.data.subarray(r * s.cols, (r + 1) * s.cols)].sort((a, b) => b - a);
    const g = sigmoid(k * (row[0]! - row[1]! - tau));
    gates.push(g);
    e.push(clamp(alpha * g, lo, hi));
  }
  return map(h, (hv, r, c) => e[r]! * s.data[r * s.cols + c]! + (1 - e[r]!) * hv);
};

const maxAbsDiff = (a: readonly number[], b: ArrayLike<number>) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

describe('signed SEED commands with blend-mode annotations, in a composed model', () => {
  test('CHANNEL (alpha_vec) at hidden1 and CONFIDENCE at hidden2: configs and telemetry as sent; forward matches the hand-computed model', async () => {
    const t = setup();
    const v = [0.1, 0.9, 0.25, 1, 0.5, 0.75, 0, 0.6];
    const gate = { k: 4, tau: 1, lo: 0.1, hi: 0.9 };
    expect(
      await t.executor.applyCommand(
        t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', {}, { blend_mode: 'CHANNEL', blend_mode_source: 'override', alpha_vec: JSON.stringify(v), alpha_vec_len: '8' }),
      ),
    ).toMatchObject({ applied: true });
    expect(t.lastPacketEvents('blend_config')).toEqual([{ seed_id: 'hidden1', mode: 'CHANNEL', source: 'override', alpha_vec_len: '8' }]);
    expect(
      await t.executor.applyCommand(
        t.seed(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp-wide', {}, {
          blend_mode: 'CONFIDENCE',
          blend_mode_source: 'override',
          gate_k: '4.0000',
          gate_tau: '1.0000',
          alpha_lo: '0.1000',
          alpha_hi: '0.9000',
        }),
      ),
    ).toMatchObject({ applied: true });
    expect(t.lastPacketEvents('blend_config')).toEqual([
      { seed_id: 'hidden1', mode: 'CHANNEL', source: 'override', alpha_vec_len: '8' },
      { seed_id: 'hidden2', mode: 'CONFIDENCE', source: 'override' },
    ]);
    expect(t.events('blend_config').every((e) => e.level === TelemetryLevel.INFO)).toBe(true);
    expect(t.events('blend_annotation_invalid')).toEqual([]);
    expect(t.executor.topologyVersion).toBe(2);

    // Seeds with non-zero up-projections, so their outputs differ from the slot values.
    const composed = t.executor.compose();
    const params = ParameterSet.fromGraph(composed.graph);
    const prng = new Prng(17);
    for (const name of [...composed.seedParameters.hidden1!, ...composed.seedParameters.hidden2!].filter((n) => n.includes('/up.'))) {
      params.set(name, params.get(name).data.map(() => prng.uniform(-0.8, 0.8)) as Float32Array);
    }
    const p: Params = (name) => Float64Array.from(params.get(name).data as Float32Array);
    const harness = new Harness(runtime, t.host, t.executor);
    await harness.load(params);
    const bare = new Harness(runtime, t.host);
    const [probe] = batches(5, 1, 12);
    const xData = probe!.x.data as Float32Array;
    const hostOnly = await bare.evaluate(probe!);

    // GERMINATED and TRAINING: the modes wait; the forward is the host's bit for bit.
    expect(bytesOf((await harness.evaluate(probe!)).logits!).equals(bytesOf(hostOnly.logits!))).toBe(true);
    for (const id of ['hidden1', 'hidden2']) expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_START_TRAINING, id))).toMatchObject({ applied: true });
    t.observe();
    expect(bytesOf((await harness.evaluate(probe!)).logits!).equals(bytesOf(hostOnly.logits!))).toBe(true);

    // BLENDING, α = 4/8 steps = 0.5.
    for (const id of ['hidden1', 'hidden2']) expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_START_GRAFTING, id))).toMatchObject({ applied: true });
    t.observe();
    expect(t.executor.exportSeedStates().map((s) => [s.stage, s.metrics.alpha])).toEqual([
      [S.SEED_STAGE_BLENDING, 0.5],
      [S.SEED_STAGE_BLENDING, 0.5],
    ]);
    expect(t.executor.topologyVersion).toBe(2);
    const gates: number[] = [];
    const expected = forward(xData, 12, p, { hidden1: channel(0.5, v), hidden2: confidence(0.5, gate.k, gate.tau, gate.lo, gate.hi, gates) });
    const out = toNumbers((await harness.evaluate(probe!)).logits!);
    expect(maxAbsDiff(out, expected.data)).toBeLessThan(1e-5);
    // The case is not degenerate: the gate varies, some rows sit on the floor, and both seeds move the output.
    expect(Math.max(...gates) - Math.min(...gates)).toBeGreaterThan(0.2);
    expect(gates.some((g) => 0.5 * g < gate.lo)).toBe(true);
    expect(maxAbsDiff(out, forward(xData, 12, p, { hidden1: channel(0.5, v) }).data)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(out, forward(xData, 12, p, { hidden2: confidence(0.5, gate.k, gate.tau, gate.lo, gate.hi) }).data)).toBeGreaterThan(1e-2);

    // The counterfactual of hidden2 is the model without it, CONFIDENCE floor or not.
    const without2 = toNumbers((await harness.evaluate(probe!, 'hidden2')).logits!);
    expect(maxAbsDiff(without2, forward(xData, 12, p, { hidden1: channel(0.5, v) }).data)).toBeLessThan(1e-5);

    // A later SEED command may change the mode: STABILIZE (α = 1) switches hidden2 to RESIDUAL;
    // the next feeds blend `h + s` there, without a new topology (no recompilation).
    t.observe();
    expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_STABILIZE, 'hidden2', '', {}, { blend_mode: ' residual ' }))).toMatchObject({ applied: true });
    expect(t.executor.topologyVersion).toBe(2);
    expect(t.lastPacketEvents('blend_config')[1]).toEqual({ seed_id: 'hidden2', mode: 'RESIDUAL' });
    const residual: SlotBlend = (h, s) => map(h, (hv, r, c) => hv + s.data[r * s.cols + c]!);
    const shadowing = toNumbers((await harness.evaluate(probe!)).logits!);
    expect(maxAbsDiff(shadowing, forward(xData, 12, p, { hidden1: channel(1, v), hidden2: residual }).data)).toBeLessThan(1e-5);
    await harness.dispose();
    await bare.dispose();
  });
});

describe('switching a grafted seed to CONFIDENCE', () => {
  test('a seed grafted CONVEX gets the gate by one rebuild (topology +1, same parameter names); the forward then matches the hand-computed CONFIDENCE blend', async () => {
    const t = setup();
    await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp', { hidden: 5 }));
    await t.executor.applyCommand(t.seed(Op.SEED_OP_START_TRAINING, 'hidden2'));
    t.observe();
    const before = t.executor.compose();
    expect(before.topologyVersion).toBe(1);
    const params = ParameterSet.fromGraph(before.graph);
    const prng = new Prng(23);
    for (const name of before.seedParameters.hidden2!.filter((n) => n.includes('/up.'))) params.set(name, params.get(name).data.map(() => prng.uniform(-0.8, 0.8)) as Float32Array);
    const harness = new Harness(runtime, t.host, t.executor);
    await harness.load(params);

    const annotations = { blend_mode: 'CONFIDENCE', gate_k: '3', gate_tau: '0.8', alpha_lo: '0.05', alpha_hi: '0.95' };
    expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_START_GRAFTING, 'hidden2', '', {}, annotations))).toMatchObject({ applied: true });
    expect(t.lastPacketEvents('blend_rebuilt')).toEqual([{ seed_id: 'hidden2', reason: expect.stringContaining('confidence gate'), topology_version: '2' }]);
    const after = t.executor.compose();
    expect(after.topologyVersion).toBe(2);
    expect(after.seedParameters).toEqual(before.seedParameters);
    expect(after.graph.nodes.length).toBeGreaterThan(before.graph.nodes.length);
    t.observe({ steps: 6 }); // α = 6/8

    const [probe] = batches(8, 1, 10);
    const p: Params = (name) => Float64Array.from(params.get(name).data as Float32Array);
    const expected = forward(probe!.x.data as Float32Array, 10, p, { hidden2: confidence(0.75, 3, 0.8, 0.05, 0.95) });
    expect(maxAbsDiff(toNumbers((await harness.evaluate(probe!)).logits!), expected.data)).toBeLessThan(1e-5);
    // Leaving CONFIDENCE keeps the gated graph (it computes every mode): no rebuild.
    t.observe({ steps: 2 });
    await t.executor.applyCommand(t.seed(Op.SEED_OP_STABILIZE, 'hidden2', '', {}, { blend_mode: 'CONVEX' }));
    expect(t.executor.topologyVersion).toBe(2);
    await harness.dispose();
  });
});

describe('blend annotations through the executor (K7)', () => {
  test('a signed GERMINATE with the reference CONFIDENCE values: the seed config holds exactly them; the next packet reports mode and source', async () => {
    const t = setup();
    const annotations = { blend_mode: 'CONFIDENCE', blend_mode_source: 'override', gate_k: '4.0', gate_tau: '0.2', alpha_lo: '0.1', alpha_hi: '0.9' };
    expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', {}, annotations))).toMatchObject({ applied: true });
    expect(t.executor.blendOf('hidden1')).toEqual({ config: { mode: 'CONFIDENCE', source: 'override', confidence: { gateK: 4, gateTau: 0.2, alphaLo: 0.1, alphaHi: 0.9 } }, mode: 'CONFIDENCE' });
    expect(t.lastPacketEvents('blend_config')).toEqual([{ seed_id: 'hidden1', mode: 'CONFIDENCE', source: 'override' }]);
  });

  test('CONFIDENCE values a command leaves out come from the executor settings (the confidenceGate config)', async () => {
    const { executor, seed } = recordingExecutor({ confidenceGate: { gateK: 2, gateTau: 0.5, alphaLo: 0.05, alphaHi: 0.7 } });
    await executor.applyCommand(seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', {}, { blend_mode: 'CONFIDENCE', gate_k: '6' }));
    expect(executor.blendOf('hidden1')!.config).toEqual({ mode: 'CONFIDENCE', confidence: { gateK: 6, gateTau: 0.5, alphaLo: 0.05, alphaHi: 0.7 } });
  });

  test('no blend annotations: no config and no blend_config event in any packet', async () => {
    const t = setup();
    await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', {}, { feature_coverage: '0.9' }));
    await t.executor.applyCommand(t.seed(Op.SEED_OP_START_TRAINING, 'hidden1'));
    expect(t.executor.blendOf('hidden1')).toEqual({ config: undefined, mode: 'CONVEX' });
    expect(t.packets.length).toBeGreaterThan(0);
    expect(t.events('blend_config')).toEqual([]);
    expect(t.executor.blendOf('nope')).toBeUndefined();
  });

  test('invalid values never fail the command: blend_mode=FOO reads CONVEX, CONFIDENCE values are fixed up, each reported as a WARNING', async () => {
    const t = setup();
    const foo = t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', {}, { blend_mode: 'FOO' });
    expect(await t.executor.applyCommand(foo)).toMatchObject({ applied: true });
    expect(t.lastPacketEvents('blend_config')).toEqual([{ seed_id: 'hidden1', mode: 'CONVEX' }]);
    expect(t.lastPacketEvents('blend_annotation_invalid')).toEqual([
      { seed_id: 'hidden1', key: 'blend_mode', value: 'FOO', reason: expect.stringContaining('using CONVEX'), command_id: foo.commandId },
    ]);
    expect(t.events('blend_annotation_invalid').every((e) => e.level === TelemetryLevel.WARNING)).toBe(true);

    const bad = { blend_mode: 'CONFIDENCE', gate_k: '-3', gate_tau: 'abc', alpha_lo: '0.9', alpha_hi: '0.2' };
    expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp', {}, bad))).toMatchObject({ applied: true });
    expect(t.executor.blendOf('hidden2')!.config).toEqual({ mode: 'CONFIDENCE', confidence: { gateK: 0, gateTau: 0.2, alphaLo: 0.2, alphaHi: 0.9 } });
    expect(t.lastPacketEvents('blend_annotation_invalid').map((a) => a.key)).toEqual(['gate_k', 'gate_tau', 'alpha_hi']);
  });

  test('CHANNEL with "[0.2, 0.6, 1.0]" at an 8-wide slot: reported with alpha_vec_len 3, blended as CONVEX (said in the event and a WARNING)', async () => {
    const t = setup();
    const command = t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', {}, { blend_mode: 'CHANNEL', alpha_vec: '[0.2, 0.6, 1.0]' });
    expect(await t.executor.applyCommand(command)).toMatchObject({ applied: true });
    const fallback = 'alpha_vec has 3 values, the slot is 8 wide';
    expect(t.lastPacketEvents('blend_config')).toEqual([{ seed_id: 'hidden1', mode: 'CHANNEL', alpha_vec_len: '3', effective_mode: 'CONVEX', fallback }]);
    expect(t.executor.blendOf('hidden1')).toMatchObject({ mode: 'CONVEX', fallback });
    expect(t.lastPacketEvents('blend_annotation_invalid')).toEqual([
      { seed_id: 'hidden1', key: 'alpha_vec', value: '[0.2, 0.6, 1.0]', reason: `${fallback}; the seed blends as CONVEX`, command_id: command.commandId },
    ]);
    await t.executor.applyCommand(t.seed(Op.SEED_OP_START_TRAINING, 'hidden1'));
    t.observe();
    await t.executor.applyCommand(t.seed(Op.SEED_OP_START_GRAFTING, 'hidden1'));
    t.observe({ steps: 2 });
    const feeds = t.executor.controlFeeds();
    expect([...feeds['seed/hidden1/alpha_vec']!.data]).toEqual(Array(8).fill(1));
    expect([...feeds['seed/hidden1/alpha']!.data]).toEqual([0.25]);
  });

  test('a rejected command leaves the blend config as it was; the slot reset drops it', async () => {
    const t = setup();
    await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', {}, { blend_mode: 'RESIDUAL' }));
    // START_GRAFTING from GERMINATED is illegal: rejected, and its CHANNEL annotation with it.
    const illegal = await t.executor.applyCommand(t.seed(Op.SEED_OP_START_GRAFTING, 'hidden1', '', {}, { blend_mode: 'CHANNEL', alpha_vec: '0.5' }));
    expect(illegal).toMatchObject({ applied: false, reason: expect.stringContaining('illegal_transition') });
    expect(t.executor.blendOf('hidden1')!.config).toEqual({ mode: 'RESIDUAL' });
    // An unknown blueprint fails G0 on a free slot: no config stays behind for the next seed there.
    await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden2', 'no-such-blueprint', {}, { blend_mode: 'RESIDUAL' }));
    expect(t.executor.blendOf('hidden2')!.config).toBeUndefined();
    // CULL → EMBARGOED → (embargo) → DORMANT: the slot's next seed starts CONVEX.
    await t.executor.applyCommand(t.seed(Op.SEED_OP_CULL, 'hidden1'));
    expect(t.executor.blendOf('hidden1')!.config).toEqual({ mode: 'RESIDUAL' });
    await t.executor.updateEpoch(5);
    expect(t.executor.exportSeedStates()[0]!.stage).toBe(S.SEED_STAGE_DORMANT);
    expect(t.executor.blendOf('hidden1')!.config).toBeUndefined();
  });
});
