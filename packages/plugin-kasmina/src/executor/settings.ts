import { DEFAULT_CONFIDENCE_GATE, type ConfidenceGateParameters } from '../blending/modes.js';
import type { AlphaRamp } from '../blending/schedule.js';

/** What the executor's growth behaviour depends on (the plugin fills it from the `kasmina` config section). */
export interface ExecutorSettings {
  /** α goes from 0 to 1 over this many optimizer steps of BLENDING (0: α is 1 at once). */
  readonly blendingOptimizerSteps: number;
  /** Shape of the α ramp. */
  readonly alphaRamp: AlphaRamp;
  /** τ / T of the sigmoid ramp (the reference's 2 / 20). */
  readonly sigmoidTemperatureRatio: number;
  /** Epoch boundaries a culled seed stays EMBARGOED before RESETTING → DORMANT frees its slot. */
  readonly embargoEpochs: number;
  /** G2: largest accepted time to build and splice a seed's kernel, ms. */
  readonly latencyBudgetMs: number;
  /** G4: largest accepted training loss relative to the loss when the seed entered BLENDING. */
  readonly maxLossRatio: number;
  /** Values a CONFIDENCE blend takes for `gate_k`, `gate_tau`, `alpha_lo`, `alpha_hi` a command leaves out or sends unreadable. */
  readonly confidenceGate: ConfidenceGateParameters;
}

/** Defaults of {@link ExecutorSettings} (the same as the plugin's config defaults). */
export const DEFAULT_EXECUTOR_SETTINGS: ExecutorSettings = Object.freeze({
  blendingOptimizerSteps: 200,
  alphaRamp: 'linear',
  sigmoidTemperatureRatio: 0.1,
  embargoEpochs: 2,
  latencyBudgetMs: 10,
  maxLossRatio: 1.5,
  confidenceGate: DEFAULT_CONFIDENCE_GATE,
});
