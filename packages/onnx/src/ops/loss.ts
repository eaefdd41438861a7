import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { Dim } from '../ir/graph.js';
import { formatShape, unifyDim } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';
import { reduceMean } from './reduce.js';
import { mul, sub } from './math.js';
import { requireFloat } from './util.js';

/**
 * Mean softmax cross-entropy of `logits` `[N, C]` against integer class `labels` `[N]`
 * (int64), as a scalar. Uses ONNX `SoftmaxCrossEntropyLoss` with mean reduction.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor {
  requireFloat('softmaxCrossEntropy', logits);
  if (labels.dtype !== 'int64') throw new OnnxGraphError(`softmaxCrossEntropy: labels must be int64 class indices, got ${labels.dtype}`);
  if (logits.shape !== null && labels.shape !== null) {
    if (logits.shape.length !== 2 || labels.shape.length !== 1) throw new OnnxShapeError(`softmaxCrossEntropy: expects logits [N, C] and labels [N], got ${formatShape(logits.shape)} and ${formatShape(labels.shape)}`);
    unifyDim(logits.shape[0] as Dim, labels.shape[0] as Dim, 'softmaxCrossEntropy batch');
  }
  return logits.builder.op1('SoftmaxCrossEntropyLoss', [logits, labels], { reduction: attr.string('mean') }, { dtype: logits.dtype, shape: [] }, 'SoftmaxCrossEntropy');
}

/** Mean squared error between `prediction` and `target` (same shape), as a scalar. */
export function mse(prediction: Tensor, target: Tensor): Tensor {
  requireFloat('mse', prediction);
  const d = sub(prediction, target);
  return reduceMean(mul(d, d), undefined, { keepDims: false });
}
