// Tamiyo's risk engine (reference tamiyo §9.3, decision 0059): every rule row through the public
// API, rule order (:= against ?=), the SEED check against the command type of the moment,
// breakers on an injected clock and conservative mode's hysteresis across decisions.
import { create } from '@bufbuild/protobuf';
import { ManualClock, buildTelemetryPacket, priorityForPacket } from '@esper/core';
import {
  AdaptationCommandSchema,
  BlueprintTier,
  CircuitBreakerState,
  CommandSeedOperationSchema,
  CommandType,
  MessagePriority,
  SeedOperation,
  TelemetryLevel,
  type AdaptationCommand,
} from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { RiskEngine, tamiyoConfigSchema, DEFAULT_RISK_CONFIG, riskConfigFrom, type BlueprintMetadata, type RiskConfig, type RiskInputs, type RiskOutcome } from '../src/index.js';
import { packet } from './packets.js';

const { INFO, WARNING, CRITICAL } = TelemetryLevel;

/** The policy's GERMINATE of `hidden1` with BP001, as decode.ts writes it. */
function seed(annotations: Record<string, string> = {}): AdaptationCommand {
  return create(AdaptationCommandSchema, {
    version: 1,
    commandType: CommandType.COMMAND_SEED,
    targetSeedId: 'hidden1',
    issuedBy: 'tamiyo',
    payload: { case: 'seedOperation', value: create(CommandSeedOperationSchema, { operation: SeedOperation.SEED_OP_GERMINATE, blueprintId: 'BP001', parameters: { alpha: 0.1 } }) },
    annotations: { decision: 'germinate', reason: 'policy', ...annotations },
  });
}

/** The policy's WAIT. */
function wait(annotations: Record<string, string> = {}): AdaptationCommand {
  return create(AdaptationCommandSchema, { version: 1, commandType: CommandType.COMMAND_PAUSE, issuedBy: 'tamiyo', annotations: { decision: 'wait', reason: 'policy', ...annotations } });
}

/** The timeout command of §4 step 3. */
function timeout(): AdaptationCommand {
  return wait({ policy_action: 'timeout', policy_param_delta: '0.0', risk_reason: 'timeout_inference', coverage_types: '{}' });
}

interface Case {
  readonly metrics?: Record<string, number>;
  readonly timedOut?: boolean;
  readonly blueprintTimedOut?: boolean;
  readonly lossDelta?: number;
  readonly blueprint?: BlueprintMetadata;
  readonly coverage?: RiskInputs['coverage'];
}

function inputs(c: Case = {}): RiskInputs {
  const p = packet({ epoch: 3, acc: 90 });
  Object.assign(p.trainingMetrics, c.metrics ?? {});
  return {
    packet: p,
    timedOut: c.timedOut ?? false,
    blueprintTimedOut: c.blueprintTimedOut ?? false,
    lossDelta: c.lossDelta ?? 0,
    ...(c.blueprint ? { blueprint: c.blueprint } : {}),
    ...(c.coverage ? { coverage: c.coverage } : {}),
  };
}

function engine(config: Partial<RiskConfig> = {}, conservative = false) {
  const clock = new ManualClock();
  return { clock, risk: new RiskEngine({ config, clock, conservative }) };
}

/** Evaluates one command on a fresh engine. */
function gate(command: AdaptationCommand, c: Case = {}, config: Partial<RiskConfig> = {}): RiskOutcome {
  return engine(config).risk.evaluate(command, inputs(c));
}

const names = (o: RiskOutcome) => o.events.map((e) => e.description);
const event = (o: RiskOutcome, description: string) => o.events.find((e) => e.description === description);
const type = (c: AdaptationCommand) => CommandType[c.commandType];

