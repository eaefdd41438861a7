import { create } from '@bufbuild/protobuf';
import type { Clock } from '@esper/core';
import {
  CircuitBreakerState,
  CommandOptimizerAdjustmentSchema,
  CommandType,
  HandlingClass,
  HazardBand,
  TelemetryLevel,
  type AdaptationCommand,
  type SystemStatePacket,
} from '@esper/core/leyline';
import type { BlueprintMetadata, Coverage } from '../graph/builder.js';
import { DECISION_ANNOTATIONS } from '../heuristic/commands.js';
import { blueprintRisk, blueprintTierName, handlingClass, hazardBand, presentBsds } from './blueprint.js';
import { RiskBreaker, type RiskBreakerSnapshot } from './breaker.js';
import { DEFAULT_RISK_CONFIG, type RiskConfig } from './config.js';
import { ConservativeMode } from './conservative.js';
import { degradedInputEvents } from './degraded.js';
import type { RiskEvent } from './event.js';
import { pyFixed, pyFloatText } from './format.js';

export type { RiskEvent } from './event.js';

/** What one decision gives the risk engine besides the command (tamiyo §4 steps 3–8). */
export interface RiskInputs {
  /** The decision's packet; rules G–K read its `training_metrics`. */
  readonly packet: SystemStatePacket;
  /** Inference passed the step budget (the command is the timeout PAUSE). */
  readonly timedOut: boolean;
  /** The blueprint metadata lookup passed its budget (`timeout_urza`). */
  readonly blueprintTimedOut: boolean;
  /** This decision's loss delta ({@link LossDeltaTracker}). */
  readonly lossDelta: number;
  /** Metadata of the command's blueprint, when resolved; ignored when `blueprintTimedOut`. */
  readonly blueprint?: BlueprintMetadata | undefined;
  /**
   * The decision's per-key feature coverage. When given, degraded inputs (§4 step 8) are part of
   * the evaluation: their event comes after the rule events and `risk_reason ?= degraded_inputs`
   * (the reference never managed to set it, §17 item 3).
   */
  readonly coverage?: Coverage | Readonly<Record<string, number>> | undefined;
}

/** What {@link RiskEngine.evaluate} reports. */
export interface RiskOutcome {
  /** Events in rule order (§10.2: after `timeout_inference`/`timeout_urza`, which the caller emits). */
  readonly events: readonly RiskEvent[];
  /** The command's final `risk_reason` annotation. */
  readonly reason: string;
  /** Conservative mode after this decision (metric `tamiyo.conservative_mode`). */
  readonly conservative: boolean;
}

/** Both breakers' state (telemetry §10.1 item 14: `tamiyo.breaker.<name>_state` and `_failures`). */
export interface RiskBreakersSnapshot {
  readonly inference: RiskBreakerSnapshot;
  readonly metadata: RiskBreakerSnapshot;
}

/** Constructor arguments of {@link RiskEngine}. */
export interface RiskEngineInit {
  /** Overrides of {@link DEFAULT_RISK_CONFIG}. */
  readonly config?: Partial<RiskConfig> | undefined;
  /** The breakers' monotonic time. */
  readonly clock: Clock;
  /** Start in conservative mode (`TAMIYO_CONSERVATIVE_MODE`); default off. */
  readonly conservative?: boolean | undefined;
}

/** Fixed limits of the rules (reference §9.3); the tunable ones are in {@link RiskConfig}. */
export const RISK_LIMITS = Object.freeze({
  /** A1–A2: policy risk score that pauses (≥) and that downgrades a SEED (≥). */
  policyRiskCritical: 0.98,
  policyRiskElevated: 0.85,
  /**
   * A1–A2: the risk class the score must belong to (classes ordered from least to most risky,
   * 0…4). The score is the winning class's probability, so without this a confident "safe"
   * prediction paused the run (§17 item 4, decision 0059).
   */
  policyRiskCriticalClass: 4,
  policyRiskElevatedClass: 3,
  /** E1–E2: blueprint risk that quarantines (≥) and that downgrades a SEED (≥). */
  blueprintQuarantineRisk: 0.8,
  blueprintElevatedRisk: 0.5,
  /** I2, I3: gradient variance and conflict rate above which a SEED is downgraded. */
  gradVarHigh: 1.0,
  gradConflictHigh: 0.5,
  /** K1, K2: device pressure (util ≥, free memory ≤) and CPU pressure (util ≥). */
  gpuUtilHighPercent: 95,
  gpuMemFreeLowGb: 0.2,
  cpuUtilHighPercent: 95,
});

