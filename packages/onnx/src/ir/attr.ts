import type { AttributeValue, Graph } from './graph.js';
import type { TensorData } from './tensor-data.js';

/** Attribute helpers: ONNX needs the attribute type, which a JS number alone does not say. */
export const attr = {
  int: (value: number): AttributeValue => ({ type: 'int', value }),
  float: (value: number): AttributeValue => ({ type: 'float', value: Math.fround(value) }),
  string: (value: string): AttributeValue => ({ type: 'string', value }),
  ints: (value: readonly number[]): AttributeValue => ({ type: 'ints', value: [...value] }),
  floats: (value: readonly number[]): AttributeValue => ({ type: 'floats', value: value.map((v) => Math.fround(v)) }),
  tensor: (value: TensorData): AttributeValue => ({ type: 'tensor', value }),
  /** A subgraph (`Loop` body, `If` branch); it may read values of the enclosing graph by name. */
  graph: (value: Graph): AttributeValue => ({ type: 'graph', value }),
};