describe('rules A: the policy risk score', () => {
  test('A0: a finite policy_risk_score is an INFO signal with the score and index', () => {
    const o = gate(seed({ policy_risk_score: '0.500000', policy_risk_index: '2' }));
    expect(event(o, 'policy_risk_signal')).toEqual({ description: 'policy_risk_signal', level: INFO, attributes: { score: '0.500', index: '2' } });
    expect(event(gate(seed({ policy_risk_score: '0.5' })), 'policy_risk_signal')?.attributes.index).toBe('0');
    expect(names(gate(seed({ policy_risk_score: 'nan' })))).toEqual([]);
    expect(names(gate(seed()))).toEqual([]);
  });

  test('A1: ≥ 0.98 in the top risk class pauses (reason :=), is CRITICAL and enters conservative mode, which rule B then reports', () => {
    const command = seed({ policy_risk_score: '0.990000', policy_risk_index: '4', risk_reason: 'earlier' });
    const o = gate(command);
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(o.reason).toBe('policy_risk_critical');
    expect(names(o)).toEqual(['policy_risk_signal', 'policy_risk_critical', 'conservative_entered', 'pause_triggered']);
    expect(event(o, 'policy_risk_critical')).toMatchObject({ level: CRITICAL, attributes: { score: '0.990' } });
    expect(o.conservative).toBe(true);
  });

  test('A2: ≥ 0.85 in risk class ≥ 3 turns a SEED into an sgd OPTIMIZER (reason ?=); a WAIT is left alone', () => {
    const command = seed({ policy_risk_score: '0.9', policy_risk_index: '3' });
    const o = gate(command);
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    expect(command.payload).toMatchObject({ case: 'optimizerAdjustment', value: { optimizerId: 'sgd', hyperparameters: {} } });
    expect(command.targetSeedId).toBe('');
    expect(command.annotations).toMatchObject({ seed_id: 'hidden1', decision: 'optimizer', reason: 'policy_risk_elevated', risk_reason: 'policy_risk_elevated' });
    expect(event(o, 'policy_risk_elevated')).toMatchObject({ level: WARNING, attributes: { score: '0.900' } });

    const w = wait({ policy_risk_score: '0.9', policy_risk_index: '4', risk_reason: 'no_seed_candidates' });
    const ow = gate(w);
    expect(names(ow)).toEqual(['policy_risk_signal']);
    expect(ow.reason).toBe('no_seed_candidates');
    expect(type(w)).toBe('COMMAND_PAUSE');
  });

  test('§17 item 4: a confident low-risk class gates nothing (the score is the winning class’s probability)', () => {
    const command = seed({ policy_risk_score: '0.999', policy_risk_index: '0' });
    const o = gate(command);
    expect(names(o)).toEqual(['policy_risk_signal']);
    expect(type(command)).toBe('COMMAND_SEED');
    expect(gate(seed({ policy_risk_score: '0.99', policy_risk_index: '3' })).reason).toBe('policy_risk_elevated');
  });
});