/** The optimizer a downgraded SEED asks for (reference →OPT). */
const DOWNGRADE_OPTIMIZER = 'sgd';
const SEED = CommandType.COMMAND_SEED;
const PAUSE = CommandType.COMMAND_PAUSE;
const OPTIMIZER = CommandType.COMMAND_OPTIMIZER;
const { INFO, WARNING, CRITICAL } = TelemetryLevel;

// Training-metric keys the rules read, and the name Tolaria uses for the same value (decision 0058).
const METRIC_ALIASES: Readonly<Record<string, readonly string[]>> = { optimizer_lr: ['optimizer_lr', 'lr'] };

/** The engine's state a decision works on. */
interface EngineState {
  readonly config: RiskConfig;
  readonly conservative: ConservativeMode;
  readonly inference: RiskBreaker;
  readonly metadata: RiskBreaker;
}

/** One evaluation: the command being gated, the reason so far and the events, with the rule verbs. */
class Decision {
  /** `risk_reason` so far: starts as the command's own (`no_seed_candidates`, `timeout_inference`, …). */
  reason: string | undefined;
  readonly events: RiskEvent[] = [];
  /** Events that follow every rule event (degraded inputs, §10.2). */
  readonly trailing: RiskEvent[] = [];
  /** A rule asked for conservative mode in this decision (it is then not a stable decision). */
  askedConservative = false;
  /** A rule changed the command type. */
  changedType = false;

  constructor(
    readonly command: AdaptationCommand,
    readonly inputs: RiskInputs,
    readonly state: EngineState,
  ) {
    const own = command.annotations['risk_reason'];
    this.reason = own === undefined || own === '' ? undefined : own;
  }

  /** Whether the command is SEED now (earlier rules may have changed it). */
  get seed(): boolean {
    return this.command.commandType === SEED;
  }

  get annotations(): Record<string, string> {
    return this.command.annotations;
  }

  /** `reason := r`. */
  set(reason: string): void {
    this.reason = reason;
  }

  /** `reason ?= r`. */
  offer(reason: string): void {
    this.reason ??= reason;
  }

  emit(description: string, level: TelemetryLevel, attributes: Record<string, string>): void {
    this.events.push({ description, level, attributes });
  }

  push(event: RiskEvent | undefined): void {
    if (event !== undefined) this.events.push(event);
  }

  /** →PAUSE: the growth loop's WAIT; the payload stays (field reports read its blueprint), the target moves to `seed_id`. */
  pause(): void {
    if (this.command.commandType === PAUSE) return;
    this.command.commandType = PAUSE;
    this.retarget('wait');
  }

  /** →OPT: OPTIMIZER with an `sgd` adjustment (the seed operation is dropped), the target moves to `seed_id`. */
  optimizer(): void {
    const c = this.command;
    if (c.payload.case === 'optimizerAdjustment') c.payload.value.optimizerId = DOWNGRADE_OPTIMIZER;
    else c.payload = { case: 'optimizerAdjustment', value: create(CommandOptimizerAdjustmentSchema, { optimizerId: DOWNGRADE_OPTIMIZER }) };
    if (c.commandType === OPTIMIZER) return;
    c.commandType = OPTIMIZER;
    this.retarget('optimizer');
  }

  /** Asks for conservative mode (`conservative_entered` when it was off). */
  conservative(reason: string): void {
    this.askedConservative = true;
    this.push(this.state.conservative.enter(reason));
  }

