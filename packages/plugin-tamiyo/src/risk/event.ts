import type { EventInput } from '@esper/core';
import type { TelemetryLevel } from '@esper/core/leyline';

/**
 * One event of the risk engine: a telemetry event (`buildTelemetryPacket`'s `EventInput`) whose
 * level and attributes are always set. Descriptions, levels and attribute texts are the
 * reference's (tamiyo §9), so they are wire-visible.
 */
export interface RiskEvent extends EventInput {
  readonly description: string;
  readonly level: TelemetryLevel;
  readonly attributes: Readonly<Record<string, string>>;
}