describe('rules B–D: conservative mode and breakers', () => {
  test('B: in conservative mode a SEED becomes the WAIT with reason conservative_mode', () => {
    const { risk } = engine({}, true);
    const command = seed();
    const o = risk.evaluate(command, inputs());
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(command.targetSeedId).toBe('');
    expect(command.payload.case).toBe('seedOperation'); // kept: field reports read its blueprint
    expect(command.annotations).toMatchObject({ decision: 'wait', seed_id: 'hidden1', reason: 'conservative_mode', risk_reason: 'conservative_mode' });
    expect(event(o, 'pause_triggered')).toMatchObject({ level: WARNING, attributes: { reason: 'conservative_mode' } });
  });

  test('C: each timeout is an inference breaker failure, the third opens it; conservative mode is entered once', () => {
    const { risk } = engine();
    const first = risk.evaluate(timeout(), inputs({ timedOut: true }));
    expect(first.events).toEqual([
      { description: 'breaker_event', level: WARNING, attributes: { component: 'inference', reason: 'timeout_inference', failures: '1', action: 'count' } },
      { description: 'conservative_entered', level: WARNING, attributes: { reason: 'timeout_inference' } },
    ]);
    expect(first.reason).toBe('timeout_inference');
    expect(names(risk.evaluate(timeout(), inputs({ timedOut: true })))).toEqual(['breaker_event']);
    const third = risk.evaluate(timeout(), inputs({ timedOut: true }));
    expect(third.events[0]).toMatchObject({ level: CRITICAL, attributes: { action: 'open', failures: '3' } });
    expect(risk.breakerSnapshot().inference).toMatchObject({ state: CircuitBreakerState.CIRCUIT_STATE_OPEN, failures: 3 });
    expect(risk.breakerSnapshot().metadata).toMatchObject({ state: CircuitBreakerState.CIRCUIT_STATE_CLOSED, failures: 0 });
  });

  test("C′: an open breaker closes on the first success after the 100 ms cool-down, not before", () => {
    const { risk, clock } = engine();
    for (let i = 0; i < 3; i++) risk.evaluate(timeout(), inputs({ timedOut: true }));
    clock.advance(99);
    expect(names(risk.evaluate(seed(), inputs()))).toEqual(['pause_triggered']);
    expect(risk.breakerSnapshot().inference.state).toBe(CircuitBreakerState.CIRCUIT_STATE_OPEN);
    clock.advance(1);
    const o = risk.evaluate(seed(), inputs());
    expect(event(o, 'breaker_event')).toEqual({ description: 'breaker_event', level: INFO, attributes: { component: 'inference', action: 'close' } });
    expect(risk.breakerSnapshot().inference).toEqual({ state: CircuitBreakerState.CIRCUIT_STATE_CLOSED, failures: 0, openUntilMs: 0 });
  });

  test('C′: a success while closed takes one failure off', () => {
    const { risk } = engine();
    risk.evaluate(timeout(), inputs({ timedOut: true }));
    risk.evaluate(timeout(), inputs({ timedOut: true }));
    risk.evaluate(wait(), inputs());
    expect(risk.breakerSnapshot().inference.failures).toBe(1);
  });

  test('D: a metadata timeout is a metadata breaker failure and labels the decision without changing it (reason ?=)', () => {
    const command = seed();
    const o = gate(command, { blueprintTimedOut: true, blueprint: { risk: 0.9 } });
    expect(o.events).toEqual([{ description: 'breaker_event', level: WARNING, attributes: { component: 'metadata', reason: 'timeout_urza', failures: '1', action: 'count' } }]);
    expect(o.reason).toBe('timeout_urza');
    expect(type(command)).toBe('COMMAND_SEED'); // blueprint info is ignored after its timeout
  });
});

