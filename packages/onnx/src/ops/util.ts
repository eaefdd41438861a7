import { OnnxGraphError } from '../errors.js';
import type { DType } from '../ir/dtype.js';
import type { Shape } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { tensor } from '../ir/tensor-data.js';
import { i64 } from '../ir/tensor-data.js';

/** A tensor operand, or a plain number turned into a scalar constant of the other operand's dtype. */
export type Operand = Tensor | number;

/** Turns a number operand into a scalar constant matching `like`'s dtype. */
export function asTensor(x: Operand, like: Tensor): Tensor {
  if (typeof x !== 'number') return x;
  return like.builder.constant(scalarData(like.dtype, x), 'scalar');
}

function scalarData(dtype: DType, v: number) {
  switch (dtype) {
    case 'float32': return tensor('float32', [], Float32Array.of(v));
    case 'float64': return tensor('float64', [], Float64Array.of(v));
    case 'int32': return tensor('int32', [], Int32Array.of(v));
    case 'int64': return tensor('int64', [], BigInt64Array.of(BigInt(v)));
    default: throw new OnnxGraphError(`cannot make a numeric constant of dtype ${dtype}`);
  }
}

/** Requires both operands to share a dtype (ONNX does not promote types). */
export function sameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw new OnnxGraphError(`${op}: operands "${a.name}" (${a.dtype}) and "${b.name}" (${b.dtype}) have different dtypes; Cast one of them`);
}

/** Requires a float operand. */
export function requireFloat(op: string, a: Tensor): void {
  if (a.dtype !== 'float32' && a.dtype !== 'float64') throw new OnnxGraphError(`${op}: "${a.name}" must be float32 or float64, got ${a.dtype}`);
}

/** An int64 1-D constant (axes, shapes, starts …). */
export function int64Const(like: Tensor, values: readonly number[], hint: string): Tensor {
  return like.builder.constant(i64([values.length], values), hint);
}

/** `Shape(x)` as a 1-D int64 tensor. */
export function shapeTensor(x: Tensor): Tensor {
  return x.builder.op1('Shape', [x], {}, { dtype: 'int64', shape: [x.shape?.length ?? null] }, 'Shape');
}

/** `Expand(x, shape)` where `shape` is a 1-D int64 tensor (computed at run time); `known` is the output shape as far as known. */
export function expandTo(x: Tensor, shape: Tensor, known: Shape | null): Tensor {
  return x.builder.op1('Expand', [x, shape], {}, { dtype: x.dtype, shape: known }, 'Expand');
}
