import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { TelemetryLevel, TelemetryPacket } from '../leyline/index.js';
import type { Clock } from '../kernel/ports/clock.js';
import { buildTelemetryPacket, type EventInput, type HealthOptions, type MetricInput } from './builder.js';

/** Options of {@link TelemetryPacketBuilder}. */
export interface TelemetryPacketBuilderOptions {
  /** Packet id (non-empty). */
  readonly packetId: string;
  /** Producing subsystem (non-empty). */
  readonly source: string;
  /** Packet level; default INFO. */
  readonly level?: TelemetryLevel | undefined;
  /** Clock for the timestamp when none is set with {@link TelemetryPacketBuilder.timestamp}. Default: system clock. */
  readonly clock?: Clock | undefined;
}

/**
 * Fluent front end of {@link buildTelemetryPacket} for producers that gather metrics and
 * events step by step:
 *
 * ```ts
 * const packet = new TelemetryPacketBuilder({ packetId: 'tolaria-epoch-3', source: 'tolaria', clock })
 *   .metric('tolaria.epoch.loss', 0.42, 'loss')
 *   .event('latency_high', { level: TelemetryLevel.WARNING })
 *   .indicator('epoch', '3')
 *   .build();
 * ```
 *
 * `build()` may be called more than once; each call returns a new packet.
 */
export class TelemetryPacketBuilder {
  private readonly metrics: MetricInput[] = [];
  private readonly events: EventInput[] = [];
  private readonly indicators: Record<string, string> = {};
  private healthOptions: Omit<HealthOptions, 'indicators'> = {};
  private time: Timestamp | Date | number | undefined;

  constructor(private readonly options: TelemetryPacketBuilderOptions) {}

  /** Appends a metric; `unit` is written only when non-empty. */
  metric(name: string, value: number, unit?: string, attributes?: Readonly<Record<string, string>>): this {
    this.metrics.push({ name, value, unit, attributes: { ...attributes } });
    return this;
  }

  /** Appends an event (level default INFO, id default `evt-<n>`). */
  event(description: string, details: Omit<EventInput, 'description'> = {}): this {
    this.events.push({ ...details, description, attributes: { ...details.attributes } });
    return this;
  }

  /** Sets one health indicator (setting `priority` overrides the derived one). */
  indicator(key: string, value: string): this {
    this.indicators[key] = value;
    return this;
  }

  /** Sets health status/summary/derivation options (see {@link HealthOptions}); merges with earlier calls. */
  health(options: Omit<HealthOptions, 'indicators'>): this {
    this.healthOptions = { ...this.healthOptions, ...options };
    return this;
  }

  /** Fixes the packet time (Timestamp, Date or epoch ms) instead of reading the clock. */
  timestamp(value: Timestamp | Date | number): this {
    this.time = value;
    return this;
  }

  /**
   * Builds the packet.
   *
   * @throws {@link TelemetryPacketInvalidError} as {@link buildTelemetryPacket} does.
   */
  build(): TelemetryPacket {
    return buildTelemetryPacket(
      {
        packetId: this.options.packetId,
        source: this.options.source,
        level: this.options.level,
        metrics: this.metrics,
        events: this.events,
        health: { ...this.healthOptions, indicators: this.indicators },
        timestamp: this.time,
      },
      { clock: this.options.clock },
    );
  }
}