describe('rules E: blueprint risk and BSDS', () => {
  test('E0/E1: quarantine-only risk 0.85 → tier, stage and risk annotations, PAUSE, CRITICAL bp_quarantine', () => {
    const command = seed();
    const o = gate(command, { blueprint: { risk: 0.85, stage: 5, tier_index: BlueprintTier.HIGH_RISK, quarantine_only: true } });
    expect(command.annotations).toMatchObject({ blueprint_tier: 'BLUEPRINT_TIER_HIGH_RISK', blueprint_stage: '5', blueprint_risk: '0.85', risk_reason: 'bp_quarantine' });
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(event(o, 'bp_quarantine')).toMatchObject({ level: CRITICAL, attributes: { tier: 'BLUEPRINT_TIER_HIGH_RISK' } });
    expect(o.conservative).toBe(true);
  });

  test('E1: risk ≥ 0.8 quarantines without the flag; existing annotations are not overwritten', () => {
    const command = seed({ blueprint_tier: 'custom' });
    const o = gate(command, { blueprint: { risk: 0.8, tier: 'BLUEPRINT_TIER_SAFE' } });
    expect(command.annotations.blueprint_tier).toBe('custom');
    expect(event(o, 'bp_quarantine')?.attributes.tier).toBe('BLUEPRINT_TIER_SAFE');
  });

  test('E2: risk ≥ 0.5 on a SEED → OPTIMIZER with blueprint_risk; graph round trip risk 0.35 passes', () => {
    const command = seed();
    const o = gate(command, { blueprint: { risk: 0.6 } });
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    expect(event(o, 'blueprint_risk')).toMatchObject({ level: WARNING, attributes: { risk: '0.60' } });
    const safe = seed();
    const os = gate(safe, { blueprint: { risk: 0.35, tier_index: BlueprintTier.SAFE } });
    expect(names(os)).toEqual([]);
    expect(safe.annotations).toMatchObject({ blueprint_tier: 'BLUEPRINT_TIER_SAFE', blueprint_risk: '0.35', risk_reason: 'policy' });
  });

  test('E3: a BSDS block (MEDIUM/restricted/HEURISTIC/gpu/0.42) annotates all five fields and its score is the risk', () => {
    const command = seed();
    const o = gate(command, { blueprint: { risk: 0.1, bsds: { hazard_band: 'MEDIUM', handling_class: 'restricted', provenance: 'HEURISTIC', resource_profile: 'gpu', risk_score: 0.42 } } });
    expect(command.annotations).toMatchObject({
      bsds_hazard_band: 'MEDIUM',
      bsds_handling_class: 'restricted',
      bsds_resource_profile: 'gpu',
      bsds_provenance: 'HEURISTIC',
      bsds_risk: '0.42',
      blueprint_risk: '0.42',
    });
    expect(event(o, 'bsds_present')).toEqual({ description: 'bsds_present', level: INFO, attributes: { hazard: 'MEDIUM', risk: '0.42', provenance: 'HEURISTIC' } });
    expect(type(command)).toBe('COMMAND_SEED');
  });

  test('E4: handling "quarantine" (hazard LOW) → PAUSE and CRITICAL bsds_handling_quarantine', () => {
    const command = seed();
    const o = gate(command, { blueprint: { bsds: { hazard_band: 'LOW', handling_class: 'Quarantine', provenance: 'CURATED', risk_score: 0.1 } } });
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(o.reason).toBe('bsds_handling_quarantine');
    expect(event(o, 'bsds_handling_quarantine')).toMatchObject({ level: CRITICAL, attributes: { handling: 'Quarantine', provenance: 'CURATED' } });
  });

  test('E5 after E2: hazard CRITICAL (risk 0.7) overrides the OPTIMIZER of E2 with PAUSE (reason := beats ?=)', () => {
    const command = seed();
    const o = gate(command, { blueprint: { bsds: { hazard_band: 'critical', provenance: 'URABRASK', risk_score: 0.7 } } });
    expect(names(o)).toEqual(['blueprint_risk', 'bsds_present', 'bsds_hazard_critical', 'conservative_entered']);
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(command.annotations).toMatchObject({ bsds_hazard_band: 'critical', bsds_risk: '0.70', blueprint_risk: '0.70', risk_reason: 'bsds_hazard_critical' });
    expect(event(o, 'bsds_hazard_critical')).toMatchObject({ level: CRITICAL, attributes: { hazard: 'critical', provenance: 'URABRASK' } });
  });

  test('E6: hazard HIGH turns a SEED into OPTIMIZER; on a WAIT it is reported only', () => {
    const command = seed();
    const o = gate(command, { blueprint: { bsds: { hazard_band: 'HAZARD_BAND_HIGH', risk_score: 0.2 } } });
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    expect(o.reason).toBe('bsds_hazard_high');
    const w = wait();
    const ow = gate(w, { blueprint: { bsds: { hazard_band: 'HIGH' } } });
    expect(event(ow, 'bsds_hazard_high')).toMatchObject({ level: WARNING, attributes: { hazard: 'HIGH', provenance: '' } });
    expect(ow.reason).toBe('policy');
  });

  test('§17 item 7: a BSDS block without risk_score keeps the descriptor risk (0.85 still quarantines)', () => {
    const command = seed();
    const o = gate(command, { blueprint: { risk: 0.85, bsds: { hazard_band: 'LOW', provenance: 'CURATED' } } });
    expect(o.reason).toBe('bp_quarantine');
    expect(command.annotations.blueprint_risk).toBe('0.85');
    expect(command.annotations.bsds_risk).toBeUndefined();
    expect(event(o, 'bsds_present')?.attributes).toEqual({ hazard: 'LOW', provenance: 'CURATED' });
  });

  test('an empty BSDS block is absent', () => {
    expect(names(gate(seed(), { blueprint: { risk: 0.1, bsds: {} } }))).toEqual([]);
  });
});

