import { describe, expect, it } from 'vitest';
import { isEsperError } from '@esper/core';
import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { concat, gemm, reshape, slice, softmaxCrossEntropy, transpose } from '../ops/index.js';
import { GraphBuilder } from './builder.js';
import { f32, i64 } from './tensor-data.js';

describe('GraphBuilder', () => {
  it('infers shapes through operators, keeping symbolic dims', () => {
    const g = new GraphBuilder('mlp');
    const x = g.input('x', 'float32', ['batch', 4]);
    const w = g.param('w', f32([4, 3], new Float32Array(12)));
    const b = g.param('b', f32([3], new Float32Array(3)));
    const h = x.matmul(w).add(b).relu();
    expect(h.shape).toEqual(['batch', 3]);
    expect(h.mean([1], { keepDims: false }).shape).toEqual(['batch']);
    expect(reshape(h, [0, 3, 1]).shape).toEqual(['batch', 3, 1]);
    expect(transpose(h).shape).toEqual([3, 'batch']);
    expect(concat([h, h], 1).shape).toEqual(['batch', 6]);
    expect(slice(h, { starts: [1], ends: [100], axes: [1] }).shape).toEqual(['batch', 2]);
    expect(gemm(x, w, b).shape).toEqual(['batch', 3]);
    const labels = g.input('labels', 'int64', ['batch']);
    expect(softmaxCrossEntropy(h, labels).shape).toEqual([]);
  });

  it('rejects fixed dims that cannot fit, at build time', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['batch', 4]);
    const w = g.param('w', f32([5, 3], new Float32Array(15)));
    const err = (() => {
      try {
        x.matmul(w);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(OnnxShapeError);
    expect(isEsperError(err, 'ESPER_ONNX_SHAPE')).toBe(true);
    expect((err as Error).message).toMatch(/4 does not match 5/);
    expect(() => x.add(g.param('v', f32([3], [1, 2, 3])))).toThrow(/do not broadcast/);
    expect(reshape(x, [3, -1]).shape).toEqual([3, null]); // batch unknown: nothing to check yet
    const y = g.input('y', 'float32', [2, 4]);
    expect(() => reshape(y, [3, -1])).toThrow(/do not divide/);
    expect(() => concat([x, g.input('z', 'float32', ['batch', 4, 1])], 0)).toThrow(/ranks differ/);
  });

  it('keeps names unique and refuses taken names', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2]);
    const a = x.relu();
    const b = x.relu();
    expect(a.name).not.toBe(b.name);
    expect(() => g.input('x', 'float32', [2])).toThrow(OnnxGraphError);
    expect(() => g.param(a.name, f32([1], [0]))).toThrow(/already used/);
    expect(() => g.input('1bad', 'float32', [1])).toThrow(/not valid/);
    const scoped = g.scope('block', () => x.relu());
    expect(scoped.name.startsWith('block/')).toBe(true);
  });

  it('refuses tensors of another builder and use after build', () => {
    const g1 = new GraphBuilder('a');
    const g2 = new GraphBuilder('b');
    const x1 = g1.input('x', 'float32', [2]);
    const x2 = g2.input('x', 'float32', [2]);
    expect(() => x1.add(x2)).toThrow(/another graph builder/);
    g1.output(x1.relu(), 'y');
    g1.build();
    expect(() => x1.relu()).toThrow(/already built/);
    expect(() => new GraphBuilder('c').build()).toThrow(/no outputs/);
  });

  it('prunes nodes and constants that reach no output, keeping parameters', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2]);
    const w = g.param('w', f32([2], [1, 2]));
    x.mul(w).add(5); // dead: reaches no output
    g.param('unused', f32([1], [0]));
    g.output(x.relu(), 'y');
    const graph = g.build({ prune: true });
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Relu', 'Identity']);
    expect([...graph.initializers.keys()]).toEqual(['w', 'unused']);
  });

  it('records parameter kinds and constants', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['n', 2]);
    const w = g.param('w', f32([2, 2], [1, 0, 0, 1]), { kind: 'input' });
    g.output(x.matmul(w).add(1), 'y');
    const graph = g.build();
    expect(graph.parameters.get('w')).toBe('input');
    expect(graph.inputs.map((i) => i.name)).toEqual(['x', 'w']);
    expect(graph.initializers.has('w')).toBe(true);
    expect([...graph.initializers.keys()].some((k) => k.startsWith('scalar'))).toBe(true);
    expect(graph.outputs[0]).toEqual({ name: 'y', dtype: 'float32', shape: ['n', 2] });
    void i64;
  });
});
