import { attr } from '../ir/attr.js';
import type { Dim, Shape } from '../ir/graph.js';
import { normAxis } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';
import { int64Const } from './util.js';

/** Options of the reductions. */
export interface ReduceOptions {
  /**
   * Keep reduced axes as size-1 dims. Default: true when `axes` are given (as in ONNX), false
   * when they are omitted, so that a full reduction (`x.mean()`, `reduceSum(x)`) is a scalar,
   * which is what a loss or a metric means.
   */
  readonly keepDims?: boolean;
}

function reducedShape(shape: Shape | null, axes: readonly number[] | undefined, keepDims: boolean, what: string): Shape | null {
  if (shape === null) return null;
  const set = new Set((axes ?? shape.map((_, i) => i)).map((a) => normAxis(a, shape.length, what)));
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

function reduce(opType: string, x: Tensor, axes: readonly number[] | undefined, options: ReduceOptions): Tensor {
  const keepDims = options.keepDims ?? axes !== undefined;
  const shape = reducedShape(x.shape, axes, keepDims, opType);
  const inputs = axes === undefined ? [x] : [x, int64Const(x, axes, 'axes')];
  return x.builder.op1(opType, inputs, { keepdims: attr.int(keepDims ? 1 : 0) }, { dtype: x.dtype, shape });
}

/** Sum over `axes` (all axes when omitted: a scalar, unless `keepDims`). */
export const reduceSum = (x: Tensor, axes?: readonly number[], options: ReduceOptions = {}): Tensor => reduce('ReduceSum', x, axes, options);
/**
 * Mean over `axes` (all axes when omitted: a scalar, unless `keepDims`). ONNX Runtime gives 0
 * for an empty tensor; {@link meanOfAll} gives NaN.
 */
export const reduceMean = (x: Tensor, axes?: readonly number[], options: ReduceOptions = {}): Tensor => reduce('ReduceMean', x, axes, options);
/**
 * Maximum over `axes` (all axes when omitted). Its gradient shares evenly among tied maxima
 * (as JAX's `max` and `torch.amax`): with k maximal elements each receives 1/k.
 */
export const reduceMax = (x: Tensor, axes?: readonly number[], options: ReduceOptions = {}): Tensor => reduce('ReduceMax', x, axes, options);
/** Minimum over `axes` (all axes when omitted); ties share the gradient evenly, as for {@link reduceMax}. */
export const reduceMin = (x: Tensor, axes?: readonly number[], options: ReduceOptions = {}): Tensor => reduce('ReduceMin', x, axes, options);
