/**
 * Telemetry helpers: the Leyline `TelemetryPacket` builder and the one event-level → priority
 * and health mapping every producer and forwarder shares.
 *
 * @packageDocumentation
 */
export { TelemetryPacketInvalidError } from './errors.js';
export {
  PRIORITY_INDICATOR,
  priorityForLevel,
  priorityForEvents,
  priorityName,
  parsePriorityName,
  priorityFromIndicator,
  priorityForPacket,
} from './priority.js';
export { deriveHealth, HEALTHY_SUMMARY, type HealthInput, type HealthEvent, type DerivedHealth } from './health.js';
export {
  buildTelemetryPacket,
  type TelemetryPacketInput,
  type MetricInput,
  type EventInput,
  type HealthOptions,
  type BuildTelemetryOptions,
} from './builder.js';
export { TelemetryPacketBuilder, type TelemetryPacketBuilderOptions } from './packet-builder.js';