  /** A training metric by its reference key (or its alias); present iff the key exists. */
  metric(key: string): number | undefined {
    const metrics = this.inputs.packet.trainingMetrics;
    for (const k of METRIC_ALIASES[key] ?? [key]) {
      if (Object.hasOwn(metrics, k)) return metrics[k];
    }
    return undefined;
  }

  /** A metric that is present, non-zero and above `limit` (§3 presence rule). */
  above(key: string, limit: number): number | undefined {
    const v = this.metric(key);
    return v !== undefined && v !== 0 && v > limit ? v : undefined;
  }

  private retarget(decision: string): void {
    const c = this.command;
    this.changedType = true;
    // Kasmina applies only an untargeted PAUSE (WAIT); a gated seed is named in the annotation instead.
    if (c.targetSeedId !== '') {
      c.annotations[DECISION_ANNOTATIONS.seedId] ??= c.targetSeedId;
      c.targetSeedId = '';
    }
    c.annotations[DECISION_ANNOTATIONS.decision] = decision;
  }
}

type Rule = (d: Decision) => void;

/** A0–A2: the policy's own risk head: confidence `policy_risk_score` in risk class `policy_risk_index`. */
const policyRisk: Rule = (d) => {
  const raw = d.annotations['policy_risk_score'];
  if (raw === undefined || raw.trim() === '') return;
  const s = Number(raw);
  if (!Number.isFinite(s)) return;
  const score = pyFixed(s, 3);
  const index = d.annotations['policy_risk_index'] || '0';
  d.emit('policy_risk_signal', INFO, { score, index });
  const riskClass = Number(index);
  if (riskClass >= RISK_LIMITS.policyRiskCriticalClass && s >= RISK_LIMITS.policyRiskCritical) {
    d.set('policy_risk_critical');
    d.pause();
    d.emit('policy_risk_critical', CRITICAL, { score });
    d.conservative('policy_risk_critical');
  } else if (riskClass >= RISK_LIMITS.policyRiskElevatedClass && s >= RISK_LIMITS.policyRiskElevated && d.seed) {
    d.offer('policy_risk_elevated');
    d.optimizer();
    d.emit('policy_risk_elevated', WARNING, { score });
  }
};

/** B: conservative mode pauses every decision that did not time out. */
const conservativePause: Rule = (d) => {
  if (!d.state.conservative.active || d.inputs.timedOut) return;
  d.offer('conservative_mode');
  d.pause();
  d.emit('pause_triggered', WARNING, { reason: 'conservative_mode' });
};

/** C, C′: the inference breaker; a timeout also asks for conservative mode. */
const inferenceBreaker: Rule = (d) => {
  if (!d.inputs.timedOut) {
    d.push(d.state.inference.success());
    return;
  }
  d.push(d.state.inference.failure('timeout_inference'));
  d.conservative('timeout_inference');
  d.offer('timeout_inference');
};

/** D, D′: the metadata breaker. */
const metadataBreaker: Rule = (d) => {
  if (!d.inputs.blueprintTimedOut) {
    d.push(d.state.metadata.success());
    return;
  }
  d.push(d.state.metadata.failure('timeout_urza'));
  d.offer('timeout_urza');
};