describe('rules F–K: loss, latency, isolation, training signals, optimizer hint, pressure', () => {
  test('F1: previous loss 0.1, current 0.3 → PAUSE loss_spike (delta "%.3f") and conservative mode', () => {
    const command = seed();
    const o = gate(command, { lossDelta: 0.3 - 0.1 });
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(o.reason).toBe('loss_spike');
    expect(event(o, 'loss_spike')).toMatchObject({ level: WARNING, attributes: { delta: '0.200' } });
    expect(o.conservative).toBe(true);
  });

  test('F: no loss rules after a timeout', () => {
    expect(names(gate(timeout(), { timedOut: true, lossDelta: 0.5 }))).not.toContain('loss_spike');
  });

  test('F2: a loss rise above half the spike limit downgrades a SEED (reason ?=)', () => {
    const command = seed();
    const o = gate(command, { lossDelta: 0.1 });
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    expect(event(o, 'loss_warning')?.attributes).toEqual({ delta: '0.100' });
    expect(names(gate(wait(), { lossDelta: 0.1 }))).toEqual([]);
  });

  test('G1/G2: hook and step latency pause (reason :=), also the timeout command', () => {
    const command = timeout();
    const o = gate(command, { timedOut: true, metrics: { hook_latency_ms: 60, step_latency_ms: 121 } });
    expect(o.reason).toBe('step_latency_high');
    expect(event(o, 'hook_budget')?.attributes).toEqual({ latency_ms: '60.00' });
    expect(event(o, 'step_latency_high')?.attributes).toEqual({ latency_ms: '121.00' });
  });

  test('G2–G4: step 250 ms pauses first, so the Kasmina latencies only report', () => {
    const command = seed();
    const o = gate(command, { metrics: { step_latency_ms: 250, 'kasmina.apply_ms': 35, 'kasmina.finalize_ms': 40 } });
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(names(o)).toEqual(['step_latency_high', 'kasmina_apply_slow', 'kasmina_finalize_slow']);
    expect(o.reason).toBe('step_latency_high');
  });

  test('G3/G4: slow Kasmina apply turns a SEED into OPTIMIZER (reason :=); finalize then reports only', () => {
    const command = seed({ risk_reason: 'earlier' });
    const o = gate(command, { metrics: { 'kasmina.apply_ms': 31, 'kasmina.finalize_ms': 31 } });
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    expect(o.reason).toBe('kasmina_apply_slow');
    expect(event(o, 'kasmina_finalize_slow')).toMatchObject({ level: WARNING, attributes: { latency_ms: '31.00' } });
    const fin = seed();
    expect(gate(fin, { metrics: { 'kasmina.finalize_ms': 45.5 } }).reason).toBe('kasmina_finalize_slow');
  });

  test('H: isolation violations pause with reason ?= (a timeout keeps its reason); count as an integer', () => {
    const command = seed();
    const o = gate(command, { metrics: { 'kasmina.isolation.violations': 2.7 } });
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(o.reason).toBe('isolation_violation');
    expect(event(o, 'isolation_violations')?.attributes).toEqual({ violations: '2' });
    expect(gate(timeout(), { timedOut: true, metrics: { 'kasmina.isolation.violations': 1 } }).reason).toBe('timeout_inference');
  });

  test('I1 changes the type, so I2 and I3 (SEED only) no longer fire', () => {
    const command = seed();
    const o = gate(command, { metrics: { loss_volatility: 0.113, grad_var: 1.5, grad_conflict_rate: 0.6 } });
    expect(names(o)).toEqual(['loss_volatility_high']);
    expect(event(o, 'loss_volatility_high')?.attributes).toEqual({ volatility: '0.113' });
    expect(o.reason).toBe('loss_volatility_high');
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    // On a WAIT, I1 reports and I2/I3 stay silent.
    expect(names(gate(wait(), { metrics: { loss_volatility: 0.2, grad_var: 2, grad_conflict_rate: 0.9 } }))).toEqual(['loss_volatility_high']);
  });

  test('I2 / I3: gradient variance and conflict downgrade a SEED', () => {
    const a = gate(seed(), { metrics: { grad_var: 1.5 } });
    expect(a.events).toEqual([{ description: 'grad_variance_high', level: WARNING, attributes: { var: '1.500' } }]);
    const b = gate(seed(), { metrics: { grad_conflict_rate: 0.75 } });
    expect(b.events).toEqual([{ description: 'grad_conflict_high', level: WARNING, attributes: { rate: '0.750' } }]);
    expect(b.reason).toBe('grad_conflict_high');
  });

  test('J: loss_delta 0.1 on the first call with optimizer_lr 0 → OPTIMIZER, loss_warning first and optimizer_hint reported', () => {
    const command = seed();
    const o = gate(command, { lossDelta: 0.1, metrics: { optimizer_lr: 0 } });
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    expect(names(o)).toEqual(['loss_warning', 'optimizer_hint']);
    expect(event(o, 'optimizer_hint')?.attributes).toEqual({ lr: '0.000000', loss_delta: '0.100' });
    expect(o.reason).toBe('loss_warning');
  });

  test("J: Tolaria's `lr` counts as optimizer_lr; a positive rate is no hint", () => {
    expect(names(gate(timeout(), { timedOut: true, lossDelta: 0.2, metrics: { lr: -0.001 } }))).toContain('optimizer_hint');
    expect(names(gate(timeout(), { timedOut: true, lossDelta: 0.2, metrics: { lr: 0.01 } }))).not.toContain('optimizer_hint');
  });

  test('K1: GPU ≥ 95 % with ≤ 0.2 GB free pauses a SEED; on a WAIT it is reported only', () => {
    const command = seed();
    const o = gate(command, { metrics: { gpu_util_percent: 97, gpu_mem_free_gb: 0, cpu_util_percent: 99 } });
    expect(type(command)).toBe('COMMAND_PAUSE');
    expect(o.events).toEqual([{ description: 'device_pressure_high', level: WARNING, attributes: { gpu_util: '97.0', gpu_mem_free_gb: '0.00' } }]);
    expect(o.reason).toBe('device_pressure_high');
    const w = gate(wait(), { metrics: { gpu_util_percent: 95, gpu_mem_free_gb: 0.2 } });
    expect(names(w)).toEqual(['device_pressure_high']);
    expect(w.reason).toBe('policy');
  });

  test('K2 (§17 item 8): CPU pressure turns a SEED into a well-formed sgd OPTIMIZER', () => {
    const command = seed();
    const o = gate(command, { metrics: { cpu_util_percent: 96, gpu_util_percent: 97 } });
    expect(type(command)).toBe('COMMAND_OPTIMIZER');
    expect(command.payload).toMatchObject({ case: 'optimizerAdjustment', value: { optimizerId: 'sgd' } });
    expect(o.events).toEqual([{ description: 'cpu_pressure_high', level: WARNING, attributes: { cpu_util: '96.0' } }]);
  });

  test('zero-valued metrics do not fire (presence rule of §3)', () => {
    expect(names(gate(seed(), { metrics: { hook_latency_ms: 0, 'kasmina.isolation.violations': 0, gpu_util_percent: 0, gpu_mem_free_gb: 0 } }))).toEqual([]);
  });
});

