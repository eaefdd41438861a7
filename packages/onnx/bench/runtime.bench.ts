// Backend-layer measurements: session compile time, warm latency of a tiny model, and MatMul
// throughput (the ceiling training graphs are compared with). Run from the repository root:
//   pnpm bench runtime   (or: node --conditions=@esper/source --import tsx packages/onnx/bench/runtime.bench.ts --threads N)
// Prints figures; never fails on absolute times.
import { GraphBuilder, OnnxRuntime, f32, initParameters } from '../src/index.js';

const threadsArg = process.argv.indexOf('--threads');
const intraOpThreads = threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : undefined;
const rt = new OnnxRuntime({ defaults: intraOpThreads === undefined ? {} : { intraOpThreads } });

async function tiny(): Promise<void> {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', ['batch', 4]);
  const p = initParameters([{ name: 'w', dims: [4, 3], init: { kind: 'kaiming' } }], 1);
  g.output(x.matmul(g.param('w', p.get('w'))).relu(), 'y');
  const s = await rt.createSession(g.build());
  const r = await s.warmUp({ x: f32([1, 4], [1, 2, 3, 4]) }, { runs: 2001 });
  console.log(`tiny model: compile ${r.compileMs.toFixed(2)} ms, first run ${r.firstRunMs.toFixed(3)} ms, warm run ${(r.warmRunMs * 1000).toFixed(1)} µs (median of 2000)`);
  await s.dispose();
}

async function matmul(m: number, k: number, n: number): Promise<void> {
  const g = new GraphBuilder('mm');
  const a = g.input('a', 'float32', [m, k]);
  const b = g.input('b', 'float32', [k, n]);
  g.output(a.matmul(b), 'c');
  const s = await rt.createSession(g.build());
  const feeds = { a: f32([m, k], new Float32Array(m * k).fill(0.5)), b: f32([k, n], new Float32Array(k * n).fill(0.25)) };
  const r = await s.warmUp(feeds, { runs: 21 });
  const gflops = (2 * m * k * n) / (r.warmRunMs * 1e6);
  console.log(`matmul ${m}x${k}x${n}: compile ${r.compileMs.toFixed(1)} ms, warm ${r.warmRunMs.toFixed(3)} ms, ${gflops.toFixed(1)} GFLOP/s`);
  await s.dispose();
}

async function fallback(): Promise<void> {
  const g = new GraphBuilder('fb');
  g.output(g.input('x', 'float32', [1]).relu(), 'y');
  const graph = g.build();
  for (const gpu of ['webgpu', 'cuda'] as const) {
    const t0 = performance.now();
    const s = await rt.createSession(graph, { backends: [gpu, 'cpu'] });
    console.log(`fallback ${gpu} -> ${s.backend}: ${(performance.now() - t0).toFixed(1)} ms to a working session`);
    await s.dispose();
  }
}

console.log(`intraOpThreads: ${intraOpThreads ?? 'ORT default'}`);
await tiny();
await matmul(256, 784, 512);
await matmul(256, 512, 512);
await matmul(1024, 1024, 1024);
await fallback();
await rt.dispose();
