/**
 * How α moves from 0 to 1 while a seed is BLENDING: `linear` (α = t / T) or `sigmoid`, the
 * reference's logistic curve `σ((t − T/2) / τ)` (kasmina §9.1) rescaled so that it starts at
 * exactly 0 and reaches exactly 1 at `T` (the reference's never reached 1, so a seed could never
 * be STABILIZEd). `t` and `T` count optimizer steps.
 */
export type AlphaRamp = 'linear' | 'sigmoid';

/** Shape of the α ramp. */
export interface AlphaScheduleSpec {
  /** T: optimizer steps of BLENDING after which α is 1. 0 makes α 1 at once. */
  readonly blendingOptimizerSteps: number;
  readonly alphaRamp: AlphaRamp;
  /**
   * τ / T for the sigmoid ramp (the reference's 2 / 20 = 0.1): smaller is steeper. Ignored by
   * the linear ramp.
   */
  readonly sigmoidTemperatureRatio: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * α after `steps` optimizer steps of BLENDING, as a float32 value (it is fed to the graph as
 * float32, so the number reported is the number used). 0 at `steps ≤ 0`, exactly 1 from
 * `steps ≥ T` on, strictly between in the open interval, and non-decreasing in `steps`.
 */
export function alphaAt(steps: number, spec: AlphaScheduleSpec): number {
  const total = spec.blendingOptimizerSteps;
  if (!(total > 0) || steps >= total) return 1;
  if (!(steps > 0)) return 0;
  let value: number;
  if (spec.alphaRamp === 'linear') {
    value = steps / total;
  } else {
    const tau = Math.max(spec.sigmoidTemperatureRatio * total, 1e-6);
    const at = (t: number): number => sigmoid((t - total / 2) / tau);
    const lo = at(0);
    const hi = at(total);
    value = (at(steps) - lo) / (hi - lo);
  }
  // Strictly inside (0, 1) for 0 < steps < T, even where float32 rounding would touch an end.
  const f = Math.fround(value);
  if (f <= 0) return Math.fround(1e-7);
  if (f >= 1) return Math.fround(1 - 2 ** -24);
  return f;
}
