import type { Tensor } from '../ir/tensor.js';
import { add, div, mul, sqrt, sub } from '../ops/math.js';
import { cast } from '../ops/layout.js';
import { scalarLike } from '../autodiff/helpers.js';

/** SGD with optional momentum (PyTorch semantics, no dampening) and L2 weight decay. */
export interface SgdSpec {
  readonly kind: 'sgd';
  readonly momentum?: number;
  readonly nesterov?: boolean;
  /** L2 penalty added to the gradient (`g + weightDecay·p`). */
  readonly weightDecay?: number;
}

/** Adam (Kingma & Ba) with bias correction; `weightDecay` is an L2 penalty on the gradient. */
export interface AdamSpec {
  readonly kind: 'adam';
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  readonly weightDecay?: number;
}

/** AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient. */
export interface AdamWSpec {
  readonly kind: 'adamw';
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** Decoupled decay: `p ← p − lr·(update + weightDecay·p)` (default 0.01, as in PyTorch). */
  readonly weightDecay?: number;
}

/** An optimizer the training graph can inline. */
export type OptimizerSpec = SgdSpec | AdamSpec | AdamWSpec;

/** Names of the optimizer state slots per parameter. */
export function stateSlots(spec: OptimizerSpec): string[] {
  if (spec.kind === 'sgd') return (spec.momentum ?? 0) > 0 ? ['momentum'] : [];
  return ['m', 'v'];
}

/**
 * Shared per-step scalars, built once per graph so that each parameter's update costs only
 * full-tensor passes that cannot be avoided.
 */
export interface StepScalars {
  readonly lr: Tensor;
  /** Adam family: the step size applied to the scaled first moment (see {@link stepScalars}). */
  readonly stepSize?: Tensor;
  /** Adam family: epsilon in the units of the scaled second moment's square root. */
  readonly epsHat?: Tensor;
}

/**
 * Builds the step scalars from the `lr` and `step` inputs.
 *
 * The Adam family keeps its moments scaled: the state slot `m` holds `M = m/(1−β1)` and `v`
 * holds `V = v/(1−β2)`, where `m` and `v` are PyTorch's `exp_avg` and `exp_avg_sq`. Then
 * `M ← β1·M + g` and `V ← β2·V + g²` are two passes each instead of three and four, and with
 * `c1 = 1−β1^t`, `c2 = 1−β2^t`, Adam's `p − lr·(m/c1)/(√(v/c2) + ε)` equals
 * `p − s·M/(√V + ε̂)` with `s = lr·(1−β1)·√c2 / (c1·√(1−β2))` and `ε̂ = ε·√c2/√(1−β2)` exactly in
 * real arithmetic — five passes, with every bias correction folded into two scalars.
 *
 * The constants are PyTorch's as it applies them to float32 tensors: the moments decay by
 * `fround(β)` (a float32 scalar in the kernel), the weights `1−β` are `fround(1−β)`, and the
 * bias corrections `1−β^t` use β in float64 (PyTorch computes them in Python floats), so they
 * are computed here in float64 from the step number and cast once. Mixing a float32 β² in the
 * bias correction with a float64 `√(1−β2)` made every step 6.4e-6 (relative) too small.
 */
export function stepScalars(spec: OptimizerSpec, lr: Tensor, step: Tensor): StepScalars {
  if (spec.kind === 'sgd') return { lr };
  const b1 = spec.beta1 ?? 0.9;
  const b2 = spec.beta2 ?? 0.999;
  const eps = spec.epsilon ?? 1e-8;
  const w1 = Math.fround(1 - b1);
  const w2 = Math.fround(1 - b2);
  const t = cast(step, 'float64');
  const pow = (base: number) => lr.builder.op1('Pow', [scalarLike(t, base), t], {}, { dtype: 'float64', shape: [] }, 'Pow');
  const bias1 = sub(scalarLike(t, 1), pow(b1));
  const sqrtBias2 = sqrt(sub(scalarLike(t, 1), pow(b2)));
  const stepFactor = cast(div(mul(sqrtBias2, w1 / Math.sqrt(w2)), bias1), 'float32');
  return { lr, stepSize: mul(lr, stepFactor), epsHat: cast(mul(sqrtBias2, eps / Math.sqrt(w2)), 'float32') };
}

/**
 * One parameter's update: returns the new parameter and new state tensors (in
 * {@link stateSlots} order). `gradSquared`, when given, is `grad²` already computed (for the
 * gradient norms); the Adam family reuses it instead of squaring again.
 */
export function applyUpdate(
  spec: OptimizerSpec,
  p: Tensor,
  grad: Tensor,
  state: readonly Tensor[],
  s: StepScalars,
  gradSquared?: Tensor,
): { param: Tensor; state: Tensor[] } {
  let g = grad;
  switch (spec.kind) {
    case 'sgd': {
      const wd = spec.weightDecay ?? 0;
      if (wd !== 0) g = add(g, mul(p, wd));
      const mu = spec.momentum ?? 0;
      if (mu === 0) return { param: sub(p, mul(g, s.lr)), state: [] };
      const buf = add(mul(state[0] as Tensor, mu), g);
      const update = spec.nesterov ? add(g, mul(buf, mu)) : buf;
      return { param: sub(p, mul(update, s.lr)), state: [buf] };
    }
    case 'adam':
    case 'adamw': {
      const b1 = spec.beta1 ?? 0.9;
      const b2 = spec.beta2 ?? 0.999;
      const wd = spec.weightDecay ?? (spec.kind === 'adamw' ? 0.01 : 0);
      const coupled = spec.kind === 'adam' && wd !== 0;
      if (coupled) g = add(g, mul(p, wd));
      // Scaled moments (see stepScalars): M ← β1·M + g, V ← β2·V + g².
      const m = add(mul(state[0] as Tensor, b1), g);
      const v = add(mul(state[1] as Tensor, b2), gradSquared !== undefined && !coupled ? gradSquared : mul(g, g));
      const update = mul(div(m, add(sqrt(v), s.epsHat as Tensor)), s.stepSize as Tensor);
      // Decoupled decay as PyTorch's AdamW applies it: p·(1 − lr·wd) before the Adam step.
      const decayed = spec.kind === 'adamw' && wd !== 0 ? mul(p, sub(scalarLike(s.lr, 1), mul(s.lr, wd))) : p;
      return { param: sub(decayed, update), state: [m, v] };
    }
  }
}
