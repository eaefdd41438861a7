import type { TolariaLrPolicy } from '../config.js';

/** The learning-rate schedule of reference tolaria §3.7, as data. */
export interface LrSchedule {
  /** `off` and `constant` keep the base rate. */
  readonly policy: TolariaLrPolicy;
  /** Rate of the optimizer (and of `constant`). */
  readonly base: number;
  /** Linear warm-up steps (0: none). */
  readonly warmupSteps: number;
  /** Cosine `t_max`, in steps. */
  readonly cosineTMaxSteps: number;
  /** Step schedule: epochs per decay and the factor. */
  readonly stepSizeEpochs: number;
  readonly stepGamma: number;
}

/**
 * The learning rate of the optimizer step that follows `stepsTaken` steps, in epoch `epoch`:
 * during warm-up `base · max(0.1, (s+1)/warmup)`, then the policy at `s − warmup` —
 * `cosine`: `base · ½(1 + cos(π·min(s, t_max)/t_max))`; `step`: `base · γ^⌊epoch/step_size⌋`;
 * `constant`/`off`: `base`. (The reference applies the rate computed after step s to step s+1;
 * this is the same sequence, with step 1 at the rate of `s = 0`.)
 */
export function learningRateAt(schedule: LrSchedule, stepsTaken: number, epoch: number): number {
  const { base, warmupSteps } = schedule;
  if (warmupSteps > 0 && stepsTaken < warmupSteps) return base * Math.max(0.1, (stepsTaken + 1) / warmupSteps);
  const s = stepsTaken - warmupSteps;
  switch (schedule.policy) {
    case 'cosine': {
      const t = Math.min(Math.max(s, 0), schedule.cosineTMaxSteps);
      return base * 0.5 * (1 + Math.cos((Math.PI * t) / schedule.cosineTMaxSteps));
    }
    case 'step':
      return base * schedule.stepGamma ** Math.floor(epoch / schedule.stepSizeEpochs);
    case 'constant':
    case 'off':
      return base;
  }
}
