import { describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from '../../gen/onnx_pb.js';
import { OnnxModelParseError } from '../errors.js';
import { conv2d, dropout, layerNorm, maxPool2d, scatterElements } from '../ops/index.js';
import { attr } from './attr.js';
import { GraphBuilder } from './builder.js';
import { graphDigest } from './digest.js';
import { IR_VERSION } from './graph.js';
import { parseModel, serializeModel } from './serialize.js';
import { f32, i64, tensor } from './tensor-data.js';

function richGraph(seed = 1) {
  const g = new GraphBuilder('rich').meta('purpose', 'round trip');
  const x = g.input('x', 'float32', ['batch', 1, 6, 6]);
  const w = g.param('conv.w', f32([2, 1, 3, 3], Array.from({ length: 18 }, (_, i) => (i * seed) / 10)));
  const c = conv2d(x, w, null, { pads: [1, 1, 1, 1], strides: [1, 1] });
  const p = maxPool2d(c, { kernelShape: [2, 2], strides: [2, 2] });
  const flat = p.flatten();
  const scale = g.param('ln.scale', f32([18], new Float32Array(18).fill(1)), { kind: 'input' });
  const n = layerNorm(flat, scale, null, { epsilon: 1e-6 });
  const d = dropout(n, 0.25, false, { seed: 7 });
  const idx = g.input('idx', 'int64', [0, 18]);
  const upd = g.input('upd', 'float32', [0, 18]);
  const s = scatterElements(d.output, idx, upd, 0, 'max');
  g.constant(tensor('bool', [2], Uint8Array.of(1, 0)), 'flags');
  g.constant(i64([2], [-3, 4]), 'ints');
  g.output(s, 'y');
  g.output(d.mask, 'mask');
  return g.build();
}

describe('ModelProto serialization', () => {
  it('writes IR version 10, opset 21 and the graph', () => {
    const bytes = serializeModel(richGraph());
    const model = fromBinary(ModelProtoSchema, bytes);
    expect(model.irVersion).toBe(BigInt(IR_VERSION));
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 21]]);
    expect(model.graph!.node.map((n) => n.opType)).toEqual(['Conv', 'MaxPool', 'Flatten', 'LayerNormalization', 'Dropout', 'ScatterElements', 'Identity', 'Identity']);
    // The input parameter's start value is not written by default.
    expect(model.graph!.initializer.map((t) => t.name)).not.toContain('ln.scale');
    expect(fromBinary(ModelProtoSchema, serializeModel(richGraph(), { includeInputParameterValues: true })).graph!.initializer.map((t) => t.name)).toContain('ln.scale');
  });

  it('imports every operator domain its nodes use, inside subgraphs too', () => {
    const body = new GraphBuilder('body');
    const bx = body.input('bx', 'float32', [2]);
    const [q] = body.op('QuickGelu', [bx], {}, [{ dtype: 'float32', shape: [2] }], { domain: 'com.microsoft' });
    body.output(q!, 'by');
    const g = new GraphBuilder('outer');
    const x = g.input('x', 'float32', [2]);
    const [b] = g.op('Binarizer', [x], {}, [{ dtype: 'float32', shape: [2] }], { domain: 'ai.onnx.ml' });
    const branch = body.build();
    const [y] = g.op('If', [g.input('c', 'bool', [])], { then_branch: attr.graph(branch), else_branch: attr.graph(branch) }, [{ dtype: 'float32', shape: [2] }]);
    g.output(b!, 'b');
    g.output(y!, 'y');
    const model = fromBinary(ModelProtoSchema, serializeModel(g.build()));
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 21], ['ai.onnx.ml', 1], ['com.microsoft', 1]]);
  });

  it('round-trips through bytes: parse(serialize(g)) serializes to the same bytes', () => {
    const graph = richGraph();
    const bytes = serializeModel(graph, { includeInputParameterValues: true });
    const back = parseModel(bytes);
    expect(serializeModel(back, { includeInputParameterValues: true })).toEqual(bytes);
    expect(back.name).toBe('rich');
    expect(back.opset).toBe(21);
    expect(back.inputs).toEqual(graph.inputs);
    expect(back.outputs).toEqual(graph.outputs);
    expect(back.nodes).toEqual(graph.nodes);
    expect([...back.parameters]).toEqual([...graph.parameters]);
    expect(back.metadata.get('purpose')).toBe('round trip');
    expect([...back.valueInfo.keys()]).toEqual([...graph.valueInfo.keys()]);
    for (const [name, t] of graph.initializers) {
      const u = back.initializers.get(name)!;
      expect(u.dtype).toBe(t.dtype);
      expect(u.dims).toEqual(t.dims);
      expect(Array.from(u.data as ArrayLike<number | bigint>)).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });

  it('gives equal graphs equal digests and different graphs different ones', () => {
    expect(graphDigest(richGraph())).toBe(graphDigest(richGraph()));
    expect(graphDigest(richGraph())).not.toBe(graphDigest(richGraph(2)));
    expect(graphDigest(richGraph())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects bytes that are not a model with a typed error', () => {
    expect(() => parseModel(Uint8Array.of(0xff, 0xff, 0xff))).toThrow(OnnxModelParseError);
    expect(() => parseModel(new Uint8Array(0))).toThrow(/no graph/);
  });
});
