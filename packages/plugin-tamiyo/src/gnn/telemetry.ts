import { buildTelemetryPacket, priorityForEvents, priorityName, type Clock, type EventInput, type MetricInput } from '@esper/core';
import { CommandType, HealthStatus, TelemetryLevel, type AdaptationCommand, type SystemStatePacket, type TelemetryPacket } from '@esper/core/leyline';
import { averageCoverage, coverageTypes, type Coverage } from '../graph/builder.js';
import type { LastAction } from '../policy/decode.js';
import { TAMIYO_SOURCE } from '../heuristic/telemetry.js';

/** Description of the INFO event of every GNN decision (this port's; last in the packet). */
export const GNN_DECISION_EVENT = 'gnn_decision';
/** Description of the WARNING event of a decision past the step budget (reference name). */
export const TIMEOUT_INFERENCE_EVENT = 'timeout_inference';
/** Description of the WARNING event of a failed inference (the decision is the neutral PAUSE). */
export const INFERENCE_ERROR_EVENT = 'inference_error';
/**
 * Description of the WARNING event of a SEED whose blueprint metadata lookup passed its budget
 * (reference name; attribute `budget_ms`, the metadata budget "%.1f"; tamiyo §4 step 6).
 */
export const TIMEOUT_URZA_EVENT = 'timeout_urza';
/** Description of the WARNING event of a failed blueprint metadata lookup (attributes `blueprint_id`, `error`); the decision goes on without metadata. */
export const METADATA_ERROR_EVENT = 'metadata_error';
/** Longest `coverage_map` annotation (tamiyo §10.1 item 10). */
export const COVERAGE_MAP_MAX_CHARS = 1024;

/** Circuit breaker state numbers of the breaker metrics (CLOSED 1, OPEN 2; tamiyo §9.1). */
export const BREAKER_STATE = Object.freeze({ closed: 1, open: 2 });

/** One breaker as the decision packet reports it (tamiyo §10.1 item 14). */
export interface BreakerReading {
  /** {@link BREAKER_STATE} number. */
  readonly state: number;
  readonly failures: number;
}

/** Blueprint information resolved for the decision (tamiyo §4 step 6). */
export interface BlueprintReading {
  readonly risk: number;
  /** Tier name, the `tier` indicator. */
  readonly tier?: string | undefined;
}

/**
 * The coverage annotations of tamiyo §10.1 item 10, each only if absent: `feature_coverage`
 * ("%.3f"), `coverage_map` (JSON of the per-key map, only when it fits
 * {@link COVERAGE_MAP_MAX_CHARS}) and `coverage_types` (JSON of the per-type map). Mutates the
 * unsigned command.
 */
export function annotateCoverage(command: AdaptationCommand, coverage: Coverage): void {
  if (coverage.size === 0) return;
  const a = command.annotations;
  a.feature_coverage ??= averageCoverage(coverage).toFixed(3);
  if (a.coverage_map === undefined) {
    const json = derivedOf(coverage).mapJson;
    if (json.length <= COVERAGE_MAP_MAX_CHARS) a.coverage_map = json;
  }
  a.coverage_types ??= JSON.stringify(typedCoverage(coverage));
}

/** What the annotations and the packet derive from one coverage map, computed once per map. */
interface CoverageDerived {
  /** `JSON.stringify(Object.fromEntries(coverage))`. */
  readonly mapJson: string;
  /** {@link typedCoverage}'s entries. */
  readonly typed: readonly (readonly [string, number])[];
}

// Coverage maps from a build are never modified, and a steady run's builds share one
// (decision 0063, GC pressure): derive once per map.
const derived = new WeakMap<Coverage, CoverageDerived>();

function derivedOf(coverage: Coverage): CoverageDerived {
  let d = derived.get(coverage);
  if (d === undefined) {
    d = { mapJson: JSON.stringify(Object.fromEntries(coverage)), typed: Object.entries(typedCoverage(coverage)) };
    derived.set(coverage, d);
  }
  return d;
}

/** Per-type coverage with `edges.layer_connects` present (0 when the build had no such key). */
function typedCoverage(coverage: Coverage): Record<string, number> {
  return { 'edges.layer_connects': 0, ...coverageTypes(coverage) };
}

