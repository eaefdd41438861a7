import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { DType } from '../ir/dtype.js';
import type { Dim, Shape } from '../ir/graph.js';
import { broadcastShapes, formatShape, knownNumel, normAxis, unifyDim } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';
import { int64Const, sameDType } from './util.js';

/**
 * Reshapes to `shape`; `0` copies the input dim at that position, one `-1` is inferred.
 * Throws {@link OnnxShapeError} when the element counts are known and differ.
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.filter((d) => d === -1).length > 1) throw new OnnxShapeError(`reshape: at most one -1 allowed, got [${shape.join(', ')}]`);
  let out: Dim[] | null = null;
  if (x.shape !== null) {
    const xs = x.shape;
    out = shape.map((d, i) => (d === 0 ? (i < xs.length ? (xs[i] as Dim) : null) : d === -1 ? null : d));
    const total = knownNumel(xs);
    const neg = shape.indexOf(-1);
    if (neg >= 0) {
      const rest = knownNumel(out.filter((_, i) => i !== neg));
      if (total !== null && rest !== null) {
        if (rest === 0 || total % rest !== 0) throw new OnnxShapeError(`reshape ${formatShape(xs)} to [${shape.join(', ')}]: ${total} elements do not divide into ${rest}`);
        out[neg] = total / rest;
      }
    } else {
      const n = knownNumel(out);
      if (total !== null && n !== null && total !== n) throw new OnnxShapeError(`reshape ${formatShape(xs)} (${total} elements) to [${shape.join(', ')}] (${n} elements)`);
    }
  } else {
    out = shape.map((d) => (d === 0 || d === -1 ? null : d));
  }
  return x.builder.op1('Reshape', [x, int64Const(x, shape, 'shape')], {}, { dtype: x.dtype, shape: out });
}

/** Flattens to 2-D: dims before `axis` become the rows, the rest the columns (default axis 1). */
export function flatten(x: Tensor, axis = 1): Tensor {
  let shape: Shape | null = null;
  if (x.shape !== null) {
    const a = axis < 0 ? axis + x.shape.length : axis;
    if (a < 0 || a > x.shape.length) throw new OnnxShapeError(`flatten: axis ${axis} out of range for rank ${x.shape.length}`);
    shape = [knownNumel(x.shape.slice(0, a)), knownNumel(x.shape.slice(a))];
    if (a === 1) shape = [x.shape[0] as Dim, shape[1] as Dim];
  }
  return x.builder.op1('Flatten', [x], { axis: attr.int(axis) }, { dtype: x.dtype, shape });
}

/** Permutes axes (reverses them when `perm` is omitted). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  let shape: Shape | null = null;
  if (x.shape !== null) {
    const xs = x.shape;
    const p = perm ?? xs.map((_, i) => xs.length - 1 - i);
    if (p.length !== xs.length || new Set(p).size !== p.length || p.some((i) => i < 0 || i >= xs.length)) {
      throw new OnnxShapeError(`transpose: perm [${p.join(', ')}] is not a permutation of rank ${xs.length}`);
    }
    shape = p.map((i) => xs[i] as Dim);
  }
  return x.builder.op1('Transpose', [x], perm === undefined ? {} : { perm: attr.ints(perm) }, { dtype: x.dtype, shape });
}

/** Joins tensors along `axis`; other dims must agree. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const first = xs[0];
  if (first === undefined) throw new OnnxGraphError('concat: needs at least one tensor');
  for (const t of xs) sameDType('Concat', first, t);
  let shape: Shape | null = null;
  if (xs.every((t) => t.shape !== null)) {
    const rank = (first.shape as Shape).length;
    const a = normAxis(axis, rank, 'concat');
    const out: Dim[] = [...(first.shape as Shape)];
    let sum: number | null = 0;
    for (const t of xs) {
      const s = t.shape as Shape;
      if (s.length !== rank) throw new OnnxShapeError(`concat: ranks differ (${formatShape(first.shape)} vs ${formatShape(s)})`);
      s.forEach((d, i) => {
        if (i === a) sum = typeof d === 'number' && sum !== null ? sum + d : null;
        else out[i] = unifyDim(out[i] as Dim, d, `concat along axis ${axis}: dim ${i}`);
      });
    }
    out[a] = sum;
    shape = out;
  }
  return first.builder.op1('Concat', xs, { axis: attr.int(axis) }, { dtype: first.dtype, shape });
}

/** Options of {@link slice}. */
export interface SliceSpec {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Axes the starts/ends apply to (default 0, 1, …). */
  readonly axes?: readonly number[];
  /** Steps per axis (default 1; negative steps walk backwards). */
  readonly steps?: readonly number[];
}

