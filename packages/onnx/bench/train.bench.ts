// Training-step throughput of graphs built by @esper/onnx, against plain ONNX Runtime MatMuls
// of the same shapes measured in the same run (the ceiling). Run with `pnpm bench train`.
// Options: --threads N (ORT intra-op threads, default ORT's), --steps N, --backends webgpu,cpu
// (fallback order; default cpu), --flush (flushDenormals for every session), --steps-per-run K
// (K for the multi-step figures, default 16), --only mlp|cnn, --no-saturated (skip the
// one-batch subnormal figures), --skip-step (MLP: time only stepMany, not one step per run),
// --serve (MLP stepMany for a driver such as paired_vs_torch.py: after warming up, each line
// "N" on stdin runs N stepMany runs and answers "ms <ms/step>"; end of input ends it),
// --compare-guard (MLP: stepMany with the non-finite guard off and on, interleaved in one process
// against one MatMul ceiling; --rounds N pairs, default 12).
// Steps cycle through 64 random batches with random labels, so the loss stays near ln 10 as in
// real training; a second MLP figure trains one batch until its loss is ~0, where gradients
// turn subnormal (slow on x86), with and without flushDenormals.
import {
  GraphBuilder, OnnxRuntime, Trainer, buildTrainingGraph, conv2d, f32, i64, initParameters, maxPool2d, softmaxCrossEntropy, stackBatches,
  type BackendName, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import { MLP_DIMS, mlpForward, mlpParameters } from './mlp-model.js';

const arg = (name: string, dflt?: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const threads = arg('--threads');
const steps = arg('--steps', 30) as number;
const backendsArg = process.argv.indexOf('--backends');
const backends = (backendsArg > 0 ? (process.argv[backendsArg + 1] as string).split(',') : ['cpu']) as BackendName[];
const flush = process.argv.includes('--flush');
const stepsPerRun = arg('--steps-per-run', 16) as number;
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
const skipStep = process.argv.includes('--skip-step');
const serve = process.argv.includes('--serve');
const compareGuard = process.argv.includes('--compare-guard');
const sessionOptions = { backends, flushDenormals: flush, ...(threads === undefined ? {} : { intraOpThreads: threads }) };
const rt = new OnnxRuntime({ defaults: sessionOptions, onFallback: (e) => console.log(`  fallback ${e.from} → ${e.to}: ${e.reason}`) });
const prng = new Prng(1);
const randn = (dims: number[]) => f32(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => prng.normal()));

async function timeSteps(trainer: Trainer, batches: Record<string, TensorData>[], warmUp = 3): Promise<number> {
  const losses: number[] = [];
  let k = 0;
  const next = () => batches[k++ % batches.length]!;
  for (let i = 0; i < warmUp; i++) losses.push((await trainer.step(next(), 1e-3)).loss);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) losses.push((await trainer.step(next(), 1e-3)).loss);
  const ms = (performance.now() - t0) / steps;
  console.log(`  backend ${trainer.session.backend}; loss ${losses[0]!.toFixed(4)} → ${losses.at(-1)!.toFixed(4)} over ${losses.length} steps (${batches.length} batch${batches.length === 1 ? '' : 'es'})`);
  return ms;
}

/** The batches stacked into chunks of `k` steps (as a data loader writing stacked buffers would). */
function stackedChunks(batches: Record<string, TensorData>[], k: number): Record<string, TensorData>[] {
  return Array.from({ length: Math.max(1, Math.floor(batches.length / k)) }, (_, j) => stackBatches(Array.from({ length: k }, (_, i) => batches[(j * k + i) % batches.length]!)));
}

/**
 * ms/step of {@link Trainer.stepMany} with `stepsPerRun` steps per run, over the same batches
 * stacked into chunks beforehand (as a data loader writing stacked buffers would).
 */
