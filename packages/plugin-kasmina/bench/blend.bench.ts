// Cost of the blend-mode graph (decision 0060): milliseconds per training step of an MNIST-sized
// host (784-128-128-10, batch 64, Adam, stepMany runs of K steps) with one residual-mlp seed in
// BLENDING at the first hidden layer, blended (a) by the convex-only expression Kasmina had
// before blend modes, (b) by the blend-mode graph without the confidence gate (CONVEX, CHANNEL)
// and (c) with it (CONFIDENCE). Runs alternate; medians, fastest runs and node counts are printed.
//
// Run: pnpm bench blend [-- --reps 15 --k 25 --threads 1]
import { SeedLifecycleStage } from '@esper/core/leyline';
import {
  GraphBuilder,
  OnnxRuntime,
  ParameterSet,
  Prng,
  Trainer,
  buildTrainingGraph,
  f32,
  graft,
  gradientGate,
  i64,
  initParameters,
  softmaxCrossEntropy,
  stackBatches,
  tensor,
  type Graph,
  type TensorData,
} from '@esper/onnx';
import { CONTROL_KEYS, DEFAULT_BLUEPRINTS, controlInputName, controlValues, resolveBlend } from '../src/index.js';
import { buildSeedGraph } from '../src/grafting/seed-graph.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const reps = Number(arg('reps', '15'));
const K = Number(arg('k', '25'));
const threads = Number(arg('threads', '1'));
const [IN, W, OUT, BATCH] = [784, 128, 10, 64];

function host(): { graph: Graph; slot: string } {
  const p = initParameters(
    [
      { name: 'fc1.w', dims: [IN, W], init: { kind: 'kaiming' } },
      { name: 'fc1.b', dims: [W], init: { kind: 'zeros' } },
      { name: 'fc2.w', dims: [W, W], init: { kind: 'kaiming' } },
      { name: 'fc2.b', dims: [W], init: { kind: 'zeros' } },
      { name: 'head.w', dims: [W, OUT], init: { kind: 'xavier' } },
      { name: 'head.b', dims: [OUT], init: { kind: 'zeros' } },
    ],
    1,
  );
  const g = new GraphBuilder('mnist_mlp');
  const x = g.input('x', 'float32', ['batch', IN]);
  const labels = g.input('labels', 'int64', ['batch']);
  const h1 = x.matmul(g.param('fc1.w', p.get('fc1.w'))).add(g.param('fc1.b', p.get('fc1.b'))).relu();
  const h2 = h1.matmul(g.param('fc2.w', p.get('fc2.w'))).add(g.param('fc2.b', p.get('fc2.b'))).relu();
  const logits = h2.matmul(g.param('head.w', p.get('head.w'))).add(g.param('head.b', p.get('head.b')));
  g.output(softmaxCrossEntropy(logits, labels), 'loss');
  return { graph: g.build(), slot: h1.name };
}

/** The seed subgraph as Kasmina built it before blend modes: four scalar controls, convex blend. */
function convexOnlySeed(): Graph {
  const blueprint = DEFAULT_BLUEPRINTS[0]!;
  const specs = blueprint.parameters(W, {});
  const values = initParameters(specs.map((s) => ({ ...s, name: `seed/s/g1/${s.name}` })), 3);
  const b = new GraphBuilder('seed_s');
  const h = b.input('h', 'float32', ['batch', W]);
  const [alpha, st, inGate, hostGate] = ['alpha', 'st', 'in_gate', 'host_gate'].map((n) => b.input(n, 'float32', []));
  const params = Object.fromEntries(specs.map((s) => [s.name, b.param(`g1/${s.name}`, values.get(`seed/s/g1/${s.name}`))]));
  const s = blueprint.forward(gradientGate(h, inGate!), params);
  const out = b.scalar(1).sub(alpha!).mul(gradientGate(h, hostGate!)).add(alpha!.mul(s)).add(st!.mul(s.sub(gradientGate(s, b.scalar(0)))));
  b.output(out, 'out');
  return b.build();
}

