import type { MessagePriority, TelemetryPacket } from '../../leyline/index.js';

/**
 * Where telemetry packets go (Leyline `TelemetryPacket`). A multi-provider port: every
 * registered sink receives every packet (console, file, Oona's telemetry stream, Nissa…).
 *
 * `priority` is the routing priority the producer derived from its events
 * (`system_health.indicators.priority`); Oona sends HIGH and CRITICAL to its emergency stream.
 * A sink must not throw for a single bad packet; it reports its own failures through the Logger.
 */
export interface TelemetrySink {
  /** Accepts one packet. May buffer; `flush()` forces delivery. */
  emit(packet: TelemetryPacket, priority: MessagePriority): void | Promise<void>;
  /** Delivers whatever is buffered. Called at shutdown and at epoch ends. */
  flush?(): Promise<void>;
}
