// The Node twin of ort_step.py: runs one exported graph (bench/export-mlp-graphs.ts) with
// onnxruntime-node directly — no @esper/onnx runtime, no Trainer, fixed feeds built the same
// way as ort_step.py's — so Node and Python can be compared on exactly the same run.
// Usage: node --import tsx ort_step_node.ts <threads> <graph-name> [profile]
//        (GRAPHS=<dir with .onnx files>, STEPS=60, K=<steps per run of a multi-step graph>,
//        REALISTIC=1 for N(0,1) data, Kaiming weights, zero biases and optimizer state)
// With `profile`, ORT's profiler also reports model_run, so wall − model_run is the binding, and
// kernel time per step by operator type (count of nodes in brackets).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { Prng } from '../src/params/prng.js';

const threads = Number(process.argv[2]);
const what = process.argv[3] ?? 'mlp';
const profile = process.argv[4] === 'profile';
const STEPS = Number(process.env.STEPS ?? 60);
const K = Number(process.env.K ?? 16);
const dir = process.env.GRAPHS ?? '.device/onnx';
const prefix = join(tmpdir(), `esper-ortnode-${process.pid}`);

const s = await ort.InferenceSession.create(readFileSync(join(dir, `${what}.onnx`)), {
  intraOpNumThreads: threads, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
  ...(profile ? { enableProfiling: true, profileFilePrefix: prefix } : {}),
});
const prng = new Prng(0);
const meta = s.inputMetadata as unknown as { name: string; isTensor: boolean; type: string; shape: (number | string)[] }[];
let multi = false;
const feeds: Record<string, ort.Tensor> = {};
for (const m of meta) {
  const dims = m.shape.map((d) => (typeof d === 'number' ? d : d === 'steps' ? ((multi = true), K) : 256));
  const n = dims.reduce((a, b) => a * b, 1);
  if (m.type === 'int64') feeds[m.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 10)), dims);
  else if (m.name === 'lr') feeds[m.name] = new ort.Tensor('float32', new Float32Array(n).fill(1e-3), dims);
  else if (m.name === 'step') feeds[m.name] = new ort.Tensor('float32', Float32Array.of(1), dims);
  else if (process.env.REALISTIC === '1') {
    const scale = m.name.startsWith('opt/') || dims.length === 1 ? 0 : m.name.endsWith('.w') ? Math.sqrt(2 / dims[0]!) : 1;
    feeds[m.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => (scale === 0 ? 0 : prng.normal() * scale)), dims);
  } else feeds[m.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => prng.normal() * 0.05), dims);
}
const per = multi ? K : 1;
for (let i = 0; i < 5; i++) await s.run(feeds);
const t: number[] = [];
for (let i = 0; i < STEPS; i++) {
  const t0 = performance.now();
  await s.run(feeds);
  t.push((performance.now() - t0) / per);
}
t.sort((a, b) => a - b);
let modelRun = '';
if (profile) {
  s.endProfiling();
  const file = readdirSync(tmpdir()).find((f) => join(tmpdir(), f).startsWith(prefix));
  const events = JSON.parse(readFileSync(join(tmpdir(), file!), 'utf8')) as { name: string; dur: number; cat?: string; args?: { op_name?: string } }[];
  const runs = events.filter((e) => e.name === 'model_run').map((e) => e.dur / 1e3 / per).sort((a, b) => a - b);
  modelRun = `  model_run median ${runs[runs.length >> 1]!.toFixed(2)} ms`;
  // Kernel time per step by operator type (warm-up runs included; the profiler inflates tiny kernels).
  const byOp = new Map<string, { us: number; nodes: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.args?.op_name === 'Loop') continue;
    const a = byOp.get(e.args?.op_name ?? '?') ?? { us: 0, nodes: 0 };
    a.us += e.dur;
    a.nodes++;
    byOp.set(e.args?.op_name ?? '?', a);
  }
  const stepsRun = runs.length * per;
  modelRun += `\n  kernel ms/step by operator: ${[...byOp].sort((a, b) => b[1].us - a[1].us).map(([op, a]) => `${op} ${(a.us / stepsRun / 1e3).toFixed(3)} (${Math.round(a.nodes / stepsRun)})`).join(', ')}`;
  rmSync(join(tmpdir(), file!));
}
const q = (p: number) => t[Math.floor(t.length * p)]!.toFixed(2);
console.log(`T${String(threads).padEnd(3)} ort-node ${what}${multi ? ` per step, K=${K}` : ''}${process.env.REALISTIC === '1' ? ' realistic' : ''}  median ${q(0.5)} ms  p10 ${q(0.1)}  p90 ${q(0.9)}${modelRun}`);
await s.release();
