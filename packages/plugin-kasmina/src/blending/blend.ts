import { broadcastShapes, cast, gradientGate, where, type Tensor } from '@esper/onnx';

/** The control inputs of one seed inside its subgraph (`alphaVec` a vector of the slot's width, the rest scalars; all of `h`'s dtype). */
export interface BlendControls {
  readonly alpha: Tensor;
  readonly st: Tensor;
  readonly inGate: Tensor;
  readonly hostGate: Tensor;
  readonly alphaVec: Tensor;
  readonly residual: Tensor;
  readonly confidence: Tensor;
  readonly gateK: Tensor;
  readonly gateTau: Tensor;
  readonly alphaLo: Tensor;
  readonly alphaHi: Tensor;
}

/**
 * What the seed reads: the slot value `h` with its gradient scaled by `in_gate` (0 in TRAINING,
 * so nothing the seed learns flows back into the host).
 */
export function seedInput(h: Tensor, controls: Pick<BlendControls, 'inGate'>): Tensor {
  return gradientGate(h, controls.inGate);
}

/** `x` forward, no gradient backward (a gradient gate fixed at 0). */
export function stopGradient(x: Tensor): Tensor {
  return gradientGate(x, x.builder.scalar(0, floatType(x)));
}

function floatType(x: Tensor): 'float32' | 'float64' {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TypeError(`blend: "${x.name}" is ${x.dtype}; blends are float32 or float64`);
  return x.dtype;
}

function compare(op: 'Equal' | 'Greater' | 'Less', a: Tensor, b: Tensor): Tensor {
  return a.builder.op1(op, [a, b], {}, { dtype: 'bool', shape: broadcastShapes(a.shape, b.shape, op) }, op);
}

/** `lo` where `x < lo`, `hi` where `x > hi`, else `x` (exact: no arithmetic on `x`). */
export function clampBetween(x: Tensor, lo: Tensor, hi: Tensor): Tensor {
  return where(compare('Less', x, lo), lo, where(compare('Greater', x, hi), hi, x));
}

/**
 * The confidence gate of logits `s` (`[N, K, …]`): `g = sigmoid(k · (top1 − top2 − τ))` with
 * `top1`, `top2` the two largest values along axis 1 (equal when the largest is tied), shaped
 * `[N, 1, …]` to broadcast over axis 1. All ones for `s` of rank < 2 or with K < 2. Gradients
 * flow through it as through any expression; pass {@link stopGradient}`(s)` for the
 * non-trainable gate of the CONFIDENCE blend.
 *
 * Built from ReduceMax/ReduceMin/Where (ops with gradient rules) rather than TopK: the second
 * largest is the largest after the maxima are replaced by the row's minimum.
 */
export function confidenceGate(s: Tensor, k: Tensor, tau: Tensor): Tensor {
  const b = s.builder;
  const dtype = floatType(s);
  const width = s.shape === null ? null : s.shape[1];
  if (s.shape === null || s.shape.length < 2 || (typeof width === 'number' && width < 2)) return b.scalar(1, dtype);
  const top1 = s.max([1], { keepDims: true });
  const isTop = compare('Equal', s, top1);
  const ties = cast(isTop, dtype).sum([1], { keepDims: true });
  const second = where(isTop, s.min([1], { keepDims: true }), s).max([1], { keepDims: true });
  const top2 = where(compare('Greater', ties, b.scalar(1, dtype)), top1, second);
  return top1.sub(top2).sub(tau).mul(k).sigmoid();
}

/**
 * The effective weight of the seed: `w = clamp(α · v · (c·g + 1 − c), lo, hi)`, `g` the
 * confidence gate of `sg(s)` (so `w` carries no gradient into the seed), shaped like `s`.
 */
export function blendWeight(s: Tensor, controls: BlendControls, gate: Tensor): Tensor {
  const one = s.builder.scalar(1, floatType(s));
  const c = controls.confidence;
  const modulation = c.mul(gate).add(one.sub(c));
  return clampBetween(controls.alpha.mul(controls.alphaVec).mul(modulation), controls.alphaLo, controls.alphaHi);
}

/** Options of {@link blend}. */
export interface BlendOptions {
  /**
   * Build the CONFIDENCE gate (and the `lo`/`hi` clamp). Without it the graph computes CONVEX,
   * RESIDUAL and CHANNEL only — `w = α·v`, a vector of the slot's width — and reads
   * `confidence`, `gate_k`, `gate_tau`, `alpha_lo`, `alpha_hi` not at all. Default true.
   */
  readonly confidenceGate?: boolean;
}

/**
 * Adds the blend of host value `h` and seed output `s` (same shape) to their builder:
 *
 *     out = (1 − (1−r)·w) · gate(h, host_gate) + w·s + st·(s − sg(s))
 *
 * with `w` from {@link blendWeight} (or `α·v` without the confidence gate) and `r` the
 * `residual` switch. For CONVEX controls (`v = 1, c = 0, r = 0, lo = 0, hi = 1`) this is
 * `(1−α)·gate(h) + α·s + st·(s − sg(s))`, the same values bit for bit. `s − sg(s)` is exactly 0
 * forward (for finite `s`) and passes the gradient to `s` backward, so with α = 0, st = 1 the
 * forward value is bit-for-bit `h` while the seed learns as if its output were used
 * (straight-through).
 */
export function blend(h: Tensor, s: Tensor, controls: BlendControls, options: BlendOptions = {}): Tensor {
  const frozen = stopGradient(s);
  // Without the gate, α·v is in [0, 1] already (both are), so no clamp: w stays a [features]
  // vector that does not depend on s, and the backward pass has nothing to do for it.
  const w = (options.confidenceGate ?? true) ? blendWeight(s, controls, confidenceGate(frozen, controls.gateK, controls.gateTau)) : controls.alpha.mul(controls.alphaVec);
  return blendWithWeight(h, s, frozen, controls, w);
}

/**
 * {@link blend} with the weight `w` given (tests feed a fixed gate through it to check the
 * gradient that the stop-gradient leaves); `frozen` is `sg(s)`.
 */
export function blendWithWeight(h: Tensor, s: Tensor, frozen: Tensor, controls: BlendControls, w: Tensor): Tensor {
  const one = h.builder.scalar(1, floatType(h));
  const hostWeight = one.sub(one.sub(controls.residual).mul(w));
  const hostTerm = hostWeight.mul(gradientGate(h, controls.hostGate));
  const straightThrough = controls.st.mul(s.sub(frozen));
  return hostTerm.add(w.mul(s)).add(straightThrough);
}
