import ort from 'onnxruntime-node';
import { OnnxRunError } from '../errors.js';
import type { DType } from '../ir/dtype.js';
import { tensor, type TensorData } from '../ir/tensor-data.js';

const SUPPORTED = new Set<string>(['float32', 'float64', 'int8', 'uint8', 'int32', 'int64', 'bool']);

/** Wraps a host tensor as an ONNX Runtime tensor (shares the typed array, no copy). */
export function toOrtTensor(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, t.dims as number[]);
}

/** Converts an ONNX Runtime output tensor to a host tensor (shares its data). */
export function fromOrtTensor(name: string, t: ort.Tensor): TensorData {
  if (!SUPPORTED.has(t.type)) throw new OnnxRunError(`output "${name}" has type ${t.type}, which @esper/onnx does not support`);
  const dtype = t.type as DType;
  const data = dtype === 'bool' && !(t.data instanceof Uint8Array) ? Uint8Array.from(t.data as ArrayLike<number>) : t.data;
  return tensor(dtype, t.dims, data as never);
}
