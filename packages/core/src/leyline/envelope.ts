import { toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  AdaptationCommandSchema,
  BenchmarkReportSchema,
  BSDSFailedSchema,
  BSDSIssuedSchema,
  BusEnvelopeSchema,
  BusMessageType,
  BusMessageTypeSchema,
  EmergencySignalSchema,
  FieldReportSchema,
  KernelArtifactErrorSchema,
  KernelArtifactReadySchema,
  KernelCatalogUpdateSchema,
  KernelPrefetchRequestSchema,
  PolicyUpdateSchema,
  SystemStatePacketSchema,
  TelemetryPacketSchema,
  type BusEnvelope,
} from '../../gen/leyline_pb.js';
import { decodeMessage, type DecodeOptions } from './decode.js';
import { enumName } from './enums.js';
import { LeylineDecodeError, LeylineEnvelopeTypeError } from './errors.js';

/**
 * The payload schema of each `BusMessageType` (reference §1.4): the one table that wrapping,
 * unwrapping and routing consult. `UNSPECIFIED` has no payload.
 */
export const BUS_PAYLOAD_SCHEMAS = {
  [BusMessageType.SYSTEM_STATE]: SystemStatePacketSchema,
  [BusMessageType.ADAPTATION_COMMAND]: AdaptationCommandSchema,
  [BusMessageType.FIELD_REPORT]: FieldReportSchema,
  [BusMessageType.TELEMETRY]: TelemetryPacketSchema,
  [BusMessageType.POLICY_UPDATE]: PolicyUpdateSchema,
  [BusMessageType.KERNEL_PREFETCH_REQUEST]: KernelPrefetchRequestSchema,
  [BusMessageType.KERNEL_PREFETCH_READY]: KernelArtifactReadySchema,
  [BusMessageType.KERNEL_PREFETCH_ERROR]: KernelArtifactErrorSchema,
  [BusMessageType.KERNEL_CATALOG_UPDATE]: KernelCatalogUpdateSchema,
  [BusMessageType.EMERGENCY_SIGNAL]: EmergencySignalSchema,
  [BusMessageType.BSDS_ISSUED]: BSDSIssuedSchema,
  [BusMessageType.BSDS_FAILED]: BSDSFailedSchema,
  [BusMessageType.BENCHMARK_REPORT]: BenchmarkReportSchema,
} as const satisfies Readonly<Partial<Record<BusMessageType, DescMessage>>>;

/** A `BusMessageType` that carries a payload (every value except `UNSPECIFIED`). */
export type BusPayloadType = keyof typeof BUS_PAYLOAD_SCHEMAS;

/** The payload schema of bus message type `T`. */
export type BusPayloadSchema<T extends BusPayloadType> = (typeof BUS_PAYLOAD_SCHEMAS)[T];

/** The payload message of bus message type `T` (e.g. `TelemetryPacket` for `TELEMETRY`). */
export type BusPayload<T extends BusPayloadType> = MessageShape<BusPayloadSchema<T>>;

/** An unwrapped envelope of type `T`: its payload decoded, its attributes, the envelope itself. */
export interface UnwrappedEnvelopeOf<T extends BusPayloadType> {
  /** The declared type; narrows `message` in a `switch`. */
  readonly messageType: T;
  /** The decoded payload. */
  readonly message: BusPayload<T>;
  /** The envelope's string attributes (e.g. `origin`, `level`, `attempt`). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The decoded envelope (payload still as bytes). */
  readonly envelope: BusEnvelope;
}

/** Result of {@link unwrapEnvelope}: a union discriminated by `messageType`. */
export type UnwrappedEnvelope = { [T in BusPayloadType]: UnwrappedEnvelopeOf<T> }[BusPayloadType];

const typeBySchemaName = new Map<string, BusPayloadType>(
  (Object.entries(BUS_PAYLOAD_SCHEMAS) as [string, DescMessage][]).map(([type, schema]) => [schema.typeName, Number(type) as BusPayloadType]),
);

