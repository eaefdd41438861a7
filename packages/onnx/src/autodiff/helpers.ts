// Small graph-building helpers the gradient rules share. They add nodes to the builder that
// owns their first argument and infer shapes where that is cheap.
import { OnnxShapeError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { DType } from '../ir/dtype.js';
import type { Dim, Shape } from '../ir/graph.js';
import { broadcastShapes, formatShape } from '../ir/shape.js';
import { tensor } from '../ir/tensor-data.js';
import type { Tensor } from '../ir/tensor.js';
import { reshape } from '../ops/layout.js';
import { reduceSum } from '../ops/reduce.js';
import { int64Const } from '../ops/util.js';

/** A float scalar constant of `like`'s dtype. */
export function scalarLike(like: Tensor, v: number): Tensor {
  const b = like.builder;
  return like.dtype === 'float64' ? b.constant(tensor('float64', [], Float64Array.of(v)), 'scalar') : b.constant(tensor('float32', [], Float32Array.of(v)), 'scalar');
}

/** `Shape(x)` as a 1-D int64 tensor. */
export function shapeOf(x: Tensor): Tensor {
  return x.builder.op1('Shape', [x], {}, { dtype: 'int64', shape: [x.shape?.length ?? null] }, 'Shape');
}

/** `Size(x)` as an int64 scalar. */
export function sizeOf(x: Tensor): Tensor {
  return x.builder.op1('Size', [x], {}, { dtype: 'int64', shape: [] }, 'Size');
}

/** Zeros with `x`'s shape and dtype. */
export function zerosLike(x: Tensor): Tensor {
  return x.builder.op1('ConstantOfShape', [shapeOf(x)], { value: attr.tensor(fillValue(x, 0)) }, { dtype: x.dtype, shape: x.shape }, 'ZerosLike');
}

/** The one-element `value` tensor of a `ConstantOfShape` that fills with `v` in `like`'s float dtype. */
function fillValue(like: Tensor, v: number) {
  return like.dtype === 'float64' ? tensor('float64', [1], Float64Array.of(v)) : tensor('float32', [1], Float32Array.of(v));
}

/** `Expand(x, Shape(like))` with `like`'s shape. */
export function expandLike(x: Tensor, like: Tensor): Tensor {
  return x.builder.op1('Expand', [x, shapeOf(like)], {}, { dtype: x.dtype, shape: like.shape }, 'Expand');
}

/** `Reshape(x, Shape(like))`. */
export function reshapeLike(x: Tensor, like: Tensor): Tensor {
  return x.builder.op1('Reshape', [x, shapeOf(like)], {}, { dtype: x.dtype, shape: like.shape }, 'Reshape');
}

/** Elementwise comparison to a bool tensor. */
export function compare(op: 'Greater' | 'Less' | 'Equal', a: Tensor, b: Tensor): Tensor {
  return a.builder.op1(op, [a, b], {}, { dtype: 'bool', shape: broadcastShapes(a.shape, b.shape, op) }, op);
}

/** `cond ? a : b` without dtype checks on the condition's origin. */
export function select(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'Where'), b.shape, 'Where');
  return a.builder.op1('Where', [cond, a, b], {}, { dtype: a.dtype, shape }, 'Where');
}

/** Generic one-output op with a given output dtype and shape. */
export function op(x: Tensor, opType: string, inputs: readonly (Tensor | null)[], dtype: DType, shape: Shape | null, attributes = {}): Tensor {
  return x.builder.op1(opType, inputs, attributes, { dtype, shape }, opType);
}

/** Casts an int64 scalar or tensor to `like`'s float dtype. */
export function castLike(x: Tensor, like: Tensor): Tensor {
  return x.builder.op1('Cast', [x], { to: attr.int(like.dtype === 'float64' ? 11 : 1) }, { dtype: like.dtype, shape: x.shape }, 'Cast');
}