describe('rule order and rule N', () => {
  test('N: with no reason the command gets risk_reason=policy; an own reason is kept', () => {
    expect(gate(seed()).reason).toBe('policy');
    const w = wait({ risk_reason: 'no_seed_candidates' });
    expect(gate(w).reason).toBe('no_seed_candidates');
    expect(w.annotations.reason).toBe('policy'); // type unchanged: growth-loop reason untouched
  });

  test('?= keeps the first reason, := replaces it: A2 then G3 then H', () => {
    const command = seed({ policy_risk_score: '0.86', policy_risk_index: '3' });
    const o = gate(command, { metrics: { 'kasmina.isolation.violations': 1 } });
    expect(o.reason).toBe('policy_risk_elevated'); // H is ?=
    expect(type(command)).toBe('COMMAND_PAUSE');
    const again = seed({ policy_risk_score: '0.86', policy_risk_index: '4' });
    expect(gate(again, { metrics: { hook_latency_ms: 51 } }).reason).toBe('hook_budget'); // G1 is :=
  });

  test('events come in rule order and feed a telemetry packet (CRITICAL priority)', () => {
    const command = seed({ policy_risk_score: '0.5' });
    const o = gate(command, { lossDelta: 0.2, metrics: { hook_latency_ms: 70 }, blueprint: { risk: 0.9 }, coverage: { a: 0, b: 0.1 } });
    // Rule B ran before E1 entered conservative mode, so there is no pause_triggered in this decision.
    expect(names(o)).toEqual(['policy_risk_signal', 'bp_quarantine', 'conservative_entered', 'loss_spike', 'hook_budget', 'degraded_inputs']);
    expect(o.reason).toBe('hook_budget');
    const p = buildTelemetryPacket({ packetId: 'p', source: 'tamiyo', events: o.events });
    expect(priorityForPacket(p)).toBe(MessagePriority.CRITICAL);
    expect(p.events.map((e) => e.eventId)).toEqual(o.events.map((_, i) => `evt-${i + 1}`));
  });
});