/** E0–E6: blueprint risk, quarantine and the BSDS-lite hazards. */
const blueprintRules: Rule = (d) => {
  const meta = d.inputs.blueprintTimedOut ? undefined : d.inputs.blueprint;
  if (meta === undefined) return;
  const a = d.annotations;
  const risk = blueprintRisk(meta);
  const tier = blueprintTierName(meta);
  a['blueprint_tier'] ??= tier;
  a['blueprint_stage'] ??= String(meta.stage ?? 0);
  a['blueprint_risk'] ??= pyFixed(risk, 2);
  if (meta.quarantine_only === true || risk >= RISK_LIMITS.blueprintQuarantineRisk) {
    d.set('bp_quarantine');
    d.pause();
    d.emit('bp_quarantine', CRITICAL, { tier });
    d.conservative('bp_quarantine');
  } else if (risk >= RISK_LIMITS.blueprintElevatedRisk && d.seed) {
    d.offer('blueprint_risk');
    d.optimizer();
    d.emit('blueprint_risk', WARNING, { risk: pyFixed(risk, 2) });
  }

  const bsds = presentBsds(meta);
  if (bsds === undefined) return;
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const hazard = text(bsds.hazard_band);
  const handling = text(bsds.handling_class);
  const provenance = text(bsds.provenance) ?? '';
  const fields: readonly (readonly [string, string | undefined])[] = [
    ['bsds_hazard_band', hazard],
    ['bsds_handling_class', handling],
    ['bsds_resource_profile', text(bsds.resource_profile)],
    ['bsds_provenance', text(bsds.provenance)],
  ];
  for (const [key, value] of fields) if (value !== undefined) a[key] ??= value;
  const score = typeof bsds.risk_score === 'number' && Number.isFinite(bsds.risk_score) ? bsds.risk_score : undefined;
  if (score !== undefined) a['bsds_risk'] ??= pyFixed(score, 2);
  d.emit('bsds_present', INFO, { hazard: hazard ?? '', ...(score === undefined ? {} : { risk: pyFloatText(score) }), provenance });

  if (handlingClass(handling) === HandlingClass.QUARANTINE) {
    d.set('bsds_handling_quarantine');
    d.pause();
    d.emit('bsds_handling_quarantine', CRITICAL, { handling: handling ?? '', provenance });
    d.conservative('bsds_handling_quarantine');
  }
  const band = hazardBand(hazard);
  if (band === HazardBand.CRITICAL) {
    d.set('bsds_hazard_critical');
    d.pause();
    d.emit('bsds_hazard_critical', CRITICAL, { hazard: hazard ?? '', provenance });
    d.conservative('bsds_hazard_critical');
  } else if (band === HazardBand.HIGH) {
    if (d.seed) {
      d.offer('bsds_hazard_high');
      d.optimizer();
    }
    d.emit('bsds_hazard_high', WARNING, { hazard: hazard ?? '', provenance });
  }
};

/** F1–F2: loss spike and loss warning (not after a timeout). */
const lossRules: Rule = (d) => {
  const { timedOut, lossDelta } = d.inputs;
  if (timedOut) return;
  const max = d.state.config.maxLossSpike;
  if (lossDelta > max) {
    d.set('loss_spike');
    d.pause();
    d.emit('loss_spike', WARNING, { delta: pyFixed(lossDelta, 3) });
    d.conservative('loss_spike');
  } else if (lossDelta > 0.5 * max && d.seed) {
    d.offer('loss_warning');
    d.optimizer();
    d.emit('loss_warning', WARNING, { delta: pyFixed(lossDelta, 3) });
  }
};

/** G1–G4: hook, step and Kasmina latencies (the timeout command included). */
const latencyRules: Rule = (d) => {
  const c = d.state.config;
  const hook = d.above('hook_latency_ms', c.hookBudgetMs);
  if (hook !== undefined) {
    d.set('hook_budget');
    d.pause();
    d.emit('hook_budget', WARNING, { latency_ms: pyFixed(hook, 2) });
  }
  const step = d.above('step_latency_ms', c.stepLatencyHighMs);
  if (step !== undefined) {
    d.set('step_latency_high');
    d.pause();
    d.emit('step_latency_high', WARNING, { latency_ms: pyFixed(step, 2) });
  }
  for (const [key, limit, name] of [
    ['kasmina.apply_ms', c.kasminaApplySlowMs, 'kasmina_apply_slow'],
    ['kasmina.finalize_ms', c.kasminaFinalizeSlowMs, 'kasmina_finalize_slow'],
  ] as const) {
    const ms = d.above(key, limit);
    if (ms === undefined) continue;
    if (d.seed) {
      d.set(name);
      d.optimizer();
    }
    d.emit(name, WARNING, { latency_ms: pyFixed(ms, 2) });
  }
};

/** H: isolation violations reported by Kasmina. */
const isolationRule: Rule = (d) => {
  const violations = d.above('kasmina.isolation.violations', 0);
  if (violations === undefined) return;
  d.offer('isolation_violation');
  d.pause();
  d.emit('isolation_violations', WARNING, { violations: String(Math.trunc(violations)) });
};