/** `Gather(Shape(x), [axis])`: a 1-D int64 tensor holding one dim of `x`. */
export function dimOf(x: Tensor, axis: number): Tensor {
  return x.builder.op1('Gather', [shapeOf(x), int64Const(x, [axis], 'axis')], { axis: attr.int(0) }, { dtype: 'int64', shape: [1] }, 'Dim');
}

/** Transpose with an explicit permutation. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const shape = x.shape === null ? null : perm.map((p) => x.shape![p] as Dim);
  return x.builder.op1('Transpose', [x], { perm: attr.ints(perm) }, { dtype: x.dtype, shape }, 'Transpose');
}

/** Swaps the last two axes. */
export function transposeLast2(x: Tensor): Tensor {
  const r = x.shape?.length;
  if (r === undefined || r < 2) throw new OnnxShapeError(`gradient: need a rank >= 2 tensor, got ${formatShape(x.shape)}`);
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return permute(x, perm);
}

/**
 * Sums a gradient `g` (shaped like a broadcast result) back to `target`'s shape: over leading
 * axes `target` lacks and over axes where `target` has a fixed 1. Symbolic and unknown dims of
 * `target` are taken as not broadcast (Esper's graphs broadcast only fixed 1s).
 */
export function unbroadcast(g: Tensor, target: Tensor): Tensor {
  const gs = g.shape;
  const ts = target.shape;
  if (gs === null || ts === null) throw new OnnxShapeError(`gradient: rank of "${g.name}" or "${target.name}" is unknown, cannot undo broadcasting`);
  let out = g;
  const lead = gs.length - ts.length;
  if (lead > 0) out = sumLeadingAxes(out, lead);
  const os = out.shape as Shape;
  const axes: number[] = [];
  ts.forEach((d, i) => {
    if (d === 1 && os[i] !== 1) axes.push(i);
  });
  if (axes.length > 0) out = reduceSum(out, axes, { keepDims: true });
  return out;
}

/**
 * Sums `x` over its first `count` axes (the reduction of a bias gradient, `[batch, n] → [n]`).
 *
 * ONNX Runtime's CPU `ReduceSum` over leading axes is slow: for `[256, 512]` it took 141 µs
 * on 2 threads where the same sum written as a vector–matrix product, `ones[batch] · x`, took
 * 19 µs (MatMul 11 µs plus its ones vector) — on the benchmark MLP that is a quarter of a
 * millisecond per step. So float tensors whose trailing dims multiply to a known size (or
 * that have exactly one trailing dim) are summed with a MatMul; anything else falls back to
 * `ReduceSum`. The sum over an empty leading axis is zeros either way.
 */
export function sumLeadingAxes(x: Tensor, count: number): Tensor {
  const xs = x.shape;
  const fallback = () => reduceSum(x, [...Array(count).keys()], { keepDims: false });
  if (xs === null || count < 1 || count >= xs.length || (x.dtype !== 'float32' && x.dtype !== 'float64')) return fallback();
  const rest = xs.slice(count);
  // [rows, cols] as it is, or reshaped to 2-D, which needs the trailing dims' product.
  const direct = count === 1 && rest.length === 1;
  const known = rest.every((d): d is number => typeof d === 'number');
  if (!direct && !known) return fallback();
  const x2 = direct ? x : reshape(x, [-1, (rest as number[]).reduce((a, b) => a * b, 1)]);
  const [rows, cols] = x2.shape as [Dim, Dim];
  const b = x.builder;
  const rowCount = b.op1('Shape', [x2], { end: attr.int(1) }, { dtype: 'int64', shape: [1] }, 'Rows');
  const ones = b.op1('ConstantOfShape', [rowCount], { value: attr.tensor(fillValue(x, 1)) }, { dtype: x.dtype, shape: [rows] }, 'Ones');
  const summed = b.op1('MatMul', [ones, x2], {}, { dtype: x.dtype, shape: [cols] }, 'SumRows');
  return rest.length === 1 ? summed : reshape(summed, rest as number[]);
}