describe('conservative mode hysteresis (§17 item 2, decision 0059)', () => {
  test('entered by a loss spike, it is not left in the same decision; 3 stable decisions later it is', () => {
    const { risk } = engine();
    expect(risk.evaluate(seed(), inputs({ lossDelta: 0.3 })).conservative).toBe(true);
    const log: string[] = [];
    for (let i = 0; i < 4; i++) {
      const command = seed();
      const o = risk.evaluate(command, inputs());
      log.push(`${type(command)} ${o.reason} ${o.conservative ? 'on' : 'off'} ${names(o).join(',')}`);
    }
    expect(log).toEqual([
      'COMMAND_PAUSE conservative_mode on pause_triggered',
      'COMMAND_PAUSE conservative_mode on pause_triggered',
      'COMMAND_PAUSE conservative_mode off pause_triggered,conservative_exited',
      'COMMAND_SEED policy off ',
    ]);
  });

  test('with conservativeExitAfter 1 the next stable decision (still paused) leaves it', () => {
    const { risk } = engine({ conservativeExitAfter: 1 });
    const enter = risk.evaluate(seed(), inputs({ lossDelta: 0.3 }));
    expect(names(enter)).not.toContain('conservative_exited');
    const next = seed();
    expect(names(risk.evaluate(next, inputs()))).toEqual(['pause_triggered', 'conservative_exited']);
    expect(type(next)).toBe('COMMAND_PAUSE');
    expect(risk.evaluate(seed(), inputs()).reason).toBe('policy');
  });

  test('a trigger while on restarts the count; an open breaker holds the mode', () => {
    const { risk, clock } = engine({ conservativeExitAfter: 2 });
    risk.evaluate(seed(), inputs({ lossDelta: 0.3 }));
    risk.evaluate(seed(), inputs());
    expect(risk.stableDecisions).toBe(1);
    risk.evaluate(seed(), inputs({ blueprint: { quarantine_only: true } }));
    expect(risk.stableDecisions).toBe(0);
    for (let i = 0; i < 3; i++) risk.evaluate(timeout(), inputs({ timedOut: true }));
    expect(risk.breakerSnapshot().inference.state).toBe(CircuitBreakerState.CIRCUIT_STATE_OPEN);
    for (let i = 0; i < 5; i++) risk.evaluate(seed(), inputs()); // breaker open, no time passes
    expect(risk.conservative).toBe(true);
    expect(risk.stableDecisions).toBe(0);
    clock.advance(100);
    risk.evaluate(seed(), inputs()); // closes the breaker: counts
    expect(risk.conservative).toBe(true);
    const exit = risk.evaluate(seed(), inputs());
    expect(names(exit)).toContain('conservative_exited');
    expect(event(exit, 'conservative_exited')).toMatchObject({ level: INFO, attributes: { reason: 'stabilised' } });
  });

  test('TAMIYO_CONSERVATIVE_MODE preset: the first three decisions are paused, then it ends', () => {
    const { risk } = engine({}, true);
    const types = Array.from({ length: 5 }, () => {
      const command = seed();
      risk.evaluate(command, inputs());
      return type(command);
    });
    expect(types).toEqual(['COMMAND_PAUSE', 'COMMAND_PAUSE', 'COMMAND_PAUSE', 'COMMAND_SEED', 'COMMAND_SEED']);
  });

  test('setConservative sets the mode without an event', () => {
    const { risk } = engine();
    risk.setConservative(true);
    expect(risk.conservative).toBe(true);
    expect(names(risk.evaluate(wait(), inputs()))).toEqual(['pause_triggered']);
    risk.setConservative(false);
    expect(names(risk.evaluate(seed(), inputs()))).toEqual([]);
  });
});

