import { buildTelemetryPacket, priorityForEvents, priorityName, type Clock, type EventInput, type MetricInput } from '@esper/core';
import { TelemetryLevel, type MessagePriority, type TelemetryPacket } from '@esper/core/leyline';
import { TAMIYO_SOURCE } from '../heuristic/telemetry.js';
import type { TamiyoServiceStats } from './service.js';

/** Description of the INFO event of a reply stream the service deleted (attributes `stream`, `idle_ms`). */
export const REPLY_STREAM_EXPIRED_EVENT = 'reply_stream_expired';
/**
 * Description of the WARNING event of a packet whose window saw requests go unanswered
 * (attributes `expired`, `late`, `failed`, `unsent`: counts since the previous packet).
 */
export const SERVICE_DEGRADED_EVENT = 'service_degraded';

/** Counters of a service's telemetry (totals since start) and the gauges now: its {@link TamiyoServiceStats}. */
export type ServiceTelemetryCounts = TamiyoServiceStats;

/** One run's controller as the packet reports it. */
export interface ServiceRunReading {
  readonly trainingRunId: string;
  /** Requests decided by this controller since it was made. */
  readonly decisions: number;
  /** Time since its last request, ms. */
  readonly idleMs: number;
}

/** What {@link serviceTelemetryPacket} reports. */
export interface ServiceTelemetryInput {
  /** Sequence number of the packet (part of its id). */
  readonly sequence: number;
  readonly counts: ServiceTelemetryCounts;
  /** The counts of the previous packet (none: the first packet), for the window's degradation check. */
  readonly previous?: ServiceTelemetryCounts | undefined;
  /** Controller call times of the decisions since the previous packet, ms. */
  readonly latenciesMs: readonly number[];
  readonly runs: readonly ServiceRunReading[];
  /** Events since the previous packet (reply streams expired, …). */
  readonly events: readonly EventInput[];
  /** `tamiyo.service.maxQueued`, for the queue indicator. */
  readonly maxQueued: number;
}

/** Value at quantile `q` of `sorted` (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * The service's telemetry packet (source `tamiyo`, id `tamiyo-service-<sequence>`): totals
 * `tamiyo.service.{requests,answered,decided,duplicates,expired,late,failed,unsent,ignored}_total`,
 * housekeeping totals `tamiyo.service.reply_entries_trimmed_total` and
 * `tamiyo.service.reply_streams_expired_total`, gauges `tamiyo.service.queue_depth`,
 * `tamiyo.service.runs` and `tamiyo.service.reply_streams`, the window's decision latency
 * `tamiyo.service.decision_ms` (attribute `stat`: `p50`, `p99`, `max`; only when it saw
 * decisions) with `tamiyo.service.decisions_window`, and per run `tamiyo.service.run.decisions` and
 * `tamiyo.service.run.idle_ms` (attribute `training_run_id`). A window in which requests expired,
 * came late, failed or were not sent adds a {@link SERVICE_DEGRADED_EVENT} WARNING, so the packet
 * goes out at HIGH priority (Oona's emergency stream, when a sink publishes it through Oona); otherwise NORMAL.
 * The `priority` indicator names it, as in the controllers' packets.
 */
export function serviceTelemetryPacket(input: ServiceTelemetryInput, clock: Clock): { readonly packet: TelemetryPacket; readonly priority: MessagePriority } {
  const c = input.counts;
  const total = (name: string, value: number): MetricInput => ({ name: `tamiyo.service.${name}_total`, value, unit: 'count' });
  const metrics: MetricInput[] = [
    total('requests', c.received),
    total('answered', c.answered),
    total('decided', c.decided),
    total('duplicates', c.duplicates),
    total('expired', c.expired),
    total('late', c.late),
    total('failed', c.failed),
    total('unsent', c.unsent),
    total('ignored', c.ignored),
    total('reply_entries_trimmed', c.replyEntriesTrimmed),
    total('reply_streams_expired', c.replyStreamsDeleted),
    { name: 'tamiyo.service.queue_depth', value: c.pending, unit: 'count' },
    { name: 'tamiyo.service.runs', value: c.runs, unit: 'count' },
    { name: 'tamiyo.service.reply_streams', value: c.replyStreams, unit: 'count' },
    { name: 'tamiyo.service.decisions_window', value: input.latenciesMs.length, unit: 'count' },
  ];
  if (input.latenciesMs.length > 0) {
    const sorted = [...input.latenciesMs].sort((a, b) => a - b);
    metrics.push(
      { name: 'tamiyo.service.decision_ms', value: quantile(sorted, 0.5), unit: 'ms', attributes: { stat: 'p50' } },
      { name: 'tamiyo.service.decision_ms', value: quantile(sorted, 0.99), unit: 'ms', attributes: { stat: 'p99' } },
      { name: 'tamiyo.service.decision_ms', value: sorted[sorted.length - 1]!, unit: 'ms', attributes: { stat: 'max' } },
    );
  }
  for (const run of input.runs) {
    const attributes = { training_run_id: run.trainingRunId };
    metrics.push(
      { name: 'tamiyo.service.run.decisions', value: run.decisions, unit: 'count', attributes },
      { name: 'tamiyo.service.run.idle_ms', value: run.idleMs, unit: 'ms', attributes },
    );
  }
  const events: EventInput[] = [...input.events];
  const p = input.previous;
  const delta = (key: 'expired' | 'late' | 'failed' | 'unsent') => c[key] - (p?.[key] ?? 0);
  const window = { expired: delta('expired'), late: delta('late'), failed: delta('failed'), unsent: delta('unsent') };
  if (Object.values(window).some((v) => v > 0)) {
    events.push({
      description: SERVICE_DEGRADED_EVENT,
      level: TelemetryLevel.WARNING,
      attributes: Object.fromEntries(Object.entries(window).map(([k, v]) => [k, String(v)])),
    });
  }
  const priority = priorityForEvents(events.map((e) => e.level ?? TelemetryLevel.INFO));
  const packet = buildTelemetryPacket(
    {
      packetId: `tamiyo-service-${input.sequence}`,
      source: TAMIYO_SOURCE,
      metrics,
      events,
      health: {
        indicators: {
          queue_depth: String(c.pending),
          max_queued: String(input.maxQueued),
          runs: String(c.runs),
          reply_streams: String(c.replyStreams),
          priority: priorityName(priority),
        },
      },
    },
    { clock },
  );
  return { packet, priority };
}