/** Numpy-style slicing `x[starts:ends:steps]` on the given axes (ends are clamped, as in ONNX). */
export function slice(x: Tensor, spec: SliceSpec): Tensor {
  const axes = spec.axes ?? spec.starts.map((_, i) => i);
  const steps = spec.steps ?? spec.starts.map(() => 1);
  if (spec.ends.length !== spec.starts.length || axes.length !== spec.starts.length || steps.length !== spec.starts.length) {
    throw new OnnxGraphError('slice: starts, ends, axes and steps must have the same length');
  }
  let shape: Dim[] | null = null;
  if (x.shape !== null) {
    shape = [...x.shape];
    axes.forEach((axis, i) => {
      const a = normAxis(axis, (x.shape as Shape).length, 'slice');
      const dim = (shape as Dim[])[a];
      if (typeof dim !== 'number') {
        (shape as Dim[])[a] = null;
        return;
      }
      const step = steps[i] as number;
      if (step === 0) throw new OnnxShapeError('slice: step must not be 0');
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
      let s = spec.starts[i] as number;
      let e = spec.ends[i] as number;
      s = s < 0 ? s + dim : s;
      e = e < 0 ? e + dim : e;
      let len: number;
      if (step > 0) {
        s = clamp(s, 0, dim);
        e = clamp(e, 0, dim);
        len = Math.max(0, Math.ceil((e - s) / step));
      } else {
        s = clamp(s, -1, dim - 1);
        e = clamp(e, -1, dim - 1);
        len = Math.max(0, Math.ceil((s - e) / -step));
      }
      (shape as Dim[])[a] = len;
    });
  }
  const b = x.builder;
  const inputs = [x, int64Const(x, spec.starts, 'starts'), int64Const(x, spec.ends, 'ends'), int64Const(x, axes, 'axes'), int64Const(x, steps, 'steps')];
  void b;
  return x.builder.op1('Slice', inputs, {}, { dtype: x.dtype, shape });
}

/** Picks entries of `x` along `axis` at integer `indices` (numpy `take`). */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32') throw new OnnxGraphError(`gather: indices must be int32/int64, got ${indices.dtype}`);
  let shape: Shape | null = null;
  if (x.shape !== null && indices.shape !== null) {
    const a = normAxis(axis, x.shape.length, 'gather');
    shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  }
  return x.builder.op1('Gather', [x, indices], { axis: attr.int(axis) }, { dtype: x.dtype, shape });
}

/** Like numpy `take_along_axis`: `out[i][j] = x[i][indices[i][j]]` for axis 1. */
export function gatherElements(x: Tensor, indices: Tensor, axis = 0): Tensor {
  if (x.shape !== null && indices.shape !== null && x.shape.length !== indices.shape.length) {
    throw new OnnxShapeError(`gatherElements: data ${formatShape(x.shape)} and indices ${formatShape(indices.shape)} must have the same rank`);
  }
  return x.builder.op1('GatherElements', [x, indices], { axis: attr.int(axis) }, { dtype: x.dtype, shape: indices.shape });
}

/** Reduction applied where ScatterElements writes to an index more than once. */
export type ScatterReduction = 'none' | 'add' | 'mul' | 'max' | 'min';

/**
 * Writes `updates` into a copy of `data` at `indices` along `axis`, combining with `reduction`
 * (`add` and `max` carry graph message passing). An index tensor with zero rows leaves `data`
 * unchanged.
 */
export function scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis = 0, reduction: ScatterReduction = 'none'): Tensor {
  sameDType('ScatterElements', data, updates);
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32') throw new OnnxGraphError(`scatterElements: indices must be int32/int64, got ${indices.dtype}`);
  if (indices.shape !== null && updates.shape !== null) {
    if (indices.shape.length !== updates.shape.length) throw new OnnxShapeError(`scatterElements: indices ${formatShape(indices.shape)} and updates ${formatShape(updates.shape)} must have the same shape`);
    indices.shape.forEach((d, i) => unifyDim(d, (updates.shape as Shape)[i] as Dim, 'scatterElements: indices vs updates'));
  }
  if (data.shape !== null) normAxis(axis, data.shape.length, 'scatterElements');
  const attributes = { axis: attr.int(axis), ...(reduction === 'none' ? {} : { reduction: attr.string(reduction) }) };
  return data.builder.op1('ScatterElements', [data, indices, updates], attributes, { dtype: data.dtype, shape: data.shape });
}

/** `cond ? x : y` elementwise, with broadcasting. */
export function where(cond: Tensor, x: Tensor, y: Tensor): Tensor {
  if (cond.dtype !== 'bool') throw new OnnxGraphError(`where: condition must be bool, got ${cond.dtype}`);
  sameDType('Where', x, y);
  const shape = broadcastShapes(broadcastShapes(cond.shape, x.shape, 'where'), y.shape, 'where');
  return x.builder.op1('Where', [cond, x, y], {}, { dtype: x.dtype, shape });
}

const CAST_CODES: Record<DType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float64: 11 };

/** Converts elements to `dtype`. */
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.builder.op1('Cast', [x], { to: attr.int(CAST_CODES[dtype]) }, { dtype, shape: x.shape });
}

/** Inserts size-1 axes at the given (output) positions. */
export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  let shape: Shape | null = null;
  if (x.shape !== null) {
    const rank = x.shape.length + axes.length;
    const set = new Set(axes.map((a) => normAxis(a, rank, 'unsqueeze')));
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : (x.shape[j++] as Dim));
    shape = out;
  }
  return x.builder.op1('Unsqueeze', [x, int64Const(x, axes, 'axes')], {}, { dtype: x.dtype, shape });
}

/** Removes the given size-1 axes. */
export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  let shape: Shape | null = null;
  if (x.shape !== null) {
    const xs = x.shape;
    const set = new Set(axes.map((a) => normAxis(a, xs.length, 'squeeze')));
    for (const a of set) if (typeof xs[a] === 'number' && xs[a] !== 1) throw new OnnxShapeError(`squeeze: axis ${a} of ${formatShape(xs)} is not 1`);
    shape = xs.filter((_, i) => !set.has(i));
  }
  return x.builder.op1('Squeeze', [x, int64Const(x, axes, 'axes')], {}, { dtype: x.dtype, shape });
}

/** Broadcasts `x` to `shape` (numpy rules). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes(x.shape, shape, 'expand');
  return x.builder.op1('Expand', [x, int64Const(x, shape, 'shape')], {}, { dtype: x.dtype, shape: out });
}
