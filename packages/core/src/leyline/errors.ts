import { EsperError } from '../errors.js';

/**
 * Bytes (or JSON) that do not decode as the expected Leyline message: truncated or malformed
 * wire data, a field with the wrong wire type, invalid UTF-8 in a string field, or nesting
 * deeper than the recursion limit. Code `ESPER_LEYLINE_DECODE`; the protobuf-es error, if any,
 * is the `cause`.
 */
export class LeylineDecodeError extends EsperError<'ESPER_LEYLINE_DECODE'> {
  /** Fully qualified name of the message type that was expected (`esper.leyline.v1.…`). */
  readonly typeName: string;
  /** Length of the input in bytes (or characters, for JSON). */
  readonly byteLength: number;

  constructor(typeName: string, byteLength: number, reason: string, options?: { cause?: unknown }) {
    super(
      'ESPER_LEYLINE_DECODE',
      `Could not decode ${byteLength} bytes as ${typeName}: ${reason}. ` +
        'Check that the producer sends this message type and the same leyline.proto contract, and that the bytes were not truncated or re-encoded in transit.',
      options,
    );
    this.typeName = typeName;
    this.byteLength = byteLength;
  }
}

/**
 * A top-level Leyline message carries a contract `version` this build does not speak (not 1,
 * not unset). Code `ESPER_LEYLINE_VERSION_UNSUPPORTED`.
 */
export class LeylineVersionUnsupportedError extends EsperError<'ESPER_LEYLINE_VERSION_UNSUPPORTED'> {
  /** Fully qualified message type name. */
  readonly typeName: string;
  /** The version found in the message. */
  readonly version: number;

  constructor(typeName: string, version: number, supported: number) {
    super(
      'ESPER_LEYLINE_VERSION_UNSUPPORTED',
      `${typeName} carries contract version ${version}, but this build speaks version ${supported}. ` +
        'Upgrade @esper/core on the consumer (or downgrade the producer) so both use the same Leyline contract.',
    );
    this.typeName = typeName;
    this.version = version;
  }
}

/**
 * A `BusEnvelope` whose declared `message_type` does not fit: a payload message of another
 * schema than the declared type, an envelope of another type than the caller asked for, or a
 * type with no registered payload (UNSPECIFIED, or a number this build does not know).
 * Code `ESPER_LEYLINE_ENVELOPE_TYPE`.
 */
export class LeylineEnvelopeTypeError extends EsperError<'ESPER_LEYLINE_ENVELOPE_TYPE'> {
  constructor(message: string) {
    super('ESPER_LEYLINE_ENVELOPE_TYPE', message);
  }
}
