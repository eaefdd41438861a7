import { buildTelemetryPacket, type Clock, type MetricInput } from '@esper/core';
import type { AdaptationCommand, TelemetryPacket } from '@esper/core/leyline';
import { decisionName } from './commands.js';
import type { HeuristicDecision } from './rules.js';
import type { EpochSignals } from './signals.js';
import { isLive } from './stages.js';

/** `source_subsystem` of Tamiyo's telemetry. */
export const TAMIYO_SOURCE = 'tamiyo';

/** Description of the one event of a decision packet. */
export const DECISION_EVENT = 'heuristic_decision';

/** What a decision packet is built from. */
export interface DecisionTelemetryInput {
  readonly decision: HeuristicDecision;
  /** The signed command the decision became. */
  readonly command: AdaptationCommand;
  /** The signals the rules read (absent for a per-step WAIT). */
  readonly signals?: EpochSignals | undefined;
  /** Epoch of the packet decided on. */
  readonly epoch: number;
  /** Time spent deciding and signing, in ms. */
  readonly latencyMs: number;
}

/**
 * The telemetry packet of one heuristic decision (id `tamiyo-decision-<command id>`): the host
 * signals (`tamiyo.validation_accuracy` [pct], `tamiyo.validation_loss` [loss],
 * `tamiyo.heuristic.plateau_epochs` [epochs], `tamiyo.heuristic.host_stabilized` [bool],
 * `tamiyo.heuristic.epochs_since_cull` [epochs] after a cull, `tamiyo.heuristic.live_seeds`
 * [count]), `tamiyo.decision.confidence` [score], `tamiyo.decision.latency_ms` [ms], one
 * `tamiyo.heuristic.blueprint_penalty` [penalty] per penalised blueprint, and an INFO event
 * `heuristic_decision` whose attributes name the decision, rule, reason, seed, blueprint and
 * command. Health is HEALTHY with the reason as summary: a WAIT is the controller working, not a
 * degraded state.
 */
export function decisionTelemetry(input: DecisionTelemetryInput, clock: Clock): TelemetryPacket {
  const { decision, command, signals } = input;
  const metrics: MetricInput[] = [];
  if (signals !== undefined) {
    metrics.push(
      { name: 'tamiyo.validation_accuracy', value: signals.validationAccuracy, unit: 'pct' },
      { name: 'tamiyo.validation_loss', value: signals.validationLoss, unit: 'loss' },
      { name: 'tamiyo.heuristic.plateau_epochs', value: signals.plateauEpochs, unit: 'epochs' },
      { name: 'tamiyo.heuristic.host_stabilized', value: signals.hostStabilized ? 1 : 0, unit: 'bool' },
    );
    if (signals.epochsSinceCull !== undefined) {
      metrics.push({ name: 'tamiyo.heuristic.epochs_since_cull', value: signals.epochsSinceCull, unit: 'epochs' });
    }
    metrics.push({ name: 'tamiyo.heuristic.live_seeds', value: signals.seeds.filter((s) => isLive(s.stage)).length, unit: 'count' });
  }
  metrics.push(
    { name: 'tamiyo.decision.confidence', value: decision.confidence, unit: 'score' },
    { name: 'tamiyo.decision.latency_ms', value: input.latencyMs, unit: 'ms' },
  );
  for (const [blueprintId, penalty] of Object.entries(signals?.penalties ?? {})) {
    metrics.push({ name: 'tamiyo.heuristic.blueprint_penalty', value: penalty, unit: 'penalty', attributes: { blueprint_id: blueprintId } });
  }

  const name = decisionName(decision);
  const attributes: Record<string, string> = {
    decision: name,
    rule: decision.rule,
    reason: decision.reason,
    command_id: command.commandId,
    epoch: String(input.epoch),
  };
  if (decision.seedId !== undefined) attributes.seed_id = decision.seedId;
  if (decision.kind === 'seed' && decision.blueprintId !== undefined) attributes.blueprint_id = decision.blueprintId;

  return buildTelemetryPacket(
    {
      packetId: `tamiyo-decision-${command.commandId}`,
      source: TAMIYO_SOURCE,
      metrics,
      events: [{ description: DECISION_EVENT, attributes }],
      health: {
        summary: decision.reason,
        indicators: { controller: 'heuristic', decision: name, rule: decision.rule, epoch: String(input.epoch) },
      },
    },
    { clock },
  );
}