async function timeStepMany(trainer: Trainer, batches: Record<string, TensorData>[]): Promise<{ mean: number; median: number }> {
  const k = stepsPerRun;
  const chunks = stackedChunks(batches, k);
  const runs = Math.max(2, Math.ceil(steps / k));
  const losses: number[] = [];
  for (let i = 0; i < 2; i++) losses.push(...(await trainer.stepMany(chunks[i % chunks.length]!, 1e-3)).map((r) => r.loss));
  const perRun: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const t1 = performance.now();
    losses.push(...(await trainer.stepMany(chunks[i % chunks.length]!, 1e-3)).map((r) => r.loss));
    perRun.push((performance.now() - t1) / k);
  }
  const mean = (performance.now() - t0) / (runs * k);
  perRun.sort((a, b) => a - b);
  console.log(`  stepMany: ${k} steps per run; loss ${losses[0]!.toFixed(4)} → ${losses.at(-1)!.toFixed(4)} over ${losses.length} steps`);
  return { mean, median: perRun[perRun.length >> 1]! };
}

/** Random batches with random labels: the loss stays near ln 10, gradients stay normal floats. */
function randomBatches(count: number, dims: number[], batch: number): Record<string, TensorData>[] {
  return Array.from({ length: count }, () => ({ x: randn([batch, ...dims]), labels: i64([batch], Array.from({ length: batch }, () => Math.floor(prng.next() * 10))) }));
}

/** Median ms of a graph made only of the given matmuls, run as independent nodes. */
async function matmulCeiling(shapes: [number, number, number][]): Promise<{ ms: number; gflop: number }> {
  const g = new GraphBuilder('ceiling');
  let gflop = 0;
  const feeds: Record<string, TensorData> = {};
  shapes.forEach(([m, k, n], i) => {
    const a = g.input(`a${i}`, 'float32', [m, k]);
    const b = g.input(`b${i}`, 'float32', [k, n]);
    feeds[`a${i}`] = randn([m, k]);
    feeds[`b${i}`] = randn([k, n]);
    g.output(a.matmul(b), `c${i}`);
    gflop += (2 * m * k * n) / 1e9;
  });
  const s = await rt.createSession(g.build());
  const r = await s.warmUp(feeds, { runs: steps + 1 });
  await s.dispose();
  return { ms: r.warmRunMs, gflop };
}

/**
 * Serves stepMany chunks to a driver on stdin/stdout, so that another framework's step and ours
 * can alternate in short chunks on the same cores (bench/paired_vs_torch.py).
 */
async function serveStepMany(trainer: Trainer, batches: Record<string, TensorData>[]): Promise<void> {
  const k = stepsPerRun;
  const chunks = stackedChunks(batches, k);
  let next = 0;
  for (let i = 0; i < 3; i++) await trainer.stepMany(chunks[next++ % chunks.length]!, 1e-3);
  console.log('ready');
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    const runs = Number(line.trim());
    if (!Number.isInteger(runs) || runs < 1) {
      console.log(`error: expected a positive run count, got "${line.trim()}"`);
      continue;
    }
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await trainer.stepMany(chunks[next++ % chunks.length]!, 1e-3);
    console.log(`ms ${((performance.now() - t0) / (runs * k)).toFixed(4)}`);
  }
}

/** The MatMul ceiling of the benchmark MLP's training step at batch `B`: 3 forward, 3 weight-gradient and 2 input-gradient matmuls. */
function mlpMatmulShapes(B: number): [number, number, number][] {
  const dims = MLP_DIMS;
  const shapes: [number, number, number][] = [];
  for (let i = 0; i < 3; i++) shapes.push([B, dims[i]!, dims[i + 1]!], [dims[i]!, B, dims[i + 1]!]);
  for (let i = 1; i < 3; i++) shapes.push([B, dims[i + 1]!, dims[i]!]);
  return shapes;
}

/**
 * stepMany with the non-finite guard off and on, in the same process, alternating one run of
 * each per round (order ABBA) so both see the same moment of the machine's load; the ceiling is
 * measured before and after. Prints each side's median ms/step and ratio to the ceiling.
 */
