import { describe, expect, it } from 'vitest';
import { isEsperError } from '@esper/core';
import { GraphBuilder } from '../ir/builder.js';
import { serializeModel } from '../ir/serialize.js';
import { f32, toNumbers } from '../ir/tensor-data.js';
import { OnnxBackendUnavailableError, OnnxDisposedError, OnnxRunError, OnnxSessionCreateError } from '../errors.js';
import { OnnxRuntime, type BackendFallbackEvent } from './runtime.js';

// y = relu(x @ w + b): small enough to check by hand.
function tinyModel() {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', ['batch', 3]);
  const w = g.param('w', f32([3, 2], [1, 2, 3, 4, 5, 6]));
  const b = g.param('b', f32([2], [-1, 0.5]));
  g.output(x.matmul(w).add(b).relu(), 'y');
  return g.build();
}
const x = f32([2, 3], [1, 1, 1, -1, -1, -1]);
const expected = [8, 12.5, 0, 0];

describe('OnnxRuntime backends', () => {
  it('runs a tiny model on cpu', async () => {
    const rt = new OnnxRuntime();
    const s = await rt.createSession(tinyModel(), { backends: ['cpu'], intraOpThreads: 1 });
    expect(s.backend).toBe('cpu');
    expect(s.fellBack).toBe(false);
    const { y } = await s.run({ x });
    expect(y!.dims).toEqual([2, 2]);
    expect(toNumbers(y!)).toEqual(expected);
    expect(s.metrics.runs).toBe(1);
    await s.dispose();
    await expect(s.run({ x })).rejects.toBeInstanceOf(OnnxDisposedError);
  });

  it.each([['webgpu'], ['cuda']] as const)('falls back from %s to cpu with an event and the cpu result', async (gpu) => {
    const events: BackendFallbackEvent[] = [];
    const rt = new OnnxRuntime({ onFallback: (e) => events.push(e) });
    const s = await rt.createSession(tinyModel(), { backends: [gpu, 'cpu'] });
    expect(s.backend).toBe('cpu');
    expect(s.fellBack).toBe(true);
    expect(s.requestedBackends).toEqual([gpu, 'cpu']);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ from: gpu, to: 'cpu', requested: [gpu, 'cpu'], digest: s.digest });
    expect(events[0]!.reason.length).toBeGreaterThan(0);
    expect(rt.metrics.fallbacks).toBe(1);
    expect(rt.metrics.fallbacksFrom[gpu]).toBe(1);
    expect(toNumbers((await s.run({ x })).y!)).toEqual(expected);
    await s.dispose();
  });

  it('throws a typed error naming what to install when only cuda is requested', async () => {
    const rt = new OnnxRuntime();
    const err = await rt.createSession(tinyModel(), { backends: ['cuda'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxBackendUnavailableError);
    expect(isEsperError(err, 'ESPER_ONNX_BACKEND_UNAVAILABLE')).toBe(true);
    const e = err as OnnxBackendUnavailableError;
    expect(e.attempts.map((a) => a.backend)).toEqual(['cuda']);
    expect(e.message).toMatch(/cuda needs an NVIDIA GPU/);
    expect(e.message).toMatch(/Add 'cpu'/);
    expect(e.cause).toBeDefined();
    expect(rt.metrics.fallbacks).toBe(0);
  });

  it('reports a model ONNX Runtime cannot run on cpu as a model error, not a missing backend', async () => {
    const g = new GraphBuilder('no-kernel');
    // ORT has no float64 LeakyRelu kernel.
    g.output(g.input('x', 'float64', [2]).leakyRelu(), 'y');
    const rt = new OnnxRuntime();
    const err = await rt.createSession(g.build(), { backends: ['cuda', 'cpu'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxSessionCreateError);
    expect((err as Error).message).toMatch(/LeakyRelu/);
    expect(rt.metrics.fallbacks).toBe(1);
  });

  it('caches sessions by model digest and options, and disposes them', async () => {
    const rt = new OnnxRuntime();
    const bytes = serializeModel(tinyModel());
    const a = await rt.session(bytes, { intraOpThreads: 1 });
    const b = await rt.session(tinyModel(), { intraOpThreads: 1 });
    const c = await rt.session(bytes, { intraOpThreads: 2 });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(rt.metrics.cacheHits).toBe(1);
    expect(rt.metrics.sessionsCreated).toBe(2);
    expect(rt.cachedSessions).toBe(2);
    await c.dispose();
    expect(rt.cachedSessions).toBe(1);
    await rt.dispose();
    expect(a.isDisposed).toBe(true);
    await expect(rt.session(bytes)).rejects.toBeInstanceOf(OnnxDisposedError);
  });

  it('reports compile and warm-up timings', async () => {
    const rt = new OnnxRuntime();
    const s = await rt.createSession(tinyModel());
    const report = await s.warmUp({ x }, { runs: 4 });
    expect(report.runs).toBe(4);
    expect(report.compileMs).toBeGreaterThan(0);
    expect(report.firstRunMs).toBeGreaterThan(0);
    expect(report.warmRunMs).toBeGreaterThan(0);
    expect(s.metrics.runs).toBe(4);
    await s.dispose();
  });

  it('wraps ONNX Runtime run failures in a typed error', async () => {
    const rt = new OnnxRuntime();
    const s = await rt.createSession(tinyModel());
    await expect(s.run({ x: f32([2, 4], new Float32Array(8)) })).rejects.toBeInstanceOf(OnnxRunError);
    await s.dispose();
  });
});