function typeLabel(type: number): string {
  return enumName(BusMessageTypeSchema, type) ?? `BusMessageType ${type}`;
}

/** True when `type` has a registered payload schema. */
export function isBusPayloadType(type: number): type is BusPayloadType {
  return Object.hasOwn(BUS_PAYLOAD_SCHEMAS, type);
}

/** The payload schema of `type`, or `undefined` for UNSPECIFIED and unknown numbers. */
export function payloadSchemaFor(type: BusMessageType | number): DescMessage | undefined {
  return isBusPayloadType(type) ? BUS_PAYLOAD_SCHEMAS[type] : undefined;
}

/**
 * The bus message type that carries messages of schema `Desc` (e.g. `TELEMETRY` for
 * `TelemetryPacketSchema`); `never` for a schema that no bus message type carries.
 */
export type BusTypeOf<Desc extends DescMessage> = {
  [T in BusPayloadType]: BusPayloadSchema<T> extends Desc ? (Desc extends BusPayloadSchema<T> ? T : never) : never;
}[BusPayloadType];

/**
 * The bus message type whose payload is `schema` (a schema, or its type name such as
 * `esper.leyline.v1.TelemetryPacket`), or undefined when no bus message type carries it. The
 * one schema → type table: Oona routes `publishMessage` and typed subscriptions through it.
 */
export function busMessageTypeOf<Desc extends BusPayloadSchema<BusPayloadType>>(schema: Desc): BusTypeOf<Desc>;
export function busMessageTypeOf(schema: DescMessage | string): BusPayloadType | undefined;
export function busMessageTypeOf(schema: DescMessage | string): BusPayloadType | undefined {
  return typeBySchemaName.get(typeof schema === 'string' ? schema : schema.typeName);
}

/**
 * Wraps a payload in a `BusEnvelope` of the given type (payload encoded with `toBinary`;
 * bus signatures cover the stored envelope bytes, so no deterministic encoding is needed).
 *
 * @throws LeylineEnvelopeTypeError when `message` is not of the schema registered for `type`
 *   (e.g. a `FieldReport` declared as `TELEMETRY`).
 */
export function wrapEnvelope<T extends BusPayloadType>(type: T, message: BusPayload<T>, attributes: Readonly<Record<string, string>> = {}): BusEnvelope {
  const schema: DescMessage | undefined = payloadSchemaFor(type);
  if (schema === undefined) {
    throw new LeylineEnvelopeTypeError(`${typeLabel(type)} has no payload schema; choose one of the BusMessageType values listed in BUS_PAYLOAD_SCHEMAS.`);
  }
  const actual = (message as { $typeName?: unknown }).$typeName;
  if (actual !== schema.typeName) {
    throw new LeylineEnvelopeTypeError(
      `Cannot wrap a ${String(actual)} as ${typeLabel(type)}: that type carries ${schema.typeName}. ` +
        'Pass the matching BusMessageType (see busMessageTypeOf) or the right message.',
    );
  }
  return {
    $typeName: BusEnvelopeSchema.typeName,
    messageType: type,
    payload: toBinary(schema, message),
    attributes: { ...attributes },
  };
}

/** {@link wrapEnvelope}, then the envelope's wire bytes (what goes into a stream entry's `payload`). */
export function encodeEnvelope<T extends BusPayloadType>(type: T, message: BusPayload<T>, attributes?: Readonly<Record<string, string>>): Uint8Array {
  return toBinary(BusEnvelopeSchema, wrapEnvelope(type, message, attributes));
}