/** I1–I3: loss volatility, gradient variance and gradient conflict. */
const trainingSignalRules: Rule = (d) => {
  const volatility = d.above('loss_volatility', 0.75 * d.state.config.maxLossSpike);
  if (volatility !== undefined) {
    if (d.seed) {
      d.offer('loss_volatility_high');
      d.optimizer();
    }
    d.emit('loss_volatility_high', WARNING, { volatility: pyFixed(volatility, 3) });
  }
  const gradVar = d.above('grad_var', RISK_LIMITS.gradVarHigh);
  if (gradVar !== undefined && d.seed) {
    d.offer('grad_variance_high');
    d.optimizer();
    d.emit('grad_variance_high', WARNING, { var: pyFixed(gradVar, 3) });
  }
  const conflict = d.above('grad_conflict_rate', RISK_LIMITS.gradConflictHigh);
  if (conflict !== undefined && d.seed) {
    d.offer('grad_conflict_high');
    d.optimizer();
    d.emit('grad_conflict_high', WARNING, { rate: pyFixed(conflict, 3) });
  }
};

/** J: a non-positive learning rate while the loss rises. */
const optimizerHintRule: Rule = (d) => {
  const lr = d.metric('optimizer_lr');
  const { lossDelta } = d.inputs;
  if (lr === undefined || !(lr <= 0) || !(lossDelta > 0.5 * d.state.config.maxLossSpike)) return;
  if (d.seed) {
    d.set('optimizer_hint');
    d.optimizer();
  }
  d.emit('optimizer_hint', WARNING, { lr: pyFixed(lr, 6), loss_delta: pyFixed(lossDelta, 3) });
};

/** K1–K2: device pressure pauses a SEED; CPU pressure downgrades it to a well-formed OPTIMIZER (§17 item 8). */
const pressureRules: Rule = (d) => {
  const gpu = d.metric('gpu_util_percent');
  const free = d.metric('gpu_mem_free_gb');
  if (gpu !== undefined && gpu !== 0 && gpu >= RISK_LIMITS.gpuUtilHighPercent && free !== undefined && free <= RISK_LIMITS.gpuMemFreeLowGb) {
    if (d.seed) {
      d.offer('device_pressure_high');
      d.pause();
    }
    d.emit('device_pressure_high', WARNING, { gpu_util: pyFixed(gpu, 1), gpu_mem_free_gb: pyFixed(free, 2) });
    return;
  }
  const cpu = d.metric('cpu_util_percent');
  if (cpu !== undefined && cpu !== 0 && cpu >= RISK_LIMITS.cpuUtilHighPercent && d.seed) {
    d.offer('cpu_pressure_high');
    d.optimizer();
    d.emit('cpu_pressure_high', WARNING, { cpu_util: pyFixed(cpu, 1) });
  }
};

/** §4 step 8 inside the engine: degraded inputs label the decision when nothing stronger did. */
const degradedRule: Rule = (d) => {
  if (d.inputs.coverage === undefined) return;
  const events = degradedInputEvents(d.inputs.coverage);
  if (events.length === 0) return;
  d.offer('degraded_inputs');
  d.trailing.push(...events);
};

/** L: a PAUSE in conservative mode without a reason is the mode's. */
const conservativeReason: Rule = (d) => {
  if (d.reason === undefined && d.command.commandType === PAUSE && d.state.conservative.active) d.set('conservative_mode');
};

/** M: a stable decision counts towards leaving conservative mode (decision 0059). */
const settleConservative: Rule = (d) => {
  const { inference, metadata, conservative } = d.state;
  const closed = inference.state === CircuitBreakerState.CIRCUIT_STATE_CLOSED && metadata.state === CircuitBreakerState.CIRCUIT_STATE_CLOSED;
  const stable = !d.inputs.timedOut && !d.inputs.blueprintTimedOut && closed && !d.askedConservative;
  d.push(conservative.settle(stable));
};

