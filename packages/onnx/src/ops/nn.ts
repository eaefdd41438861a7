import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { AttributeValue, Dim, Shape } from '../ir/graph.js';
import { formatShape, normAxis, unifyDim } from '../ir/shape.js';
import { tensor } from '../ir/tensor-data.js';
import type { Tensor } from '../ir/tensor.js';
import { requireFloat, sameDType } from './util.js';

/** Layer normalization over the axes from `axis` (default last) to the end. */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor | null = null, options: { axis?: number; epsilon?: number } = {}): Tensor {
  requireFloat('LayerNormalization', x);
  sameDType('LayerNormalization', x, scale);
  const axis = options.axis ?? -1;
  if (x.shape !== null && scale.shape !== null) {
    const a = normAxis(axis, x.shape.length, 'layerNorm');
    const norm = x.shape.slice(a);
    if (norm.length !== scale.shape.length) throw new OnnxShapeError(`layerNorm: scale ${formatShape(scale.shape)} must match normalized dims ${formatShape(norm)}`);
    norm.forEach((d, i) => unifyDim(d, (scale.shape as Shape)[i] as Dim, 'layerNorm scale'));
  }
  const attributes: Record<string, AttributeValue> = { axis: attr.int(axis), epsilon: attr.float(options.epsilon ?? 1e-5) };
  return x.builder.op1('LayerNormalization', bias === null ? [x, scale] : [x, scale, bias], attributes, { dtype: x.dtype, shape: x.shape });
}

/** Result of {@link dropout}: the output and the keep mask (true where kept). */
export interface DropoutResult {
  readonly output: Tensor;
  readonly mask: Tensor;
}

/**
 * Dropout with probability `ratio`. `training` is a constant flag or a bool scalar graph input
 * (so one graph serves training and evaluation). In training, kept values are scaled by
 * `1 / (1 - ratio)`; in evaluation the output is `x` and the mask is all true. `seed` makes the
 * mask reproducible for a given session.
 */
export function dropout(x: Tensor, ratio: number, training: boolean | Tensor, options: { seed?: number } = {}): DropoutResult {
  requireFloat('Dropout', x);
  if (!(ratio >= 0 && ratio < 1)) throw new OnnxGraphError(`dropout: ratio must be in [0, 1), got ${ratio}`);
  const b = x.builder;
  const r = b.constant(x.dtype === 'float32' ? tensor('float32', [], Float32Array.of(ratio)) : tensor('float64', [], Float64Array.of(ratio)), 'ratio');
  let mode: Tensor;
  if (typeof training === 'boolean') mode = b.constant(tensor('bool', [], Uint8Array.of(training ? 1 : 0)), 'training_mode');
  else {
    if (training.dtype !== 'bool') throw new OnnxGraphError(`dropout: training flag must be a bool tensor, got ${training.dtype}`);
    mode = training;
  }
  const attributes: Record<string, AttributeValue> = options.seed === undefined ? {} : { seed: attr.int(options.seed) };
  const [output, mask] = b.op('Dropout', [x, r, mode], attributes, [
    { dtype: x.dtype, shape: x.shape },
    { dtype: 'bool', shape: x.shape },
  ]);
  return { output: output as Tensor, mask: mask as Tensor };
}

/** Spatial options shared by convolution and pooling (2-D: two entries each). */
export interface Spatial2dOptions {
  readonly strides?: readonly [number, number];
  /** `[top, left, bottom, right]`, as ONNX orders them. */
  readonly pads?: readonly [number, number, number, number];
  readonly dilations?: readonly [number, number];
}

function outDim(input: Dim, kernel: Dim, stride: number, padBegin: number, padEnd: number, dilation: number, ceil = false): Dim {
  if (typeof input !== 'number' || typeof kernel !== 'number') return null;
  const span = input + padBegin + padEnd - dilation * (kernel - 1) - 1;
  const out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (out <= 0) throw new OnnxShapeError(`window of ${kernel} (dilation ${dilation}) does not fit input ${input} with pads ${padBegin}/${padEnd}`);
  return out;
}

