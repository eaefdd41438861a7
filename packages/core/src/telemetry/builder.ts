import { create } from '@bufbuild/protobuf';
import { TimestampSchema, timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  HealthStatus,
  MetricPointSchema,
  SystemHealthSchema,
  TelemetryEventSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
  type MetricPoint,
  type TelemetryEvent,
  type TelemetryPacket,
} from '../leyline/index.js';
import { SystemClock, type Clock } from '../kernel/ports/clock.js';
import { TelemetryPacketInvalidError } from './errors.js';
import { deriveHealth } from './health.js';
import { PRIORITY_INDICATOR, priorityForEvents, priorityName } from './priority.js';

/** One metric of a packet. */
export interface MetricInput {
  /** Metric name (non-empty), e.g. `tolaria.epoch.loss`. */
  readonly name: string;
  /** Value (a protobuf double). */
  readonly value: number;
  /** Unit, e.g. `ms`; written only when non-empty. */
  readonly unit?: string | undefined;
  /** Extra key/value labels; copied. */
  readonly attributes?: Readonly<Record<string, string>> | undefined;
}

/** One event of a packet. */
export interface EventInput {
  /** What happened, e.g. `seed_share_jump`. */
  readonly description: string;
  /** Severity; default INFO. Drives the packet's priority and, unless disabled, its health. */
  readonly level?: TelemetryLevel | undefined;
  /** Extra key/value details; copied. */
  readonly attributes?: Readonly<Record<string, string>> | undefined;
  /** Event id; default `evt-<n>`, `n` being its 1-based position in this packet's events. */
  readonly id?: string | undefined;
}

/** The `system_health` part of a packet. */
export interface HealthOptions {
  /**
   * Status. With `derive` (the default) this is the floor that events can only worsen; without,
   * it is written as given. Default HEALTHY.
   */
  readonly status?: HealthStatus | undefined;
  /** Summary for `status`; default `stable` when derived, `""` when not. */
  readonly summary?: string | undefined;
  /** Indicators, copied. A `priority` entry here is kept instead of the derived one. */
  readonly indicators?: Readonly<Record<string, string>> | undefined;
  /** A caller-known condition that degrades health (Tamiyo's PAUSE); see {@link deriveHealth}. */
  readonly degradedReason?: string | undefined;
  /** Derive status and summary from the events with {@link deriveHealth} (default true). */
  readonly derive?: boolean | undefined;
}

/** Everything a telemetry packet is built from. */
export interface TelemetryPacketInput {
  /** Packet id (non-empty). */
  readonly packetId: string;
  /** Producing subsystem, written as `source_subsystem` (non-empty). */
  readonly source: string;
  /** Packet level; default INFO. */
  readonly level?: TelemetryLevel | undefined;
  /** Metrics, written in this order. */
  readonly metrics?: readonly MetricInput[] | undefined;
  /** Events, written in this order. */
  readonly events?: readonly EventInput[] | undefined;
  /** Health status, summary and indicators. */
  readonly health?: HealthOptions | undefined;
  /** Packet time: a Timestamp, a Date or epoch ms. Default: the clock's wall time. */
  readonly timestamp?: Timestamp | Date | number | undefined;
}

/** Options of {@link buildTelemetryPacket}. */
export interface BuildTelemetryOptions {
  /** Clock for the packet timestamp when the input has none. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/**
 * Builds a Leyline `TelemetryPacket` (reference §3.4, plus the unified priority/health rules of
 * docs/decisions/0010):
 *
 * - header: `packet_id`, `source_subsystem`, `level`, `timestamp` (given, else `clock.nowMs()`);
 * - metrics and events in input order; a metric's unit only when non-empty; event level default
 *   INFO and id default `evt-<n>` (1-based position, so ids repeat across packets);
 * - `system_health` always present: status and summary from {@link deriveHealth} (unless
 *   `health.derive` is false), the given indicators, and `indicators.priority` set to the
 *   Leyline name of {@link priorityForEvents} unless the caller gave one.
 *
 * Inputs are copied; the packet shares no objects with them.
 *
 * @throws {@link TelemetryPacketInvalidError} (`ESPER_TELEMETRY_PACKET_INVALID`) for an empty
 *   packet id, source or metric name, or a timestamp that is not a finite instant.
 */
export function buildTelemetryPacket(input: TelemetryPacketInput, options: BuildTelemetryOptions = {}): TelemetryPacket {
  if (input.packetId === '') throw new TelemetryPacketInvalidError('Telemetry packet id is empty: give every packet a non-empty packetId.');
  if (input.source === '') throw new TelemetryPacketInvalidError(`Telemetry packet "${input.packetId}" has an empty source: set source to the producing subsystem's name.`);

  const metrics: MetricPoint[] = (input.metrics ?? []).map((metric, index) => {
    if (metric.name === '') {
      throw new TelemetryPacketInvalidError(`Metric #${index + 1} of telemetry packet "${input.packetId}" has an empty name: name every metric.`);
    }
    return create(MetricPointSchema, {
      name: metric.name,
      value: metric.value,
      ...(metric.unit ? { unit: metric.unit } : {}),
      attributes: { ...metric.attributes },
    });
  });

  const events: TelemetryEvent[] = (input.events ?? []).map((event, index) =>
    create(TelemetryEventSchema, {
      eventId: event.id ?? `evt-${index + 1}`,
      description: event.description,
      level: event.level ?? TelemetryLevel.INFO,
      attributes: { ...event.attributes },
    }),
  );

  const health = input.health ?? {};
  const { status, summary } =
    health.derive === false
      ? { status: health.status ?? HealthStatus.HEALTHY, summary: health.summary ?? '' }
      : deriveHealth({ events, status: health.status, summary: health.summary, degradedReason: health.degradedReason });
  const indicators: Record<string, string> = { ...health.indicators };
  if (!Object.hasOwn(indicators, PRIORITY_INDICATOR)) {
    indicators[PRIORITY_INDICATOR] = priorityName(priorityForEvents(events.map((e) => e.level)));
  }

  return create(TelemetryPacketSchema, {
    packetId: input.packetId,
    timestamp: toTimestamp(input.timestamp, options.clock, input.packetId),
    sourceSubsystem: input.source,
    level: input.level ?? TelemetryLevel.INFO,
    metrics,
    events,
    systemHealth: create(SystemHealthSchema, { status, summary, indicators }),
  });
}

function toTimestamp(value: Timestamp | Date | number | undefined, clock: Clock | undefined, packetId: string): Timestamp {
  if (value !== undefined && typeof value === 'object' && !(value instanceof Date)) {
    return create(TimestampSchema, { seconds: value.seconds, nanos: value.nanos });
  }
  const ms = value === undefined ? (clock ?? new SystemClock()).nowMs() : value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms)) {
    throw new TelemetryPacketInvalidError(`Telemetry packet "${packetId}" has an invalid timestamp (${String(value)}): pass epoch milliseconds, a valid Date or a Timestamp.`);
  }
  return timestampFromMs(ms);
}