/** N: the reason goes on the command (`policy` when there is none). */
const writeReason: Rule = (d) => {
  const a = d.annotations;
  if (d.reason !== undefined) a['risk_reason'] = d.reason;
  else if (a['risk_reason'] === undefined || a['risk_reason'] === '') a['risk_reason'] = 'policy';
  // A gated decision's growth-loop `reason` is the gate's.
  if (d.changedType) a[DECISION_ANNOTATIONS.reason] = a['risk_reason'];
};

/** The rules in evaluation order (reference §9.3; degraded inputs between K and L). */
const RULES: readonly Rule[] = [
  policyRisk,
  conservativePause,
  inferenceBreaker,
  metadataBreaker,
  blueprintRules,
  lossRules,
  latencyRules,
  isolationRule,
  trainingSignalRules,
  optimizerHintRule,
  pressureRules,
  degradedRule,
  conservativeReason,
  settleConservative,
  writeReason,
];

/**
 * Tamiyo's risk engine (reference tamiyo §9, decision 0059): after the policy (or the timeout
 * PAUSE) has produced a command, the ordered rules A0…N pause it, downgrade a SEED to an
 * OPTIMIZER adjustment, or let it pass, set its `risk_reason`, feed the inference and metadata
 * breakers, and enter or leave conservative mode. Pure apart from its own state (two breakers,
 * conservative mode) and the injected clock; one engine per decision stream, called once per
 * decision, before signing.
 *
 * Differences from the reference: conservative mode has hysteresis
 * ({@link RiskConfig.conservativeExitAfter}); a gated command is an untargeted WAIT/OPTIMIZER
 * with the seed in `seed_id`; CPU pressure yields a well-formed OPTIMIZER; a BSDS block without
 * `risk_score` keeps the descriptor's risk; degraded inputs can label the decision.
 */
export class RiskEngine {
  /** The thresholds in force. */
  readonly config: RiskConfig;
  private readonly state: EngineState;

  constructor(init: RiskEngineInit) {
    const merged = { ...DEFAULT_RISK_CONFIG, ...stripUndefined(init.config ?? {}) };
    this.config = Object.freeze({
      ...merged,
      conservativeExitAfter: Math.max(1, Math.floor(merged.conservativeExitAfter)),
      breakerFailureThreshold: Math.max(1, Math.floor(merged.breakerFailureThreshold)),
      breakerCooldownMs: Math.max(0, merged.breakerCooldownMs),
    });
    const now = () => init.clock.monotonicMs();
    const limits = { failureThreshold: this.config.breakerFailureThreshold, cooldownMs: this.config.breakerCooldownMs };
    this.state = {
      config: this.config,
      conservative: new ConservativeMode(init.conservative ?? false, this.config.conservativeExitAfter),
      inference: new RiskBreaker('inference', now, limits),
      metadata: new RiskBreaker('metadata', now, limits),
    };
  }

  /**
   * Gates `command` in place (command type, payload, target, annotations `risk_reason`,
   * `blueprint_*`, `bsds_*`, `decision`, `reason`, `seed_id`) by the rules A0…N and returns the
   * events in rule order. Call it before signing: the signature must cover the changes.
   */
  evaluate(command: AdaptationCommand, inputs: RiskInputs): RiskOutcome {
    const d = new Decision(command, inputs, this.state);
    for (const rule of RULES) rule(d);
    return { events: [...d.events, ...d.trailing], reason: command.annotations['risk_reason'] ?? 'policy', conservative: this.conservative };
  }

  /** Whether conservative mode is on. */
  get conservative(): boolean {
    return this.state.conservative.active;
  }

  /** Stable decisions counted towards leaving conservative mode (0 while off). */
  get stableDecisions(): number {
    return this.state.conservative.stableStreak;
  }

  /** Turns conservative mode on or off directly (no event), restarting the exit count. */
  setConservative(on: boolean): void {
    this.state.conservative.set(on);
  }

  /** State and failure count of both breakers (states as Leyline numbers: CLOSED 1, OPEN 2). */
  breakerSnapshot(): RiskBreakersSnapshot {
    return { inference: this.state.inference.snapshot(), metadata: this.state.metadata.snapshot() };
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
