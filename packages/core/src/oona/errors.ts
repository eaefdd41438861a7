import { EsperError } from '../errors.js';

/** A stream backend operation failed (connection lost, server error, injected fault). */
export class OonaBackendError extends EsperError<'ESPER_OONA_BACKEND'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_OONA_BACKEND', message, options);
  }
}

/** The consumer group does not exist on the stream (Redis `NOGROUP`). */
export class OonaNoGroupError extends EsperError<'ESPER_OONA_NO_GROUP'> {
  constructor(
    readonly stream: string,
    readonly group: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ESPER_OONA_NO_GROUP',
      `Consumer group "${group}" does not exist on stream "${stream}". Call ensureGroups() before consuming.`,
      options,
    );
  }
}

/** The consumer group already exists (Redis `BUSYGROUP`); `ensureGroups` treats it as success. */
export class OonaBusyGroupError extends EsperError<'ESPER_OONA_BUSY_GROUP'> {
  constructor(
    readonly stream: string,
    readonly group: string,
    options?: { cause?: unknown },
  ) {
    super('ESPER_OONA_BUSY_GROUP', `Consumer group "${group}" already exists on stream "${stream}".`, options);
  }
}

/** An explicit entry id was not greater than the stream's last id (Redis `ERR ... equal or smaller`). */
export class OonaIdTooSmallError extends EsperError<'ESPER_OONA_ID_TOO_SMALL'> {
  constructor(stream: string, id: string, lastId: string) {
    super(
      'ESPER_OONA_ID_TOO_SMALL',
      `Entry id ${id} is not greater than the last id ${lastId} of stream "${stream}".`,
    );
  }
}

/**
 * A string that is not a stream entry id: ids are `<ms>-<seq>`, two unsigned 64-bit integers
 * (each at most 18446744073709551615).
 */
export class OonaStreamIdError extends EsperError<'ESPER_OONA_STREAM_ID'> {
  constructor(readonly id: string) {
    super(
      'ESPER_OONA_STREAM_ID',
      `"${id.length > 64 ? `${id.slice(0, 64)}…` : id}" is not a stream id: an id is <ms>-<seq>, two unsigned 64-bit integers (as Redis writes them).`,
    );
  }
}

/**
 * A backend call whose outcome is unknown: it was sent, and the connection was lost before the
 * reply came. An append may or may not have been stored; the client reports such a publish as
 * `'unknown'` and does not send it again.
 */
export class OonaOutcomeUnknownError extends EsperError<'ESPER_OONA_OUTCOME_UNKNOWN'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_OONA_OUTCOME_UNKNOWN', message, options);
  }
}

/** The backend could not be reached when the client started. The URL in the message has credentials masked. */
export class OonaUnreachableError extends EsperError<'ESPER_OONA_UNREACHABLE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_OONA_UNREACHABLE', message, options);
  }
}

/** The client or backend was closed; no further operations are accepted. */
export class OonaClosedError extends EsperError<'ESPER_OONA_CLOSED'> {
  constructor(what = 'Oona client') {
    super('ESPER_OONA_CLOSED', `${what} is closed. Create a new one (or start a new run) to keep using the bus.`);
  }
}

/** A blocking read was cancelled through its AbortSignal or by close(). */
export class OonaReadCancelledError extends EsperError<'ESPER_OONA_READ_CANCELLED'> {
  constructor() {
    super('ESPER_OONA_READ_CANCELLED', 'A blocking stream read was cancelled.');
  }
}

/** Settings are inconsistent (e.g. two logical streams share the dead-letter stream). */
export class OonaConfigError extends EsperError<'ESPER_OONA_CONFIG'> {
  constructor(message: string) {
    super('ESPER_OONA_CONFIG', message);
  }
}

/**
 * A stream operation meant for streams outside the catalogue was asked of one of Oona's own
 * streams: `trimStream` and `deleteStream` of a catalogue stream (housekeeping trims those by the
 * configured bounds, and every client reads them), `deleteGroup` of the client's own group on one.
 */
export class OonaCatalogueStreamError extends EsperError<'ESPER_OONA_CATALOGUE_STREAM'> {
  constructor(
    readonly operation: 'trimStream' | 'deleteStream' | 'deleteGroup',
    readonly stream: string,
  ) {
    super(
      'ESPER_OONA_CATALOGUE_STREAM',
      `${operation} refused "${stream}": it is one of Oona's own streams. Housekeeping trims those by oona.messageTtlMs and oona.maxStreamLength; ${operation} is for streams (and groups) of your own.`,
    );
  }
}

/**
 * A message type or schema that no Oona stream carries: `UNSPECIFIED`, a number this build does
 * not know, or a schema that is not a bus payload (e.g. a nested message).
 */
export class OonaUnroutableError extends EsperError<'ESPER_OONA_UNROUTABLE'> {
  private constructor(message: string) {
    super('ESPER_OONA_UNROUTABLE', message);
  }

  /** For `publish(type, …)` and `publishBatch` items. */
  static forType(messageType: number): OonaUnroutableError {
    return new OonaUnroutableError(
      `BusMessageType ${messageType} cannot be published: no stream routes it. Use one of the types in BUS_PAYLOAD_SCHEMAS (@esper/core/leyline).`,
    );
  }

  /** For `publishMessage(schema, …)` and typed `subscribe`/`consume`. */
  static forSchema(typeName: string): OonaUnroutableError {
    return new OonaUnroutableError(
      `${typeName} is not carried on the bus: no BusMessageType maps to it. Pass one of the payload schemas in BUS_PAYLOAD_SCHEMAS (@esper/core/leyline), e.g. SystemStatePacketSchema.`,
    );
  }
}
