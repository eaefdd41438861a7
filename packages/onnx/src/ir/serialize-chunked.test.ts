import { describe, expect, it } from 'vitest';
import { conv2d, layerNorm } from '../ops/index.js';
import { attr } from './attr.js';
import { GraphBuilder } from './builder.js';
import { DEFAULT_SERIALIZE_CHUNK_BYTES, serializeModel, serializeModelChunked } from './serialize.js';
import { f32, i64, tensor } from './tensor-data.js';

/** Deterministic float values (no Math.random). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/**
 * A model with every part the chunked writer splits around: metadata, input and initializer
 * parameters, constants, value info, a subgraph attribute, an extra operator domain and
 * `layers` weight matrices of `width`² floats.
 */
function model(layers: number, width: number) {
  const g = new GraphBuilder('chunked').meta('purpose', 'chunked serialization');
  const img = g.input('img', 'float32', ['batch', 1, 4, 4]);
  const conv = conv2d(img, g.param('conv.w', f32([1, 1, 3, 3], values(9, 1))), null, { pads: [1, 1, 1, 1] });
  let x = conv.flatten().matmul(g.param('proj', f32([16, width], values(16 * width, 2))));
  for (let i = 0; i < layers; i++) x = x.matmul(g.param(`layer${i}.w`, f32([width, width], values(width * width, 10 + i)))).relu();
  x = layerNorm(x, g.param('ln.scale', f32([width], new Float32Array(width).fill(1)), { kind: 'input' }), null, { epsilon: 1e-5 });
  g.constant(i64([2], [-3, 4]), 'ints');
  g.constant(tensor('bool', [2], Uint8Array.of(1, 0)), 'flags');
  const body = new GraphBuilder('body');
  const [q] = body.op('QuickGelu', [body.input('bx', 'float32', [2])], {}, [{ dtype: 'float32', shape: [2] }], { domain: 'com.microsoft' });
  body.output(q!, 'by');
  const branch = body.build();
  const [y] = g.op('If', [g.input('c', 'bool', [])], { then_branch: attr.graph(branch), else_branch: attr.graph(branch) }, [{ dtype: 'float32', shape: [2] }]);
  g.output(x, 'out');
  g.output(y!, 'y');
  return g.build();
}

async function chunked(graph: ReturnType<typeof model>, options: Parameters<typeof serializeModelChunked>[1] = {}) {
  let yields = 0;
  const bytes = await serializeModelChunked(graph, { ...options, yieldControl: async () => void yields++ });
  return { bytes, yields };
}

describe('serializeModelChunked', () => {
  it('writes exactly the bytes of serializeModel, with and without input parameter values', async () => {
    const graph = model(6, 64);
    for (const includeInputParameterValues of [false, true]) {
      for (const chunkBytes of [1, 10_000, DEFAULT_SERIALIZE_CHUNK_BYTES]) {
        const { bytes } = await chunked(graph, { includeInputParameterValues, chunkBytes });
        expect(Buffer.from(bytes).equals(Buffer.from(serializeModel(graph, { includeInputParameterValues })))).toBe(true);
      }
    }
  });

  it('writes the same bytes for a graph without initializers', async () => {
    const g = new GraphBuilder('empty');
    g.output(g.input('x', 'float32', [2]).relu(), 'y');
    const graph = g.build();
    const { bytes, yields } = await chunked(graph);
    expect(Buffer.from(bytes).equals(Buffer.from(serializeModel(graph)))).toBe(true);
    expect(yields).toBe(0);
  });

  it('yields after every chunk: no stretch handles much more than chunkBytes of weights', async () => {
    // 40 matrices of 256² floats (256 KiB each, 10 MiB in all) in 1 MiB chunks.
    const graph = model(40, 256);
    const matrix = 256 * 256 * 4;
    const { bytes, yields } = await chunked(graph, { chunkBytes: 1024 * 1024 });
    expect(bytes.byteLength).toBeGreaterThan(40 * matrix);
    // Encoding: a yield once ≥ 1 MiB is pending (4 matrices + headers) → ≥ 9 yields over 40 matrices;
    // copying into the result: the same again.
    expect(yields).toBeGreaterThanOrEqual(2 * Math.floor((40 * matrix) / (1024 * 1024 + matrix + 1024)));
    // Default chunk: 4 MiB.
    expect((await chunked(graph)).yields).toBeGreaterThanOrEqual(2 * Math.floor((40 * matrix) / (DEFAULT_SERIALIZE_CHUNK_BYTES + matrix + 1024)));
  });

  it('yields to the event loop by default (a timer set before it runs fires before it returns)', async () => {
    const graph = model(40, 256);
    let fired = false;
    setTimeout(() => void (fired = true), 0);
    const bytes = await serializeModelChunked(graph, { chunkBytes: 1024 * 1024 });
    expect(fired).toBe(true);
    expect(bytes.byteLength).toBe(serializeModel(graph).byteLength);
  });
});
