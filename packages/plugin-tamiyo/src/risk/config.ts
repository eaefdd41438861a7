import { tamiyoConfigSchema, type TamiyoConfig } from '../config.js';

/**
 * Thresholds and hysteresis of the risk engine (reference tamiyo §2.3, §9.1). Built from the
 * `tamiyo.risk` and `tamiyo.breaker` settings by {@link riskConfigFrom}; conservative mode
 * itself is runtime state of the engine, not part of this.
 */
export interface RiskConfig {
  /** Loss increase per decision that is a spike (F1); ½ of it warns (F2, J), ¾ is the volatility limit (I1). */
  readonly maxLossSpike: number;
  /** `step_latency_ms` above which the decision is PAUSE (G2), ms. */
  readonly stepLatencyHighMs: number;
  /** `kasmina.apply_ms` above which SEED becomes OPTIMIZER (G3), ms. */
  readonly kasminaApplySlowMs: number;
  /** `kasmina.finalize_ms` above which SEED becomes OPTIMIZER (G4), ms. */
  readonly kasminaFinalizeSlowMs: number;
  /** `hook_latency_ms` above which the decision is PAUSE (G1), ms. */
  readonly hookBudgetMs: number;
  /** Consecutive stable decisions after which conservative mode is left (rule M, decision 0059); ≥ 1. */
  readonly conservativeExitAfter: number;
  /** Failures that open the inference or metadata breaker; each success takes one off; ≥ 1. */
  readonly breakerFailureThreshold: number;
  /** Time an open breaker stays open before a success may close it, ms. */
  readonly breakerCooldownMs: number;
}

/** The risk engine's part of Tamiyo's settings, as a {@link RiskConfig}. */
export function riskConfigFrom(settings: Pick<TamiyoConfig, 'risk' | 'breaker'>): RiskConfig {
  const { risk, breaker } = settings;
  return {
    maxLossSpike: risk.maxLossSpike,
    stepLatencyHighMs: risk.stepLatencyHighMs,
    kasminaApplySlowMs: risk.kasminaApplySlowMs,
    kasminaFinalizeSlowMs: risk.kasminaFinalizeSlowMs,
    hookBudgetMs: risk.hookBudgetMs,
    conservativeExitAfter: risk.conservativeExitAfter,
    breakerFailureThreshold: breaker.failureThreshold,
    breakerCooldownMs: breaker.cooldownMs,
  };
}

/** The defaults of the settings schema (reference §2.3 and §9.1, plus the exit rule of decision 0059). */
export const DEFAULT_RISK_CONFIG: RiskConfig = Object.freeze(riskConfigFrom(tamiyoConfigSchema.parse({})));