/** What one GNN decision packet is built from. */
export interface GnnTelemetryInput {
  /** The signed command. */
  readonly command: AdaptationCommand;
  readonly packet: SystemStatePacket;
  readonly lossDelta: number;
  /** Conservative mode after the risk engine. */
  readonly conservative: boolean;
  /** Graph build + inference (the time waited on a timeout), ms: `tamiyo.inference.latency_ms`. */
  readonly policyMs: number;
  /** Graph build + inference + decoding + risk + signing, ms. */
  readonly latencyMs: number;
  /** Inference alone (0 on the no-seed fast path), ms. */
  readonly inferenceMs: number;
  /** The session loaded on its first device and never fell back (`policy_compile`). */
  readonly compileEnabled: boolean;
  readonly warmUpMs: number;
  readonly fallbacks: number;
  readonly device: string;
  /** Precision of the policy's large weights; `policy_precision` is reported when it is not `fp32`. */
  readonly precision?: string;
  /** `tamiyo.gnn.realtime` outcome of the inference thread (`on` / `refused`); `policy_realtime` when asked for. */
  readonly realtime?: string;
  /** Architecture version (`policy_arch`). */
  readonly architecture: string;
  /** The service's policy version (`policy` indicator: its first 8 characters). */
  readonly policyVersion: string;
  readonly budgetMs: number;
  readonly metadataBudgetMs: number;
  readonly seeds: number;
  readonly coverage: Coverage;
  /** The last completed model decision (on a timeout, the previous one). */
  readonly lastAction?: LastAction | undefined;
  /** Events of the decision in reference order (timeouts, risk engine, degraded inputs, inference error). */
  readonly events: readonly EventInput[];
  readonly breakers?: { readonly inference: BreakerReading; readonly metadata: BreakerReading } | undefined;
  readonly blueprint?: BlueprintReading | undefined;
  /** Loss delta above which a quiet decision's summary is `loss_spike` (risk `maxLossSpike`). */
  readonly maxLossSpike?: number | undefined;
}

const NOT_DEGRADING_PAUSE = new Set(['policy', 'no_seed_candidates', '']);

/**
 * The telemetry packet of one GNN decision (id `tamiyo-decision-<command id>`; tamiyo §10, P5).
 *
 * Metrics in the reference's order: `tamiyo.validation_loss` [loss], `tamiyo.loss_delta` [loss],
 * `tamiyo.conservative_mode` [bool], `tamiyo.inference.latency_ms` and
 * `tamiyo.gnn.inference.latency_ms` [ms], `tamiyo.gnn.compile_enabled` [bool],
 * `tamiyo.gnn.compile_warm_ms` [ms], `tamiyo.gnn.compile_fallback_total` [count] (when > 0),
 * `tamiyo.policy.value_estimate|risk_index|risk_score`, `tamiyo.gnn.feature_coverage` [ratio] and
 * one `tamiyo.gnn.feature_coverage.<type>` per type (`edges.layer_connects` always),
 * `tamiyo.blending.method_index` [enum] (attribute `method`) and `schedule_start|end` [fraction],
 * `tamiyo.selection.seed_index|seed_score|blueprint_index`, the breaker states and failures, and
 * `tamiyo.blueprint.risk` when blueprint information was resolved; then this port's
 * `tamiyo.decision.latency_ms`, `tamiyo.gnn.inference_ms` and `tamiyo.gnn.seed_count`.
 *
 * Events: the decision's events as given, then `gnn_decision` (INFO). Health: CRITICAL with any
 * CRITICAL event; DEGRADED for a PAUSE with a risk reason (a plain WAIT — `policy` or
 * `no_seed_candidates` — is the controller working, as the heuristic's) or any WARNING event;
 * else HEALTHY. Summary: a PAUSE's `risk_reason` (or `pause`), else the last decision event, else
 * `loss_spike`/`stable`. Indicators: `policy`, `mode`, `policy_compile`, `policy_arch`,
 * `timeout_budget_ms`, `metadata_timeout_budget_ms` ("%.1f"), `blending_method`, `tier`,
 * `step_index` (when `global_step` ≠ 0), `controller`, `policy_device`, `decision`, and
 * `priority` from the event levels (CRITICAL → CRITICAL, WARNING/ERROR → HIGH, else NORMAL).
 */
