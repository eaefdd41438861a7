import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.js';
import { f32, toNumbers } from '../ir/tensor-data.js';
import { OnnxDeadlineError, OnnxSessionCreateError } from '../errors.js';
import { WorkerSessionRunner } from './worker-runner.js';
import type { BackendFallbackEvent } from './runtime.js';

function tiny() {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', ['n', 3]);
  g.output(x.matmul(g.param('w', f32([3, 2], [1, 2, 3, 4, 5, 6]))).relu(), 'y');
  return g.build();
}
// ~16 chained 384³ matmuls: tens of milliseconds, far past a 2 ms deadline.
function slow() {
  const g = new GraphBuilder('slow');
  let x = g.input('x', 'float32', [384, 384]);
  const w = g.param('w', f32([384, 384], new Float32Array(384 * 384).fill(1 / 384)));
  for (let i = 0; i < 16; i++) x = x.matmul(w);
  g.output(x, 'y');
  return g.build();
}

const runners: WorkerSessionRunner[] = [];
afterAll(async () => {
  for (const r of runners) await r.dispose();
});

describe('WorkerSessionRunner', () => {
  it('runs a model off the main thread with the same results, falling back from a GPU', async () => {
    const events: BackendFallbackEvent[] = [];
    const r = await WorkerSessionRunner.create(tiny(), { backends: ['cuda', 'cpu'], intraOpThreads: 1, onFallback: (e) => events.push(e) });
    runners.push(r);
    expect(r.backend).toBe('cpu');
    expect(events.map((e) => [e.from, e.to])).toEqual([['cuda', 'cpu']]);
    const out = await r.run({ x: f32([2, 3], [1, 1, 1, -1, -1, -1]) });
    expect(toNumbers(out.y!)).toEqual([9, 12, 0, 0]);
  });

  it('enforces a deadline: rejects on time, abandons the worker, restarts on the next run', async () => {
    const r = await WorkerSessionRunner.create(slow(), { intraOpThreads: 1 });
    runners.push(r);
    const x = f32([384, 384], new Float32Array(384 * 384).fill(1));
    const t0 = performance.now();
    const err = await r.run({ x }, { deadlineMs: 2 }).catch((e: unknown) => e);
    const waitedMs = performance.now() - t0;
    expect(err).toBeInstanceOf(OnnxDeadlineError);
    expect((err as OnnxDeadlineError).code).toBe('ESPER_ONNX_DEADLINE');
    expect(r.deadlineMisses).toBe(1);
    expect(r.abandonedWorkers).toBe(1);
    expect(waitedMs).toBeLessThan(1000);
    const out = await r.run({ x });
    expect(toNumbers(out.y!).slice(0, 2)).toEqual([expect.closeTo(1, 4), expect.closeTo(1, 4)]);
    await r.dispose();
    expect(r.abandonedWorkers).toBe(0);
  });

  it('keeps the event loop free while a run is in flight', async () => {
    const r = await WorkerSessionRunner.create(slow(), { intraOpThreads: 1 });
    runners.push(r);
    const x = f32([384, 384], new Float32Array(384 * 384).fill(1));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const t0 = performance.now();
    await r.run({ x });
    const ms = performance.now() - t0;
    clearInterval(timer);
    // A blocking run would let no timer fire; here timers keep firing during the run.
    expect(ticks).toBeGreaterThan(Math.min(3, ms / 10));
  });

  it('realtimePriority puts the worker thread (and no other) under SCHED_FIFO where allowed, and reports a refusal otherwise', async () => {
    const runner = await WorkerSessionRunner.create(tiny(), { realtimePriority: 1 });
    runners.push(runner);
    const rt = runner.realtime!;
    expect(rt).toBeDefined();
    const policy = (tid: number) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    };
    if (process.platform === 'linux') {
      expect(rt.tid).not.toBe(process.pid); // the worker's thread, never the caller's
      expect(policy(process.pid)).toBe(0);
      if (rt.applied) expect(policy(rt.tid)).toBe(1);
      else expect(rt.reason).toMatch(/\S/); // the refusal says why
    } else {
      expect(rt.applied).toBe(false);
    }
    expect(toNumbers((await runner.run({ x: f32([1, 3], [1, 1, 1]) })).y!)).toEqual([9, 12]);
    // Without the option nothing is asked.
    const plain = await WorkerSessionRunner.create(tiny());
    runners.push(plain);
    expect(plain.realtime).toBeUndefined();
  });

  it('reports a model the CPU cannot run as a typed error', async () => {
    const g = new GraphBuilder('bad');
    g.output(g.input('x', 'float64', [2]).leakyRelu(), 'y');
    await expect(WorkerSessionRunner.create(g.build())).rejects.toBeInstanceOf(OnnxSessionCreateError);
  });
});
