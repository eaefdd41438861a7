import { gradientGate, type Tensor } from '@esper/onnx';

/** The control inputs of one seed inside its subgraph (float32 scalars). */
export interface BlendControls {
  readonly alpha: Tensor;
  readonly st: Tensor;
  readonly inGate: Tensor;
  readonly hostGate: Tensor;
}

/**
 * What the seed reads: the slot value `h` with its gradient scaled by `in_gate` (0 in TRAINING,
 * so nothing the seed learns flows back into the host).
 */
export function seedInput(h: Tensor, controls: BlendControls): Tensor {
  return gradientGate(h, controls.inGate);
}

/**
 * Adds the blend of host value `h` and seed output `s` (same shape) to their builder:
 * `(1−α)·gate(h, host_gate) + α·s + st·(s − sg(s))`.
 *
 * `s − sg(s)` is exactly 0 forward (for finite `s`) and passes the gradient to `s` backward, so
 * with α = 0, st = 1 the forward value is bit-for-bit `h` while the seed learns as if its output
 * were used (straight-through). `sg` is a gradient gate fixed at 0.
 */
export function blend(h: Tensor, s: Tensor, controls: BlendControls): Tensor {
  const b = h.builder;
  const hostTerm = b.scalar(1).sub(controls.alpha).mul(gradientGate(h, controls.hostGate));
  const seedTerm = controls.alpha.mul(s);
  const straightThrough = controls.st.mul(s.sub(gradientGate(s, b.scalar(0))));
  return hostTerm.add(seedTerm).add(straightThrough);
}
