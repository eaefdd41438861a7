import { TensorProto_DataType } from '../../gen/onnx_pb.js';
import { OnnxGraphError } from '../errors.js';

/** Element types the IR supports (names follow onnxruntime-node's tensor types). */
export type DType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool';

/** The typed array that holds elements of each {@link DType} (`bool` is one byte per element). */
export interface DTypeArrays {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

/** Any typed array the IR stores tensor data in. */
export type TypedArray = DTypeArrays[DType];

const TO_ONNX: Record<DType, TensorProto_DataType> = {
  float32: TensorProto_DataType.FLOAT,
  float64: TensorProto_DataType.DOUBLE,
  int8: TensorProto_DataType.INT8,
  uint8: TensorProto_DataType.UINT8,
  int32: TensorProto_DataType.INT32,
  int64: TensorProto_DataType.INT64,
  bool: TensorProto_DataType.BOOL,
};

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1 };

/** The ONNX `TensorProto.DataType` code of a dtype. */
export function onnxDataType(dtype: DType): TensorProto_DataType {
  return TO_ONNX[dtype];
}

/** The dtype of an ONNX `TensorProto.DataType` code; throws for types the IR does not support. */
export function dtypeFromOnnx(code: number): DType {
  for (const [name, value] of Object.entries(TO_ONNX)) if (value === code) return name as DType;
  throw new OnnxGraphError(`ONNX data type ${TensorProto_DataType[code] ?? code} is not supported by @esper/onnx (supported: ${Object.keys(TO_ONNX).join(', ')})`);
}

/** Size of one element in bytes. */
export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

/** Allocates a zero-filled typed array of `length` elements of `dtype`. */
export function allocate<D extends DType>(dtype: D, length: number): DTypeArrays[D] {
  switch (dtype) {
    case 'float32': return new Float32Array(length) as DTypeArrays[D];
    case 'float64': return new Float64Array(length) as DTypeArrays[D];
    case 'int8': return new Int8Array(length) as DTypeArrays[D];
    case 'uint8':
    case 'bool': return new Uint8Array(length) as DTypeArrays[D];
    case 'int32': return new Int32Array(length) as DTypeArrays[D];
    case 'int64': return new BigInt64Array(length) as DTypeArrays[D];
  }
  throw new OnnxGraphError(`unknown dtype ${String(dtype)}`);
}

/** True for float32/float64. */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}
