import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ortSessionOptions } from '../src/runtime/backend.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/denormals-child.ts', import.meta.url));

/** Runs the child in a fresh process (ONNX Runtime's denormal setting is per process, once). */
function inFreshProcess(where: 'main' | 'worker', flush: boolean): { y: number[]; jsSubnormal: boolean } {
  const run = spawnSync(process.execPath, ['--conditions=@esper/source', '--import', 'tsx', child, where, flush ? 'flush' : 'plain'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`child failed (status ${run.status}): ${run.stderr}`);
  return JSON.parse(line) as { y: number[]; jsSubnormal: boolean };
}

describe('flushDenormals', () => {
  it('maps to ONNX Runtime session.set_denormal_as_zero, and only when asked', () => {
    expect(ortSessionOptions('cpu', { flushDenormals: true }).extra).toEqual({ session: { set_denormal_as_zero: '1' } });
    expect(ortSessionOptions('cpu', {}).extra).toBeUndefined();
    expect(ortSessionOptions('cpu', { flushDenormals: false }).extra).toBeUndefined();
  });

  it('in a worker runner: the session flushes subnormal results to zero', () => {
    const flushed = inFreshProcess('worker', true);
    expect(flushed.y).toEqual(new Array(8).fill(0));
    expect(flushed.jsSubnormal).toBe(true);
    const plain = inFreshProcess('worker', false);
    expect(plain.y.every((v) => v > 1.9e-39 && v < 2.1e-39)).toBe(true);
  }, 120_000);

  it('on the main thread: JavaScript keeps IEEE subnormals even when the first session flushes', () => {
    // Without the runtime's guard, ORT would set flush-to-zero on the main thread and
    // Number.MIN_VALUE > 0 would be false. One intra-op thread runs on the caller, unflushed.
    const r = inFreshProcess('main', true);
    expect(r.jsSubnormal).toBe(true);
    expect(r.y.every((v) => v > 1.9e-39 && v < 2.1e-39)).toBe(true);
  }, 120_000);
});
