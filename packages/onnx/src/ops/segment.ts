import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { Dim, Shape } from '../ir/graph.js';
import { formatShape, unifyDim } from '../ir/shape.js';
import { tensor } from '../ir/tensor-data.js';
import type { Tensor } from '../ir/tensor.js';
import { cast, gather, scatterElements, unsqueeze, where } from './layout.js';
import { div, exp, sub } from './math.js';
import { expandTo, int64Const, requireFloat, shapeTensor } from './util.js';

/**
 * How many segments a segment reduction makes: a fixed number, or a tensor whose leading dim
 * is the count (the node features of a graph, so the count follows the batch at run time).
 */
export type SegmentCount = number | Tensor;

interface Prepared {
  readonly data: Tensor;
  /** `segmentIds` as int64 `[E]`. */
  readonly ids: Tensor;
  /** The ids broadcast to the data's shape `[E, …]`, as ScatterElements needs them. */
  readonly idsLikeData: Tensor;
  /** Output shape `[N, …]` as a 1-D int64 tensor, and as far as known. */
  readonly outShape: Tensor;
  readonly shape: Shape | null;
  /** `[N]` as a 1-D int64 tensor. */
  readonly count: Tensor;
}

function prepare(what: string, data: Tensor, segmentIds: Tensor, segments: SegmentCount): Prepared {
  requireFloat(what, data);
  if (segmentIds.dtype !== 'int64' && segmentIds.dtype !== 'int32') throw new OnnxGraphError(`${what}: segment ids must be int64 or int32, got ${segmentIds.dtype}`);
  if (segmentIds.shape !== null && segmentIds.shape.length !== 1) throw new OnnxShapeError(`${what}: segment ids must be 1-D [E], got ${formatShape(segmentIds.shape)}`);
  if (data.shape !== null && data.shape.length === 0) throw new OnnxShapeError(`${what}: data must have a leading axis [E, …], got a scalar`);
  if (data.shape !== null && segmentIds.shape !== null) unifyDim(data.shape[0] as Dim, segmentIds.shape[0] as Dim, `${what}: data rows vs segment ids`);
  if (typeof segments === 'number' && !(Number.isInteger(segments) && segments >= 0)) throw new OnnxGraphError(`${what}: the segment count must be an integer >= 0, got ${segments}`);
  if (typeof segments !== 'number' && segments.shape !== null && segments.shape.length === 0) throw new OnnxShapeError(`${what}: the tensor giving the segment count needs a leading axis, got a scalar`);
  const b = data.builder;
  const ids = segmentIds.dtype === 'int64' ? segmentIds : cast(segmentIds, 'int64');
  const n: Dim = typeof segments === 'number' ? segments : (segments.shape?.[0] ?? null);
  const count = typeof segments === 'number' ? int64Const(data, [segments], 'segments') : b.op1('Shape', [segments], { end: attr.int(1) }, { dtype: 'int64', shape: [1] }, 'SegmentCount');
  const rank = data.shape?.length ?? null;
  if (rank === null) throw new OnnxShapeError(`${what}: the rank of "${data.name}" must be known`);
  const rest = b.op1('Shape', [data], { start: attr.int(1) }, { dtype: 'int64', shape: [rank - 1] }, 'SegmentRest');
  const outShape = b.op1('Concat', [count, rest], { axis: attr.int(0) }, { dtype: 'int64', shape: [rank] }, 'SegmentShape');
  const idsLikeData = rank === 1 ? ids : expandTo(unsqueeze(ids, [...Array(rank - 1).keys()].map((i) => i + 1)), shapeTensor(data), data.shape);
  return { data, ids, idsLikeData, outShape, shape: [n, ...(data.shape as Shape).slice(1)], count };
}

function filled(p: Prepared, value: number): Tensor {
  const v = p.data.dtype === 'float64' ? tensor('float64', [1], Float64Array.of(value)) : tensor('float32', [1], Float32Array.of(value));
  return p.data.builder.op1('ConstantOfShape', [p.outShape], { value: attr.tensor(v) }, { dtype: p.data.dtype, shape: p.shape }, 'SegmentInit');
}