describe('degraded inputs in the engine (§17 item 3)', () => {
  test('they label a decision that has no stronger reason, and come after every rule event', () => {
    const plain = seed();
    const o = gate(plain, { coverage: new Map([['global.loss', 0.2], ['seed.alpha', 0.3]]) });
    expect(o.events).toEqual([{ description: 'degraded_inputs', level: WARNING, attributes: { coverage_avg: '0.250', missing_features: '0' } }]);
    expect(o.reason).toBe('degraded_inputs');
    expect(type(plain)).toBe('COMMAND_SEED');
    const { risk } = engine({ conservativeExitAfter: 1 });
    risk.setConservative(true);
    const held = risk.evaluate(seed(), inputs({ coverage: { a: 0 } }));
    expect(names(held)).toEqual(['pause_triggered', 'conservative_exited', 'degraded_inputs']);
    expect(held.reason).toBe('conservative_mode');
  });
});

describe('configuration', () => {
  test('the defaults are the settings schema’s (reference §2.3, §9.1) and thresholds can be overridden', () => {
    expect(DEFAULT_RISK_CONFIG).toEqual(riskConfigFrom(tamiyoConfigSchema.parse({})));
    expect(DEFAULT_RISK_CONFIG).toMatchObject({ maxLossSpike: 0.15, hookBudgetMs: 50, stepLatencyHighMs: 120, breakerFailureThreshold: 3, breakerCooldownMs: 100, conservativeExitAfter: 3 });
    expect(gate(seed(), { lossDelta: 0.2 }, { maxLossSpike: 0.5 }).reason).toBe('policy');
    expect(gate(seed(), { metrics: { hook_latency_ms: 60 } }, { hookBudgetMs: 80 }).reason).toBe('policy');
    const { risk } = engine({ breakerFailureThreshold: 1 });
    expect(risk.evaluate(timeout(), inputs({ timedOut: true })).events[0]?.attributes.action).toBe('open');
  });
});
