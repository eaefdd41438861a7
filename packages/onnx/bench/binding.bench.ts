// What onnxruntime-node costs outside ONNX Runtime itself: wall time of `session.run` minus the
// `model_run` time ORT's profiler reports, for a graph with an 8 MB input and a scalar output
// (ReduceSum) against one with an 8 MB input and an 8 MB output (Relu), the latter also with a
// preallocated output tensor. Run with `pnpm bench binding`. Prints figures, never asserts.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { GraphBuilder, serializeModel } from '../src/index.js';
import { reduceSum } from '../src/ops/reduce.js';

const N = 2_000_000; // 8 MB of float32
const runs = 100;
const dir = tmpdir();
const prefix = `esper-binding-${process.pid}`;

function model(out: 'scalar' | 'tensor'): Uint8Array {
  const g = new GraphBuilder(out);
  const x = g.input('x', 'float32', [N]);
  g.output(out === 'scalar' ? reduceSum(x, undefined, { keepDims: false }) : x.relu(), 'y');
  return serializeModel(g.build());
}

async function measure(out: 'scalar' | 'tensor', preallocated: boolean): Promise<{ wall: number; modelRun: number }> {
  for (const f of readdirSync(dir).filter((n) => n.startsWith(prefix))) rmSync(join(dir, f));
  const s = await ort.InferenceSession.create(model(out), { intraOpNumThreads: 2, enableProfiling: true, profileFilePrefix: join(dir, prefix) });
  const x = new ort.Tensor('float32', new Float32Array(N).fill(1), [N]);
  const fetches = preallocated ? { y: new ort.Tensor('float32', new Float32Array(N), [N]) } : undefined;
  const run = () => (fetches ? s.run({ x }, fetches) : s.run({ x }));
  for (let i = 0; i < 5; i++) await run();
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    wall.push(performance.now() - t0);
  }
  s.endProfiling();
  await s.release();
  const file = readdirSync(dir).find((n) => n.startsWith(prefix));
  const events = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as { name: string; dur: number }[];
  rmSync(join(dir, file!));
  const modelRun = events.filter((e) => e.name === 'model_run').map((e) => e.dur / 1e3);
  const median = (a: number[]) => a.sort((p, q) => p - q)[a.length >> 1]!;
  return { wall: median(wall), modelRun: median(modelRun) };
}

const base = await measure('scalar', false);
const cases: [string, Awaited<ReturnType<typeof measure>>][] = [
  ['8 MB in, scalar out (baseline)', base],
  ['8 MB in, 8 MB out', await measure('tensor', false)],
  ['8 MB in, 8 MB out into a preallocated tensor', await measure('tensor', true)],
];
for (const [label, r] of cases) {
  const outside = r.wall - r.modelRun;
  console.log(`${label}: run ${r.wall.toFixed(3)} ms, ORT model_run ${r.modelRun.toFixed(3)} ms, binding ${outside.toFixed(3)} ms (${(outside / Math.max(base.wall - base.modelRun, 1e-3)).toFixed(1)}× the baseline's)`);
}