/** What a value is, for messages about input of the wrong type. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

/** Why `value` is not a decoded `BusEnvelope`, or undefined when it is one. */
function envelopeProblem(value: object): string | undefined {
  const e = value as Partial<Record<keyof BusEnvelope, unknown>>;
  if (e.$typeName !== BusEnvelopeSchema.typeName) return `an object that is not a ${BusEnvelopeSchema.typeName} ($typeName ${String(e.$typeName)})`;
  if (typeof e.messageType !== 'number' || !Number.isInteger(e.messageType)) return 'a BusEnvelope whose messageType is not an integer';
  if (!(e.payload instanceof Uint8Array)) return `a BusEnvelope whose payload is ${kindOf(e.payload)}, not a Uint8Array`;
  const attributes = e.attributes;
  if (attributes === null || typeof attributes !== 'object') return 'a BusEnvelope whose attributes are not an object';
  for (const key in attributes) {
    if (typeof (attributes as Record<string, unknown>)[key] !== 'string') return `a BusEnvelope whose attribute "${key}" is not a string`;
  }
  return undefined;
}

/**
 * The envelope of `input`: bytes are decoded, a decoded `BusEnvelope` is checked and kept.
 *
 * @throws LeylineDecodeError for anything else (null, numbers, plain objects, ArrayBuffers…),
 *   or bytes that do not decode.
 */
function toEnvelope(input: Uint8Array | BusEnvelope, options: DecodeOptions | undefined): BusEnvelope {
  if (input instanceof Uint8Array) return decodeMessage(BusEnvelopeSchema, input, options);
  const problem =
    input === null || typeof input !== 'object'
      ? `${kindOf(input)} is not envelope bytes (a Uint8Array) or a BusEnvelope`
      : envelopeProblem(input);
  if (problem !== undefined) {
    const hint = input instanceof ArrayBuffer ? ' (wrap an ArrayBuffer in a Uint8Array)' : '';
    throw new LeylineDecodeError(BusEnvelopeSchema.typeName, 0, `expected envelope bytes or a BusEnvelope, got ${problem}${hint}`);
  }
  return input;
}

/**
 * Decodes an envelope (bytes or an already decoded `BusEnvelope`) and its payload by the
 * declared `message_type`. Switch on `messageType` to narrow `message`.
 *
 * @throws LeylineDecodeError when the envelope or the payload bytes do not decode, or `input`
 *   is neither bytes nor a `BusEnvelope` (null, a number, a plain object, an ArrayBuffer).
 * @throws LeylineEnvelopeTypeError when the declared type has no payload schema
 *   (UNSPECIFIED, or a number this build does not know).
 */
export function unwrapEnvelope(input: Uint8Array | BusEnvelope, options?: DecodeOptions): UnwrappedEnvelope {
  const envelope = toEnvelope(input, options);
  const type = envelope.messageType;
  if (!isBusPayloadType(type)) {
    throw new LeylineEnvelopeTypeError(
      `Cannot unwrap an envelope of ${typeLabel(type)}: no payload schema is registered for it. ` +
        'The producer may use a newer Leyline contract; upgrade @esper/core, or drop the message.',
    );
  }
  const message = decodeMessage(BUS_PAYLOAD_SCHEMAS[type], envelope.payload, options);
  return { messageType: type, message, attributes: envelope.attributes, envelope } as UnwrappedEnvelope;
}

/**
 * Decodes an envelope that must be of type `type` and returns its payload.
 *
 * @throws LeylineEnvelopeTypeError when the envelope declares another type.
 * @throws LeylineDecodeError when the envelope or the payload bytes do not decode, or `input`
 *   is neither bytes nor a `BusEnvelope`.
 */
export function unwrapAs<T extends BusPayloadType>(type: T, input: Uint8Array | BusEnvelope, options?: DecodeOptions): BusPayload<T> {
  const envelope = toEnvelope(input, options);
  if (envelope.messageType !== type) {
    throw new LeylineEnvelopeTypeError(
      `Expected an envelope of ${typeLabel(type)} but got ${typeLabel(envelope.messageType)}. ` +
        'Check the stream routing, or use unwrapEnvelope to accept any type.',
    );
  }
  return decodeMessage(BUS_PAYLOAD_SCHEMAS[type], envelope.payload, options) as BusPayload<T>;
}