export function gnnDecisionTelemetry(input: GnnTelemetryInput, clock: Clock): TelemetryPacket {
  const { command, lastAction } = input;
  const la = lastAction;
  const metrics: MetricInput[] = [
    { name: 'tamiyo.validation_loss', value: input.packet.validationLoss, unit: 'loss' },
    { name: 'tamiyo.loss_delta', value: input.lossDelta, unit: 'loss' },
    { name: 'tamiyo.conservative_mode', value: input.conservative ? 1 : 0, unit: 'bool' },
    { name: 'tamiyo.inference.latency_ms', value: input.policyMs, unit: 'ms' },
    { name: 'tamiyo.gnn.inference.latency_ms', value: input.policyMs, unit: 'ms' },
    { name: 'tamiyo.gnn.compile_enabled', value: input.compileEnabled ? 1 : 0, unit: 'bool' },
    { name: 'tamiyo.gnn.compile_warm_ms', value: input.warmUpMs, unit: 'ms' },
  ];
  if (input.fallbacks > 0) metrics.push({ name: 'tamiyo.gnn.compile_fallback_total', value: input.fallbacks, unit: 'count' });
  metrics.push(
    { name: 'tamiyo.policy.value_estimate', value: la?.valueEstimate ?? 0, unit: 'score' },
    { name: 'tamiyo.policy.risk_index', value: la?.riskIndex ?? 0, unit: 'index' },
    { name: 'tamiyo.policy.risk_score', value: la?.riskScore ?? 0, unit: 'score' },
  );
  if (input.coverage.size > 0) {
    metrics.push({ name: 'tamiyo.gnn.feature_coverage', value: averageCoverage(input.coverage), unit: 'ratio' });
    for (const [type, value] of derivedOf(input.coverage).typed) metrics.push({ name: `tamiyo.gnn.feature_coverage.${type}`, value, unit: 'ratio' });
  } else {
    metrics.push({ name: 'tamiyo.gnn.feature_coverage.edges.layer_connects', value: 0, unit: 'ratio' });
  }
  if (la !== undefined && la.blendingMethod !== '') {
    metrics.push(
      { name: 'tamiyo.blending.method_index', value: la.blendingIndex, unit: 'enum', attributes: { method: la.blendingMethod } },
      { name: 'tamiyo.blending.schedule_start', value: la.scheduleStart, unit: 'fraction' },
      { name: 'tamiyo.blending.schedule_end', value: la.scheduleEnd, unit: 'fraction' },
    );
  }
  if (la !== undefined) {
    metrics.push(
      { name: 'tamiyo.selection.seed_index', value: la.selectedSeedIndex, unit: 'index' },
      { name: 'tamiyo.selection.seed_score', value: la.selectedSeedScore, unit: 'score' },
      { name: 'tamiyo.selection.blueprint_index', value: la.selectedBlueprintIndex, unit: 'index' },
    );
  }
  const breakers = input.breakers ?? { inference: { state: BREAKER_STATE.closed, failures: 0 }, metadata: { state: BREAKER_STATE.closed, failures: 0 } };
  metrics.push(
    { name: 'tamiyo.breaker.inference_state', value: breakers.inference.state, unit: 'state' },
    { name: 'tamiyo.breaker.metadata_state', value: breakers.metadata.state, unit: 'state' },
    { name: 'tamiyo.breaker.inference_failures', value: breakers.inference.failures, unit: 'count' },
    { name: 'tamiyo.breaker.metadata_failures', value: breakers.metadata.failures, unit: 'count' },
  );
  if (input.blueprint !== undefined) metrics.push({ name: 'tamiyo.blueprint.risk', value: input.blueprint.risk, unit: 'score' });
  metrics.push(
    { name: 'tamiyo.decision.latency_ms', value: input.latencyMs, unit: 'ms' },
    { name: 'tamiyo.gnn.inference_ms', value: input.inferenceMs, unit: 'ms' },
    { name: 'tamiyo.gnn.seed_count', value: input.seeds, unit: 'count' },
  );

  const decision = command.annotations.decision ?? 'wait';
  const events: EventInput[] = [
    ...input.events,
    {
      description: GNN_DECISION_EVENT,
      attributes: {
        decision,
        reason: command.annotations.reason ?? '',
        risk_reason: command.annotations.risk_reason ?? '',
        command_id: command.commandId,
        target_seed_id: command.targetSeedId,
        policy_action: command.annotations.policy_action ?? '',
        epoch: String(input.packet.currentEpoch),
      },
    },
  ];
  const levels = input.events.map((e) => e.level ?? TelemetryLevel.INFO);
  const pause = command.commandType === CommandType.COMMAND_PAUSE;
  const riskReason = command.annotations.risk_reason ?? '';
  let status: HealthStatus = HealthStatus.HEALTHY;
  if (levels.includes(TelemetryLevel.CRITICAL)) status = HealthStatus.CRITICAL;
  else if ((pause && !NOT_DEGRADING_PAUSE.has(riskReason)) || levels.some((l) => l === TelemetryLevel.WARNING || l === TelemetryLevel.ERROR)) status = HealthStatus.DEGRADED;
  const summary = pause
    ? riskReason !== ''
      ? riskReason
      : 'pause'
    : (input.events.at(-1)?.description ?? (input.lossDelta > (input.maxLossSpike ?? 0.15) ? 'loss_spike' : 'stable'));

  const indicators: Record<string, string> = {
    policy: input.policyVersion.slice(0, 8),
    mode: input.conservative ? '1' : '0',
    policy_compile: input.compileEnabled ? '1' : '0',
    policy_arch: input.architecture,
    timeout_budget_ms: input.budgetMs.toFixed(1),
    metadata_timeout_budget_ms: input.metadataBudgetMs.toFixed(1),
  };
  if (la !== undefined && la.blendingMethod !== '') indicators.blending_method = la.blendingMethod;
  if (input.blueprint?.tier !== undefined) indicators.tier = input.blueprint.tier;
  if (input.packet.globalStep !== 0n) indicators.step_index = String(input.packet.globalStep);
  indicators.controller = 'gnn';
  indicators.policy_device = input.device;
  if (input.precision !== undefined && input.precision !== 'fp32') indicators.policy_precision = input.precision;
  if (input.realtime !== undefined) indicators.policy_realtime = input.realtime;
  indicators.decision = decision;
  indicators.priority = priorityName(priorityForEvents(levels));
  return buildTelemetryPacket(
    {
      packetId: `tamiyo-decision-${command.commandId}`,
      source: TAMIYO_SOURCE,
      metrics,
      events,
      health: { status, summary, indicators, derive: false },
    },
    { clock },
  );
}
