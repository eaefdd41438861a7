import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isEsperError } from '@esper/core';
import { OnnxCheckpointCorruptError, OnnxParameterError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import { f32 } from '../ir/tensor-data.js';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { fans, initParameters, type ParameterSpec } from './init.js';
import { ParameterSet } from './parameter-set.js';
import { Prng } from './prng.js';

const specs: ParameterSpec[] = [
  { name: 'fc1.w', dims: [256, 128], init: { kind: 'kaiming' } },
  { name: 'fc1.b', dims: [128], init: { kind: 'zeros' } },
  { name: 'fc2.w', dims: [128, 64], init: { kind: 'xavier', distribution: 'normal' } },
  { name: 'conv.w', dims: [16, 8, 3, 3], init: { kind: 'kaiming', distribution: 'normal' } },
];

function stats(a: Float32Array) {
  let m = 0;
  for (const v of a) m += v;
  m /= a.length;
  let v2 = 0;
  for (const v of a) v2 += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(v2 / a.length), max: Math.max(...a.map(Math.abs)) };
}

describe('Prng', () => {
  it('is deterministic per seed and roughly uniform / normal', () => {
    const a = new Prng(42); const b = new Prng(42); const c = new Prng(43);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xs);
    const p = new Prng(7);
    const u = Float32Array.from({ length: 20000 }, () => p.next());
    expect(stats(u).mean).toBeCloseTo(0.5, 1);
    const n = Float32Array.from({ length: 20000 }, () => p.normal());
    expect(Math.abs(stats(n).mean)).toBeLessThan(0.03);
    expect(stats(n).std).toBeCloseTo(1, 1);
  });
});

describe('initialisers', () => {
  it('are deterministic for a seed and independent of other parameters', () => {
    const a = initParameters(specs, 1);
    const b = initParameters(specs, 1);
    const c = initParameters(specs, 2);
    const only = initParameters([specs[2]!], 1);
    expect(a.get('fc1.w').data).toEqual(b.get('fc1.w').data);
    expect(a.get('fc1.w').data).not.toEqual(c.get('fc1.w').data);
    expect(only.get('fc2.w').data).toEqual(a.get('fc2.w').data);
    expect(a.names).toEqual(specs.map((s) => s.name));
    expect(a.numel).toBe(256 * 128 + 128 + 128 * 64 + 16 * 8 * 9);
  });

  it('have the variance their scheme promises', () => {
    const p = initParameters(specs, 3);
    const k = stats(p.get('fc1.w').data);
    expect(k.std).toBeCloseTo(Math.sqrt(2 / 256), 2);
    expect(k.max).toBeLessThanOrEqual(Math.sqrt(2 / 256) * Math.sqrt(3) + 1e-6);
    expect(stats(p.get('fc2.w').data).std).toBeCloseTo(Math.sqrt(2 / (128 + 64)), 2);
    expect(stats(p.get('conv.w').data).std).toBeCloseTo(Math.sqrt(2 / (8 * 9)), 1);
    expect(p.get('fc1.b').data.every((v) => v === 0)).toBe(true);
    expect(fans([16, 8, 3, 3])).toEqual([72, 144]);
    expect(fans([10, 20], 'out-in')).toEqual([20, 10]);
  });
});

describe('ParameterSet', () => {
  it('checks names and shapes against a graph', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['n', 2]);
    g.output(x.matmul(g.param('w', f32([2, 3], new Float32Array(6)), { kind: 'input' })), 'y');
    const graph = g.build();
    const set = ParameterSet.fromGraph(graph);
    expect(set.names).toEqual(['w']);
    set.assertMatches(graph);
    expect(() => new ParameterSet().assertMatches(graph)).toThrow(/missing "w"/);
    expect(() => new ParameterSet([['w', f32([3, 2], new Float32Array(6))]]).assertMatches(graph)).toThrow(OnnxParameterError);
    expect(() => set.set('w', new Float32Array(5))).toThrow(/has 6 elements/);
    expect(() => set.get('v')).toThrow(/no parameter "v"/);
    const copy = set.clone();
    copy.get('w').data[0] = 1;
    expect(set.get('w').data[0]).toBe(0);
  });
});

describe('checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'esper-ckpt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const params = initParameters(specs, 9);

  it('round-trip parameters and metadata through a file', async () => {
    const path = join(dir, 'a.ckpt');
    await saveCheckpoint(path, params, { epoch: '3' });
    const back = await loadCheckpoint(path);
    expect(back.metadata).toEqual({ epoch: '3' });
    expect(back.parameters.names).toEqual(params.names);
    for (const [name, t] of params) {
      expect(back.parameters.get(name).dims).toEqual(t.dims);
      expect(back.parameters.get(name).data).toEqual(t.data);
    }
  });

  it('reject a flipped byte in tensor data, naming the tensor', async () => {
    const path = join(dir, 'b.ckpt');
    await saveCheckpoint(path, params);
    const bytes = readFileSync(path);
    bytes[bytes.length - 5]! ^= 0x01; // inside the last tensor (conv.w)
    writeFileSync(path, bytes);
    const err = await loadCheckpoint(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxCheckpointCorruptError);
    expect(isEsperError(err, 'ESPER_ONNX_CHECKPOINT_CORRUPT')).toBe(true);
    expect((err as Error).message).toMatch(/tensor "conv.w" checksum mismatch/);
    expect((err as Error).message).toContain(path);
  });

  it('reject truncation, a damaged header and foreign files', () => {
    const bytes = encodeCheckpoint(params);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10))).toThrow(/truncated/);
    const h = bytes.slice();
    h[25]! ^= 0xff;
    expect(() => decodeCheckpoint(h)).toThrow(/header checksum mismatch/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('not a checkpoint at all'))).toThrow(/not an @esper\/onnx checkpoint/);
    expect(() => decodeCheckpoint(new Uint8Array(3))).toThrow(OnnxCheckpointCorruptError);
  });
});