async function compareNonFiniteGuard(): Promise<void> {
  const B = 256;
  const k = stepsPerRun;
  const rounds = arg('--rounds', 12) as number;
  const params = mlpParameters(1);
  const forward = mlpForward(params).build();
  const batches = randomBatches(64, [784], B);
  const chunks = stackedChunks(batches, k);
  const sides = [
    { name: 'guard off', trainer: await Trainer.create(rt, buildTrainingGraph(forward, { loss: 'loss', optimizer: { kind: 'adam' }, nonFiniteGuard: false }), params), ms: [] as number[] },
    { name: 'guard on ', trainer: await Trainer.create(rt, buildTrainingGraph(forward, { loss: 'loss', optimizer: { kind: 'adam' } }), params), ms: [] as number[] },
  ];
  const shapes = mlpMatmulShapes(B);
  const ceil0 = await matmulCeiling(shapes);
  let next = 0;
  for (const side of sides) for (let i = 0; i < 2; i++) await side.trainer.stepMany(chunks[i % chunks.length]!, 1e-3);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [0, 1, 1, 0] : [1, 0, 0, 1];
    for (const which of order) {
      const side = sides[which]!;
      const t0 = performance.now();
      const res = await side.trainer.stepMany(chunks[next++ % chunks.length]!, 1e-3);
      side.ms.push((performance.now() - t0) / k);
      if (res.some((x) => x.nonFinite)) throw new Error('compare-guard: a benchmark step was not finite');
    }
  }
  const ceil1 = await matmulCeiling(shapes);
  const ceilMs = (ceil0.ms + ceil1.ms) / 2;
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  console.log(`MLP 784-512-512-10, batch ${B}, Adam, stepMany K = ${k}, ${rounds} rounds of ABBA pairs; MatMul ceiling ${ceil0.ms.toFixed(2)} / ${ceil1.ms.toFixed(2)} ms (before / after)`);
  for (const side of sides) {
    const m = median(side.ms);
    console.log(`  ${side.name}: median ${m.toFixed(2)} ms/step (min ${Math.min(...side.ms).toFixed(2)}, max ${Math.max(...side.ms).toFixed(2)}), ${((100 * ceilMs) / m).toFixed(0)}% of the MatMul ceiling`);
  }
  const ratios = sides[0]!.ms.map((off, i) => sides[1]!.ms[i]! / off).sort((a, b) => a - b);
  console.log(`  guard on ÷ off, per pair: median ${ratios[ratios.length >> 1]!.toFixed(3)} (${ratios[0]!.toFixed(3)}–${ratios.at(-1)!.toFixed(3)})`);
  for (const side of sides) await side.trainer.dispose();
}

async function mlp(): Promise<void> {
  const B = 256;
  const dims = MLP_DIMS;
  const params = mlpParameters(1);
  const g = mlpForward(params);
  const spec = buildTrainingGraph(g.build(), { loss: 'loss', optimizer: { kind: 'adam' } });
  const batches = randomBatches(64, [784], B);
  if (serve) {
    const trainer = await Trainer.create(rt, spec, params);
    await serveStepMany(trainer, batches);
    await trainer.dispose();
    return;
  }
  let ms1 = Number.NaN;
  if (!skipStep) {
    const trainer = await Trainer.create(rt, spec, params);
    ms1 = await timeSteps(trainer, batches);
    await trainer.dispose();
  }
  const many = await Trainer.create(rt, spec, params);
  const { mean: ms, median } = await timeStepMany(many, batches);
  await many.dispose();
  // One batch trained until the loss is ~0: subnormal gradients, with and without flushing.
  const one = randomBatches(1, [784], B);
  const saturated: string[] = [];
  for (const flushDenormals of process.argv.includes('--no-saturated') ? [] : [false, true]) {
    const t = await Trainer.create(rt, spec, params, { ...sessionOptions, flushDenormals });
    const sms = await timeSteps(t, one, 150);
    await t.dispose();
    saturated.push(`${sms.toFixed(2)} ms/step ${flushDenormals ? 'with' : 'without'} flushDenormals`);
  }
  // forward x@W for each layer; backward dW for each layer, dX for layers 2 and 3 (none for the input).
  const shapes: [number, number, number][] = [];
  for (let i = 0; i < 3; i++) shapes.push([B, dims[i]!, dims[i + 1]!], [dims[i]!, B, dims[i + 1]!]);
  for (let i = 1; i < 3; i++) shapes.push([B, dims[i + 1]!, dims[i]!]);
  const ceil = await matmulCeiling(shapes);
  const achieved = ceil.gflop / (ms / 1e3);
  const ceilingRate = ceil.gflop / (ceil.ms / 1e3);
  console.log(`MLP 784-512-512-10, batch ${B}, Adam, ${stepsPerRun} steps per run: ${ms.toFixed(2)} ms/step, ${(1e3 / ms).toFixed(1)} steps/s, ${((B * 1e3) / ms).toFixed(0)} samples/s (median run ${median.toFixed(2)} ms/step)`);
  console.log(`  matmul work ${ceil.gflop.toFixed(3)} GFLOP/step → ${achieved.toFixed(1)} GFLOP/s; plain ORT MatMuls of the same shapes: ${ceil.ms.toFixed(2)} ms, ${ceilingRate.toFixed(1)} GFLOP/s`);
  console.log(`  ratio to the MatMul ceiling: ${((100 * ceil.ms) / ms).toFixed(0)}%`);
  if (!skipStep) console.log(`  one step per run (Trainer.step): ${ms1.toFixed(2)} ms/step, ${((100 * ceil.ms) / ms1).toFixed(0)}% of the ceiling; stepMany is ${(ms1 / ms).toFixed(2)}× faster`);
  if (saturated.length > 0) console.log(`  one batch trained to loss ~0 (subnormal gradients): ${saturated.join(', ')}`);
}

