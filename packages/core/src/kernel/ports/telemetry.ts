import type { MessagePriority, TelemetryPacket } from '../../leyline/index.js';

/**
 * The run's telemetry hub, a kernel default: producers (Tolaria, Kasmina, Tamiyo, your plugin)
 * emit each `TelemetryPacket` here once, and it is delivered to every `TelemetrySink` of the run.
 *
 * `emit` resolves when every sink has accepted the packet. A sink that throws or rejects does
 * not stop the others and is never reported to the producer: the hub counts and logs it.
 */
export interface Telemetry {
  /** Delivers `packet` to every sink, with the routing priority the producer derived for it. */
  emit(packet: TelemetryPacket, priority: MessagePriority): Promise<void>;
  /** Flushes every sink that buffers (those with a `flush()`); failures are counted and logged. */
  flush(): Promise<void>;
}
