import { EsperError } from '../errors.js';

/** A telemetry packet could not be built from the given input (empty id or source, unnamed metric, bad timestamp). */
export class TelemetryPacketInvalidError extends EsperError<'ESPER_TELEMETRY_PACKET_INVALID'> {
  constructor(message: string) {
    super('ESPER_TELEMETRY_PACKET_INVALID', message);
  }
}
