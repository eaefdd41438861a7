import { buildTelemetryPacket, type Clock, type EventInput, type MetricInput } from '@esper/core';
import { TelemetryLevel, type AdaptationCommand, type TelemetryPacket } from '@esper/core/leyline';
import { averageCoverage, type Coverage } from '../graph/builder.js';
import type { LastAction } from '../policy/decode.js';
import { TAMIYO_SOURCE } from '../heuristic/telemetry.js';

/** Description of the INFO event of every GNN decision. */
export const GNN_DECISION_EVENT = 'gnn_decision';
/** Description of the WARNING event of a decision past the step budget (reference name). */
export const TIMEOUT_INFERENCE_EVENT = 'timeout_inference';
/** Description of the WARNING event of a failed inference (the decision is the neutral PAUSE). */
export const INFERENCE_ERROR_EVENT = 'inference_error';

/** What one GNN decision packet is built from. */
export interface GnnTelemetryInput {
  readonly command: AdaptationCommand;
  readonly epoch: number;
  readonly validationLoss: number;
  /** Graph build + inference + decoding + signing, ms. */
  readonly latencyMs: number;
  /** Inference alone (0 on the no-seed fast path), ms. */
  readonly inferenceMs: number;
  readonly warmUpMs: number;
  readonly fallbacks: number;
  readonly device: string;
  readonly architecture: string;
  readonly budgetMs: number;
  readonly seeds: number;
  readonly coverage: Coverage;
  readonly lastAction?: LastAction | undefined;
  readonly timedOut: boolean;
  readonly error?: string | undefined;
}

/**
 * The telemetry packet of one GNN decision (id `tamiyo-decision-<command id>`): metrics
 * `tamiyo.validation_loss` [loss], `tamiyo.decision.latency_ms` [ms], `tamiyo.gnn.inference_ms`
 * [ms], `tamiyo.gnn.compile_warm_ms` [ms] (every packet, P2), `tamiyo.gnn.compile_fallback_total`
 * [count] (when > 0), `tamiyo.gnn.feature_coverage` [ratio], `tamiyo.gnn.seed_count` [count],
 * and after a model decision `tamiyo.gnn.value_estimate` and `tamiyo.gnn.risk_score` [score];
 * events `gnn_decision` (INFO), `timeout_inference` (WARNING, `budget_ms`) or `inference_error`
 * (WARNING); indicators `controller`, `policy_arch`, `policy_device`, `timeout_budget_ms`,
 * `decision` and the derived `priority` (HIGH after a timeout).
 */
export function gnnDecisionTelemetry(input: GnnTelemetryInput, clock: Clock): TelemetryPacket {
  const { command } = input;
  const metrics: MetricInput[] = [
    { name: 'tamiyo.validation_loss', value: input.validationLoss, unit: 'loss' },
    { name: 'tamiyo.decision.latency_ms', value: input.latencyMs, unit: 'ms' },
    { name: 'tamiyo.gnn.inference_ms', value: input.inferenceMs, unit: 'ms' },
    { name: 'tamiyo.gnn.compile_warm_ms', value: input.warmUpMs, unit: 'ms' },
  ];
  if (input.fallbacks > 0) metrics.push({ name: 'tamiyo.gnn.compile_fallback_total', value: input.fallbacks, unit: 'count' });
  metrics.push(
    { name: 'tamiyo.gnn.feature_coverage', value: averageCoverage(input.coverage), unit: 'ratio' },
    { name: 'tamiyo.gnn.seed_count', value: input.seeds, unit: 'count' },
  );
  if (input.lastAction !== undefined && !input.timedOut) {
    metrics.push(
      { name: 'tamiyo.gnn.value_estimate', value: input.lastAction.valueEstimate, unit: 'score' },
      { name: 'tamiyo.gnn.risk_score', value: input.lastAction.riskScore, unit: 'score' },
    );
  }
  const decision = command.annotations.decision ?? 'wait';
  const events: EventInput[] = [
    {
      description: GNN_DECISION_EVENT,
      attributes: {
        decision,
        reason: command.annotations.reason ?? '',
        command_id: command.commandId,
        target_seed_id: command.targetSeedId,
        policy_action: command.annotations.policy_action ?? '',
        epoch: String(input.epoch),
      },
    },
  ];
  if (input.timedOut) events.push({ description: TIMEOUT_INFERENCE_EVENT, level: TelemetryLevel.WARNING, attributes: { budget_ms: input.budgetMs.toFixed(1) } });
  if (input.error !== undefined) events.push({ description: INFERENCE_ERROR_EVENT, level: TelemetryLevel.WARNING, attributes: { error: input.error } });
  return buildTelemetryPacket(
    {
      packetId: `tamiyo-decision-${command.commandId}`,
      source: TAMIYO_SOURCE,
      metrics,
      events,
      health: {
        summary: command.annotations.reason ?? decision,
        indicators: {
          controller: 'gnn',
          policy_arch: input.architecture,
          policy_device: input.device,
          timeout_budget_ms: input.budgetMs.toFixed(1),
          decision,
        },
      },
    },
    { clock },
  );
}
