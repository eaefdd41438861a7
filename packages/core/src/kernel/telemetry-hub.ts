import type { MessagePriority, TelemetryPacket } from '../leyline/index.js';
import type { EventBus } from './events.js';
import type { Logger } from './ports/logger.js';
import type { Telemetry } from './ports/telemetry.js';
import type { TelemetrySink } from './ports/telemetry-sink.js';

/** A sink and the name of whoever provided it (a plugin name), for failure logs. */
export interface NamedSink {
  readonly sink: TelemetrySink;
  readonly provider: string;
}

/** Options of {@link TelemetryHub}. */
export interface TelemetryHubOptions {
  /** The sinks to deliver to, read at every emit (the run's `TelemetrySink` providers, in boot order). */
  readonly sinks: () => readonly NamedSink[];
  /** Where `telemetry:emitted` is announced after delivery. */
  readonly events?: EventBus;
  /** Where sink failures are logged. */
  readonly logger?: Logger;
}

/**
 * The kernel's default {@link Telemetry}: delivers each packet to every sink. Sinks are called in
 * order and awaited together; one that throws or rejects is counted ({@link TelemetryHub.sinkFailures})
 * and logged, and the others still get the packet. After delivery the packet is announced on the
 * bus as `telemetry:emitted`.
 */
export class TelemetryHub implements Telemetry {
  private failures = 0;

  constructor(private readonly options: TelemetryHubOptions) {}

  async emit(packet: TelemetryPacket, priority: MessagePriority): Promise<void> {
    const sinks = this.options.sinks();
    await Promise.all(
      sinks.map(async ({ sink, provider }) => {
        try {
          await sink.emit(packet, priority);
        } catch (error) {
          this.fail('emit', provider, error);
        }
      }),
    );
    this.options.events?.emit('telemetry:emitted', { packet, priority });
  }

  async flush(): Promise<void> {
    await Promise.all(
      this.options.sinks().map(async ({ sink, provider }) => {
        try {
          await sink.flush?.();
        } catch (error) {
          this.fail('flush', provider, error);
        }
      }),
    );
  }

  /** How many sink calls (emit or flush) have thrown or rejected so far. */
  get sinkFailures(): number {
    return this.failures;
  }

  private fail(operation: 'emit' | 'flush', provider: string, error: unknown): void {
    this.failures += 1;
    this.options.logger?.warn(`telemetry sink ${operation} failed`, {
      provider,
      error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
    });
  }
}
