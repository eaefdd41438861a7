import type { ComposedModel, ComputeGraph, ComputeTensor, HostModel } from '@esper/core';
import { describe, expectTypeOf, it } from 'vitest';
import type { Graph, TensorData } from '@esper/onnx';

describe('growth contract types', () => {
  it('are the onnx IR types wherever @esper/onnx is imported', () => {
    expectTypeOf<ComputeGraph>().toEqualTypeOf<Graph>();
    expectTypeOf<ComputeTensor>().toEqualTypeOf<TensorData>();
    expectTypeOf<HostModel['graph']>().toEqualTypeOf<Graph>();
    expectTypeOf<ComposedModel['graph']>().toEqualTypeOf<Graph>();
  });
});