async function cnn(): Promise<void> {
  const B = 128;
  const params = initParameters([
    { name: 'c1.w', dims: [8, 1, 3, 3], init: { kind: 'kaiming' } },
    { name: 'c1.b', dims: [8], init: { kind: 'zeros' } },
    { name: 'c2.w', dims: [16, 8, 3, 3], init: { kind: 'kaiming' } },
    { name: 'c2.b', dims: [16], init: { kind: 'zeros' } },
    { name: 'fc.w', dims: [784, 10], init: { kind: 'xavier' } },
    { name: 'fc.b', dims: [10], init: { kind: 'zeros' } },
  ], 2);
  const g = new GraphBuilder('cnn');
  const x = g.input('x', 'float32', ['batch', 1, 28, 28]);
  const y = g.input('labels', 'int64', ['batch']);
  const p = (n: string) => g.param(n, params.get(n));
  let h = maxPool2d(conv2d(x, p('c1.w'), p('c1.b'), { pads: [1, 1, 1, 1] }).relu(), { kernelShape: [2, 2], strides: [2, 2] });
  h = maxPool2d(conv2d(h, p('c2.w'), p('c2.b'), { pads: [1, 1, 1, 1] }).relu(), { kernelShape: [2, 2], strides: [2, 2] });
  const logits = h.flatten().matmul(p('fc.w')).add(p('fc.b'));
  g.output(softmaxCrossEntropy(logits, y), 'loss');
  const spec = buildTrainingGraph(g.build(), { loss: 'loss', optimizer: { kind: 'adam' } });
  const batches = randomBatches(64, [1, 28, 28], B);
  const trainer = await Trainer.create(rt, spec, params);
  const ms1 = await timeSteps(trainer, batches);
  await trainer.dispose();
  const many = await Trainer.create(rt, spec, params);
  const { mean: ms, median } = await timeStepMany(many, batches);
  await many.dispose();
  const fwd = 2 * B * (28 * 28 * 8 * 9 + 14 * 14 * 16 * 8 * 9 + 784 * 10);
  const gflop = (3 * fwd - 2 * B * 28 * 28 * 8 * 9) / 1e9; // no input gradient for the first conv
  console.log(`CNN conv8-pool-conv16-pool-fc10 on 28x28, batch ${B}, Adam, ${stepsPerRun} steps per run: ${ms.toFixed(2)} ms/step, ${(1e3 / ms).toFixed(1)} steps/s, ${(gflop / (ms / 1e3)).toFixed(1)} GFLOP/s (median run ${median.toFixed(2)} ms/step)`);
  console.log(`  one step per run (Trainer.step): ${ms1.toFixed(2)} ms/step; stepMany is ${(ms1 / ms).toFixed(2)}× faster`);
}

console.log(`backends ${backends.join(',')}, intra-op threads: ${threads ?? 'ORT default'}, ${steps} timed steps after 3 warm-up steps`);
if (compareGuard) await compareNonFiniteGuard();
else if (only === undefined || only === 'mlp') await mlp();
if (!compareGuard && (only === undefined || only === 'cnn')) await cnn();
await rt.dispose();