/** Number of rows in each segment, `[N, 1, …]` (as many trailing 1s as the data has trailing axes), in the data's dtype. */
function rowsPerSegment(p: Prepared): Tensor {
  const b = p.data.builder;
  const one = p.data.dtype === 'float64' ? tensor('float64', [1], Float64Array.of(1)) : tensor('float32', [1], Float32Array.of(1));
  const zero = p.data.dtype === 'float64' ? tensor('float64', [1], Float64Array.of(0)) : tensor('float32', [1], Float32Array.of(0));
  const ones = b.op1('ConstantOfShape', [shapeTensor(p.ids)], { value: attr.tensor(one) }, { dtype: p.data.dtype, shape: p.ids.shape }, 'SegmentOnes');
  const zeros = b.op1('ConstantOfShape', [p.count], { value: attr.tensor(zero) }, { dtype: p.data.dtype, shape: [p.shape?.[0] ?? null] }, 'SegmentZeros');
  const counts = scatterElements(zeros, p.ids, ones, 0, 'add');
  const trailing = (p.data.shape as Shape).length - 1;
  return trailing === 0 ? counts : unsqueeze(counts, [...Array(trailing).keys()].map((i) => i + 1));
}

function sumOf(p: Prepared, data: Tensor): Tensor {
  return scatterElements(filled(p, 0), p.idsLikeData, data, 0, 'add');
}

/**
 * Sums the rows of `data` `[E, …]` into `segments` segments by `segmentIds` `[E]`: row `e`
 * goes to segment `segmentIds[e]`, as `tf.math.unsorted_segment_sum` or PyTorch's
 * `scatter_add` along the first axis. `E` may be symbolic and 0 (a graph without edges); an
 * empty segment is 0. Ids must lie in `[0, N)`. Gradients flow to `data`.
 */
export function segmentSum(data: Tensor, segmentIds: Tensor, segments: SegmentCount): Tensor {
  return data.builder.scope('segmentSum', () => sumOf(prepare('segmentSum', data, segmentIds, segments), data));
}

/** Mean of the rows of `data` in each segment (see {@link segmentSum}); an empty segment is 0, not NaN. */
export function segmentMean(data: Tensor, segmentIds: Tensor, segments: SegmentCount): Tensor {
  return data.builder.scope('segmentMean', () => {
    const p = prepare('segmentMean', data, segmentIds, segments);
    const rows = rowsPerSegment(p);
    const atLeastOne = p.data.builder.op1('Max', [rows, scalar(p, 1)], {}, { dtype: rows.dtype, shape: rows.shape }, 'Max');
    return div(sumOf(p, data), atLeastOne);
  });
}

/**
 * Elementwise maximum of the rows of `data` in each segment (see {@link segmentSum}); an empty
 * segment is 0, not −∞. Rows tied for a segment's maximum share its gradient evenly, so a
 * duplicated edge or a self-loop gets the true derivative.
 */
export function segmentMax(data: Tensor, segmentIds: Tensor, segments: SegmentCount): Tensor {
  return data.builder.scope('segmentMax', () => {
    const p = prepare('segmentMax', data, segmentIds, segments);
    return maxOf(p);
  });
}

function maxOf(p: Prepared): Tensor {
  const b = p.data.builder;
  const m = scatterElements(filled(p, -Infinity), p.idsLikeData, p.data, 0, 'max');
  const rows = rowsPerSegment(p);
  const occupied = b.op1('Greater', [rows, scalar(p, 0)], {}, { dtype: 'bool', shape: rows.shape }, 'Occupied');
  return where(occupied, m, scalar(p, 0));
}

/**
 * Softmax of `scores` `[E]` or `[E, H]` (H heads) over the rows of each segment: for attention
 * over a node's incoming edges, pass the edge scores and each edge's target node. Each row of
 * the result is `exp(s_e − max) / Σ exp(s_k − max)` over its segment (stable for large
 * scores); with no edges the result is empty. Gradients flow to `scores`.
 */
export function segmentSoftmax(scores: Tensor, segmentIds: Tensor, segments: SegmentCount): Tensor {
  return scores.builder.scope('segmentSoftmax', () => {
    const p = prepare('segmentSoftmax', scores, segmentIds, segments);
    // The shift by each segment's max cancels in the ratio; its gradient cancels too.
    const e = exp(sub(scores, gather(maxOf(p), p.ids, 0)));
    return div(e, gather(sumOf(p, e), p.ids, 0));
  });
}

function scalar(p: Prepared, v: number): Tensor {
  const b = p.data.builder;
  return p.data.dtype === 'float64' ? b.constant(tensor('float64', [], Float64Array.of(v)), 'scalar') : b.constant(tensor('float32', [], Float32Array.of(v)), 'scalar');
}
