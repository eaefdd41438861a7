import { OnnxGraphError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { Dim, Shape } from '../ir/graph.js';
import { broadcastShapes, formatShape, unifyDim } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';
import { asTensor, requireFloat, sameDType, type Operand } from './util.js';

function binary(opType: string, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new OnnxGraphError(`${opType}: at least one operand must be a tensor`);
  const ta = typeof a === 'number' ? asTensor(a, b as Tensor) : a;
  const tb = asTensor(b, ta);
  sameDType(opType, ta, tb);
  const shape = broadcastShapes(ta.shape, tb.shape, opType);
  return ta.builder.op1(opType, [ta, tb], {}, { dtype: ta.dtype, shape });
}

/** Elementwise `a + b` with numpy broadcasting. */
export const add = (a: Operand, b: Operand): Tensor => binary('Add', a, b);
/** Elementwise `a - b` with numpy broadcasting. */
export const sub = (a: Operand, b: Operand): Tensor => binary('Sub', a, b);
/** Elementwise `a * b` with numpy broadcasting. */
export const mul = (a: Operand, b: Operand): Tensor => binary('Mul', a, b);
/** Elementwise `a / b` with numpy broadcasting (integer division truncates, as in ONNX). */
export const div = (a: Operand, b: Operand): Tensor => binary('Div', a, b);
/** Elementwise `a ** b` with numpy broadcasting. */
export const pow = (a: Operand, b: Operand): Tensor => binary('Pow', a, b);

function unary(opType: string, x: Tensor, float = true, attributes = {}): Tensor {
  if (float) requireFloat(opType, x);
  return x.builder.op1(opType, [x], attributes, { dtype: x.dtype, shape: x.shape });
}

/** `-x`. */
export const neg = (x: Tensor): Tensor => unary('Neg', x, false);
/** `max(x, 0)`. */
export const relu = (x: Tensor): Tensor => unary('Relu', x);
/** `x` where positive, `alpha * x` elsewhere (default alpha 0.01, as in ONNX). */
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => unary('LeakyRelu', x, true, { alpha: attr.float(alpha) });
/** Gaussian error linear unit: exact (`erf`) or the `tanh` approximation. ONNX Gelu, opset 20. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (x.builder.opset < 20) throw new OnnxGraphError('gelu needs opset 20 or newer');
  return unary('Gelu', x, true, approximate === 'none' ? {} : { approximate: attr.string(approximate) });
}
/** Hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => unary('Tanh', x);
/** Logistic sigmoid. */
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x);
/** `e ** x`. */
export const exp = (x: Tensor): Tensor => unary('Exp', x);
/** Natural logarithm. */
export const log = (x: Tensor): Tensor => unary('Log', x);
/** Square root. */
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x);
/** Absolute value. */
export const abs = (x: Tensor): Tensor => unary('Abs', x, false);
/** A copy of `x` under a new name. */
export const identity = (x: Tensor): Tensor => unary('Identity', x, false);

/** Softmax along `axis` (default last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return unary('Softmax', x, true, { axis: attr.int(axis) });
}
/** Log of softmax along `axis` (default last), computed stably by ONNX Runtime. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return unary('LogSoftmax', x, true, { axis: attr.int(axis) });
}

/** Shape of numpy-style matmul; throws when fixed inner dims differ. */
export function matmulShape(a: Shape | null, b: Shape | null): Shape | null {
  if (a === null || b === null) return null;
  if (a.length === 0 || b.length === 0) throw new OnnxGraphError('matmul: operands must have rank >= 1');
  const a2: Dim[] = a.length === 1 ? [1, a[0] as Dim] : [...a];
  const b2: Dim[] = b.length === 1 ? [b[0] as Dim, 1] : [...b];
  const k = unifyDim(a2[a2.length - 1] as Dim, b2[b2.length - 2] as Dim, `matmul ${formatShape(a)} x ${formatShape(b)}: inner dimensions`);
  void k;
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2), 'matmul batch dims');
  const out: Dim[] = [...(batch ?? []), ...(a.length === 1 ? [] : [a2[a2.length - 2] as Dim]), ...(b.length === 1 ? [] : [b2[b2.length - 1] as Dim])];
  return out;
}

/** Matrix product with numpy semantics (batched, broadcast batch dims). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  sameDType('MatMul', a, b);
  return a.builder.op1('MatMul', [a, b], {}, { dtype: a.dtype, shape: matmulShape(a.shape, b.shape) });
}

/** Options of {@link gemm}. */
export interface GemmOptions {
  readonly alpha?: number;
  readonly beta?: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
}

/** `alpha * op(a) @ op(b) + beta * c` for 2-D `a`, `b` (`op` transposes when asked); `c` broadcasts. */
export function gemm(a: Tensor, b: Tensor, c: Tensor | null = null, options: GemmOptions = {}): Tensor {
  sameDType('Gemm', a, b);
  const ta = options.transA ?? false;
  const tb = options.transB ?? false;
  let shape: Shape | null = null;
  if (a.shape && b.shape) {
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new OnnxGraphError(`gemm: a and b must be 2-D, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    const [m, ka] = ta ? [a.shape[1] as Dim, a.shape[0] as Dim] : [a.shape[0] as Dim, a.shape[1] as Dim];
    const [kb, n] = tb ? [b.shape[1] as Dim, b.shape[0] as Dim] : [b.shape[0] as Dim, b.shape[1] as Dim];
    unifyDim(ka, kb, `gemm ${formatShape(a.shape)} x ${formatShape(b.shape)}: inner dimensions`);
    shape = [m, n];
    if (c !== null) shape = broadcastShapes(shape, c.shape, 'gemm bias');
  }
  const attributes = {
    ...(options.alpha !== undefined ? { alpha: attr.float(options.alpha) } : {}),
    ...(options.beta !== undefined ? { beta: attr.float(options.beta) } : {}),
    ...(ta ? { transA: attr.int(1) } : {}),
    ...(tb ? { transB: attr.int(1) } : {}),
  };
  return a.builder.op1('Gemm', c === null ? [a, b] : [a, b, c], attributes, { dtype: a.dtype, shape });
}
