import { allocate, bytesPerElement, type DType, type DTypeArrays, type TypedArray } from './dtype.js';
import { OnnxGraphError } from '../errors.js';

/** A dense host tensor: element type, fixed dims and a typed array in row-major order. */
export interface TensorData<D extends DType = DType> {
  readonly dtype: D;
  readonly dims: readonly number[];
  readonly data: DTypeArrays[D];
}

/** Number of elements of a shape with fixed dims (1 for a scalar). */
export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Makes a tensor, checking that `data` has exactly as many elements as `dims` says. */
export function tensor<D extends DType>(dtype: D, dims: readonly number[], data: DTypeArrays[D]): TensorData<D> {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new OnnxGraphError(`tensor dims must be non-negative integers, got [${dims.join(', ')}]`);
  }
  if (data.length !== numel(dims)) {
    throw new OnnxGraphError(`tensor of dims [${dims.join(', ')}] needs ${numel(dims)} elements, got ${data.length}`);
  }
  return { dtype, dims: [...dims], data };
}

/** A float32 tensor from numbers (or a Float32Array, used as is). */
export function f32(dims: readonly number[], values: ArrayLike<number> | Float32Array): TensorData<'float32'> {
  return tensor('float32', dims, values instanceof Float32Array ? values : Float32Array.from(values));
}

/** An int64 tensor from numbers. */
export function i64(dims: readonly number[], values: ArrayLike<number | bigint>): TensorData<'int64'> {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i] as number | bigint);
  return tensor('int64', dims, data);
}

/** A zero-filled tensor. */
export function zerosTensor<D extends DType>(dtype: D, dims: readonly number[]): TensorData<D> {
  return tensor(dtype, dims, allocate(dtype, numel(dims)));
}

/** Little-endian raw bytes of a tensor's data (the `TensorProto.raw_data` encoding). */
export function tensorBytes(t: TensorData): Uint8Array {
  const a = t.data as TypedArray;
  // Typed arrays are host-endian; every platform Node runs on here is little-endian.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Rebuilds a tensor from little-endian raw bytes (copies, so the result is aligned). */
export function tensorFromBytes(dtype: DType, dims: readonly number[], bytes: Uint8Array): TensorData {
  const n = numel(dims);
  if (bytes.byteLength !== n * bytesPerElement(dtype)) {
    throw new OnnxGraphError(`raw data of ${bytes.byteLength} bytes does not fit ${dtype}[${dims.join(', ')}]`);
  }
  const out = allocate(dtype, n);
  new Uint8Array(out.buffer).set(bytes);
  return tensor(dtype, dims, out);
}

/** Element values as plain numbers (int64 converted with `Number`), for tests and printing. */
export function toNumbers(t: TensorData): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}
