import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { Dim } from '../ir/graph.js';
import { formatShape, knownNumel, unifyDim } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';
import { gatherElements, unsqueeze } from './layout.js';
import { reduceMean, reduceSum } from './reduce.js';
import { div, logSoftmax, mul, neg, sub } from './math.js';
import { requireFloat } from './util.js';

/**
 * Mean softmax cross-entropy of `logits` `[N, C]` against integer class `labels` `[N]`
 * (int64), as a scalar: `−mean(logSoftmax(logits)[i, labels[i]])`, as PyTorch's
 * `cross_entropy` computes it. On an empty batch (N = 0) it is NaN, the mean of nothing.
 *
 * Built from LogSoftmax, GatherElements and a sum divided by N rather than ONNX
 * `SoftmaxCrossEntropyLoss`, whose ONNX Runtime kernel fails on an empty batch (an internal
 * Reshape of `{0, C}` to `{0, C, -1}`).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor {
  requireFloat('softmaxCrossEntropy', logits);
  if (labels.dtype !== 'int64') throw new OnnxGraphError(`softmaxCrossEntropy: labels must be int64 class indices, got ${labels.dtype}`);
  if (logits.shape !== null && labels.shape !== null) {
    if (logits.shape.length !== 2 || labels.shape.length !== 1) throw new OnnxShapeError(`softmaxCrossEntropy: expects logits [N, C] and labels [N], got ${formatShape(logits.shape)} and ${formatShape(labels.shape)}`);
    unifyDim(logits.shape[0] as Dim, labels.shape[0] as Dim, 'softmaxCrossEntropy batch');
  }
  return logits.builder.scope('SoftmaxCrossEntropy', () => {
    const picked = gatherElements(logSoftmax(logits, 1), unsqueeze(labels, [1]), 1);
    return neg(meanOfAll(picked));
  });
}

/** Mean squared error between `prediction` and `target` (same shape), as a scalar; NaN when they are empty. */
export function mse(prediction: Tensor, target: Tensor): Tensor {
  requireFloat('mse', prediction);
  const d = sub(prediction, target);
  return meanOfAll(mul(d, d));
}

/**
 * Mean of every element as a scalar, NaN when there are none (ONNX Runtime's ReduceMean gives
 * 0 for an empty tensor, which would hide an empty batch). With a known element count this is
 * one ReduceMean; otherwise a sum divided by the element count.
 */
export function meanOfAll(x: Tensor): Tensor {
  requireFloat('mean', x);
  const n = knownNumel(x.shape);
  if (n !== null && n > 0) return reduceMean(x, undefined, { keepDims: false });
  const b = x.builder;
  const size = b.op1('Size', [x], {}, { dtype: 'int64', shape: [] }, 'Size');
  const count = b.op1('Cast', [size], { to: attr.int(x.dtype === 'float64' ? 11 : 1) }, { dtype: x.dtype, shape: [] }, 'Count');
  return div(reduceSum(x, undefined, { keepDims: false }), count);
}