function blendModeSeed(confidenceGate: boolean): Graph {
  const r = buildSeedGraph({ seedId: 's', slot: { id: 's', tensor: 'h', features: W, depth: 1 }, slotValue: { dtype: 'float32', shape: ['batch', W] }, blueprint: DEFAULT_BLUEPRINTS[0]!, options: {}, generation: 1, runSeed: 3, confidenceGate });
  if (!r.ok) throw new Error(r.issues.join('; '));
  return r.seed.graph;
}

function feeds(keys: readonly string[], config: Parameters<typeof resolveBlend>[0]): Record<string, TensorData> {
  const values = controlValues(SeedLifecycleStage.SEED_STAGE_BLENDING, 0.5, resolveBlend(config, W).values);
  const out: Record<string, TensorData> = {};
  for (const key of CONTROL_KEYS) {
    const name = controlInputName('s', key);
    if (!keys.includes(name)) continue;
    const v = values[key];
    out[name] = typeof v === 'number' ? (key === 'alphaVec' ? f32([W], Array(W).fill(v)) : tensor('float32', [], Float32Array.of(v))) : f32([W], [...v]);
  }
  return out;
}

async function trainer(runtime: OnnxRuntime, seedGraph: Graph) {
  const { graph: hostGraph, slot } = host();
  const graph = graft(hostGraph, seedGraph, { at: slot, prefix: 'seed/s', input: 'h', output: 'out' });
  const seedNames = [...graph.parameters.keys()].filter((n) => n.startsWith('seed/'));
  const spec = buildTrainingGraph(graph, {
    loss: 'loss',
    metrics: [],
    optimizer: { kind: 'adam' },
    groups: { host: [...graph.parameters.keys()].filter((n) => !seedNames.includes(n)), s: seedNames },
    clipGradNorm: 1,
    clipScope: 'groups',
    biasCorrection: 'per-parameter',
  });
  const t = await Trainer.create(runtime, spec, ParameterSet.fromGraph(graph), { intraOpThreads: threads });
  return { trainer: t, inputs: graph.inputs.map((i) => i.name), nodes: spec.graph.nodes.length };
}

const prng = new Prng(9);
const batches = Array.from({ length: K }, () => ({
  x: f32([BATCH, IN], Array.from({ length: BATCH * IN }, () => prng.uniform(0, 1))),
  labels: i64([BATCH], Array.from({ length: BATCH }, () => Math.floor(prng.uniform(0, OUT)))),
}));
const stacked = stackBatches(batches);
const runtime = new OnnxRuntime({ defaults: { intraOpThreads: threads } });
const variants = [
  { name: 'convex-only blend (before)', built: await trainer(runtime, convexOnlySeed()), config: undefined },
  { name: 'modes, no gate: CONVEX', built: await trainer(runtime, blendModeSeed(false)), config: undefined },
  { name: 'modes, no gate: CHANNEL', built: await trainer(runtime, blendModeSeed(false)), config: { mode: 'CHANNEL' as const, alphaVec: Array.from({ length: W }, (_, i) => i / W) } },
  { name: 'modes + gate: CONFIDENCE', built: await trainer(runtime, blendModeSeed(true)), config: { mode: 'CONFIDENCE' as const, confidence: { gateK: 4, gateTau: 0.2, alphaLo: 0, alphaHi: 1 } } },
];
const times = variants.map(() => [] as number[]);
for (let r = -2; r < reps; r++) {
  for (const [i, v] of variants.entries()) {
    const shared = feeds(v.built.inputs, v.config);
    const started = performance.now();
    await v.built.trainer.stepMany(stacked, 0.001, shared);
    if (r >= 0) times[i]!.push((performance.now() - started) / K);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(times[0]!);
const fastest = Math.min(...times[0]!);
console.log(`ms per training step (${reps} runs of K=${K}, batch ${BATCH}, ${threads} thread(s)): median, fastest run; nodes of the training graph`);
for (const [i, v] of variants.entries()) {
  const m = median(times[i]!);
  const f = Math.min(...times[i]!);
  console.log(`  ${v.name.padEnd(30)} ${m.toFixed(3)} ms ×${(m / base).toFixed(3)}   ${f.toFixed(3)} ms ×${(f / fastest).toFixed(3)}   ${v.built.nodes} nodes`);
}
for (const v of variants) await v.built.trainer.dispose();
await runtime.dispose();