function spatialAttrs(o: Spatial2dOptions): Record<string, AttributeValue> {
  return {
    ...(o.strides ? { strides: attr.ints(o.strides) } : {}),
    ...(o.pads ? { pads: attr.ints(o.pads) } : {}),
    ...(o.dilations ? { dilations: attr.ints(o.dilations) } : {}),
  };
}

function spatialShape(x: Shape | null, channels: Dim, kernel: readonly [Dim, Dim], o: Spatial2dOptions, what: string, ceil = false): Shape | null {
  if (x === null) return null;
  if (x.length !== 4) throw new OnnxShapeError(`${what}: input must be NCHW (rank 4), got ${formatShape(x)}`);
  const s = o.strides ?? [1, 1];
  const p = o.pads ?? [0, 0, 0, 0];
  const d = o.dilations ?? [1, 1];
  return [
    x[0] as Dim,
    channels,
    outDim(x[2] as Dim, kernel[0], s[0], p[0], p[2], d[0], ceil),
    outDim(x[3] as Dim, kernel[1], s[1], p[1], p[3], d[1], ceil),
  ];
}

/** 2-D convolution of NCHW `x` with OIHW weights `w` and optional bias `b` of size O. */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, options: Spatial2dOptions & { group?: number } = {}): Tensor {
  requireFloat('Conv', x);
  sameDType('Conv', x, w);
  const group = options.group ?? 1;
  let shape: Shape | null = null;
  if (w.shape !== null) {
    if (w.shape.length !== 4) throw new OnnxShapeError(`conv2d: weights must be OIHW (rank 4), got ${formatShape(w.shape)}`);
    if (x.shape !== null && x.shape.length === 4 && typeof x.shape[1] === 'number' && typeof w.shape[1] === 'number' && x.shape[1] !== w.shape[1] * group) {
      throw new OnnxShapeError(`conv2d: input has ${x.shape[1]} channels but weights expect ${w.shape[1]} x group ${group}`);
    }
    shape = spatialShape(x.shape, w.shape[0] as Dim, [w.shape[2] as Dim, w.shape[3] as Dim], options, 'conv2d');
  }
  const attributes = { ...spatialAttrs(options), ...(group !== 1 ? { group: attr.int(group) } : {}) };
  return x.builder.op1('Conv', b === null ? [x, w] : [x, w, b], attributes, { dtype: x.dtype, shape });
}

/** Options of the 2-D pools. */
export interface Pool2dOptions extends Spatial2dOptions {
  readonly kernelShape: readonly [number, number];
  /** Round output sizes up instead of down (default false). */
  readonly ceilMode?: boolean;
}

/** 2-D max pooling of NCHW `x`. */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const shape = spatialShape(x.shape, x.shape?.[1] ?? null, options.kernelShape, options, 'maxPool2d', options.ceilMode);
  const attributes = { kernel_shape: attr.ints(options.kernelShape), ...spatialAttrs(options), ...(options.ceilMode ? { ceil_mode: attr.int(1) } : {}) };
  return x.builder.op1('MaxPool', [x], attributes, { dtype: x.dtype, shape });
}

/** 2-D average pooling of NCHW `x`; padding is excluded from the average unless `countIncludePad`. */
export function averagePool2d(x: Tensor, options: Pool2dOptions & { countIncludePad?: boolean }): Tensor {
  const shape = spatialShape(x.shape, x.shape?.[1] ?? null, options.kernelShape, options, 'averagePool2d', options.ceilMode);
  const attributes = {
    kernel_shape: attr.ints(options.kernelShape),
    ...spatialAttrs(options),
    ...(options.ceilMode ? { ceil_mode: attr.int(1) } : {}),
    ...(options.countIncludePad ? { count_include_pad: attr.int(1) } : {}),
  };
  return x.builder.op1('AveragePool', [x], attributes, { dtype: x.dtype, shape });
}

/** Mean over all spatial positions: NCHW → NC11. */
export function globalAveragePool(x: Tensor): Tensor {
  const shape = x.shape === null ? null : [x.shape[0] as Dim, (x.shape[1] ?? null) as Dim, ...x.shape.slice(2).map(() => 1)];
  return x.builder.op1('GlobalAveragePool', [x], {}, { dtype: x.dtype, shape });
}
