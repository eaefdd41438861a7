import { EsperError } from '../errors.js';
import type { BusMessageType } from '../leyline/index.js';

/**
 * A direct codec for Leyline `BusEnvelope` (field 1 `message_type` varint, field 2 `payload`
 * bytes, field 3 `attributes` map<string,string>), byte-compatible with protobuf-es and the
 * Python reference for the same values. The envelope is on every publish and consume, and
 * reflection-based encoding dominated the in-memory fabric's cost; the unit tests check this
 * codec against protobuf-es in both directions, and that it accepts and rejects exactly what
 * Leyline's `decodeMessage` does (seeded property test). Unknown fields are skipped when
 * decoding (groups included).
 *
 * Internal to the Oona client: no entry point of `@esper/core` exports it. The public envelope
 * codec is Leyline's (`wrapEnvelope`/`encodeEnvelope`/`unwrapEnvelope` in `@esper/core/leyline`),
 * which works on typed messages; this one takes payload bytes, as the publish path has them.
 */

/** A decoded envelope; `payload` is a view into the input bytes. */
export interface DecodedEnvelope {
  readonly messageType: BusMessageType;
  readonly payload: Uint8Array;
  readonly attributes: Record<string, string>;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Thrown for bytes that are not a well-formed envelope; the Oona client counts them as `decode_rejected`. */
export class EnvelopeDecodeError extends EsperError<'ESPER_OONA_ENVELOPE_DECODE'> {
  constructor(message: string) {
    super('ESPER_OONA_ENVELOPE_DECODE', `not a BusEnvelope: ${message}`);
  }
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Encodes an envelope around payload bytes (enum values are written as proto3 does: negative as 10-byte varints). */
export function writeEnvelope(
  messageType: BusMessageType,
  payload: Uint8Array,
  attributes?: Readonly<Record<string, string>>,
): Uint8Array {
  let entries: Array<[Uint8Array, Uint8Array, number]> | undefined;
  let size = 0;
  if (messageType !== 0) size += 1 + (messageType < 0 ? 10 : varintSize(messageType));
  if (payload.length > 0) size += 1 + varintSize(payload.length) + payload.length;
  if (attributes !== undefined) {
    for (const key in attributes) {
      const k = textEncoder.encode(key);
      const v = textEncoder.encode(attributes[key]!);
      const inner = 1 + varintSize(k.length) + k.length + 1 + varintSize(v.length) + v.length;
      (entries ??= []).push([k, v, inner]);
      size += 1 + varintSize(inner) + inner;
    }
  }
  const out = new Uint8Array(size);
  let pos = 0;
  if (messageType !== 0) {
    out[pos++] = 0x08;
    if (messageType < 0) {
      // Two's complement, 64 bits.
      let big = BigInt.asUintN(64, BigInt(messageType));
      for (let i = 0; i < 9; i++) {
        out[pos++] = Number(big & 0x7fn) | 0x80;
        big >>= 7n;
      }
      out[pos++] = Number(big);
    } else pos = writeVarint(out, pos, messageType);
  }
  if (payload.length > 0) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, payload.length);
    out.set(payload, pos);
    pos += payload.length;
  }
  if (entries !== undefined) {
    for (const [k, v, inner] of entries) {
      out[pos++] = 0x1a;
      pos = writeVarint(out, pos, inner);
      out[pos++] = 0x0a;
      pos = writeVarint(out, pos, k.length);
      out.set(k, pos);
      pos += k.length;
      out[pos++] = 0x12;
      pos = writeVarint(out, pos, v.length);
      out.set(v, pos);
      pos += v.length;
    }
  }
  return out;
}

/**
 * The read position of the decoder. Decoding is synchronous and not re-entrant, so one module
 * cursor serves every call: no reader object per envelope (the consume path decodes one per
 * message).
 *
 * The decoder reads the wire format exactly as protobuf-es (and so Leyline's `decodeMessage`)
 * does, so that both accept and reject the same bytes with the same values: tags and lengths
 * are uint32 varints (the low 32 bits of up to 10 bytes; a tag longer than 5 bytes is refused),
 * unknown fields of every wire type are skipped — groups included, nested up to 99 deep,
 * without recursion — and a known field with the wrong wire type, or an unknown field inside an
 * attribute (map) entry, is refused.
 */
let pos = 0;

/** Groups nest at most this deep, as protobuf-es skips them (its recursion limit of 100, less the envelope). */
const GROUP_DEPTH_LIMIT = 99;

/** A varint of up to 10 bytes, its low 49 bits exact (values of a field). */
function varint(buf: Uint8Array, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new EnvelopeDecodeError('truncated varint');
    const b = buf[pos++]!;
    if (i < 7) result += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return result;
  }
  throw new EnvelopeDecodeError('varint too long');
}

/** Bytes of the last varint read by {@link varint32}. */
let varintBytes = 0;

/** A uint32 varint as protobuf-es reads one (tags, lengths): the low 32 bits of up to 10 bytes. Sets `varintBytes`. */
function varint32(buf: Uint8Array, end: number): number {
  let result = 0;
  const start = pos;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new EnvelopeDecodeError('truncated varint');
    const b = buf[pos++]!;
    if (i < 4) result |= (b & 0x7f) << (7 * i);
    else if (i === 4) result |= (b & 0x0f) << 28;
    if ((b & 0x80) === 0) {
      varintBytes = pos - start;
      return result >>> 0;
    }
  }
  throw new EnvelopeDecodeError('varint too long');
}

/** A tag: field number × 8 + wire type, refused as protobuf-es refuses it (overlong, field 0, wire type 6 or 7). */
function tag(buf: Uint8Array, end: number): number {
  // One-byte tags (fields 1–15, every field an envelope has): no varint loop.
  if (pos < end) {
    const b = buf[pos]!;
    if (b < 0x80 && b >= 8 && (b & 7) < 6) {
      pos++;
      return b;
    }
  }
  const t = varint32(buf, end);
  if (varintBytes > 5 || (varintBytes === 5 && buf[pos - 1]! > 0x0f)) throw new EnvelopeDecodeError('tag overflows uint32');
  if (t >>> 3 === 0) throw new EnvelopeDecodeError('field number 0');
  if ((t & 7) > 5) throw new EnvelopeDecodeError(`wire type ${t & 7}`);
  return t;
}

/** Length of a length-delimited field at `pos`; leaves `pos` at its first byte. */
function lengthDelimited(buf: Uint8Array, end: number): number {
  const b = pos < end ? buf[pos]! : 0x80;
  const len = b < 0x80 ? (pos++, b) : varint32(buf, end);
  if (pos + len > end) throw new EnvelopeDecodeError('truncated length-delimited field');
  return len;
}

/**
 * Skips one unknown field's value of wire type `wire` (field `field`): varints of any length,
 * fixed and length-delimited values, and groups — iteratively, a stack of open group numbers,
 * at most {@link GROUP_DEPTH_LIMIT} deep.
 */
function skip(buf: Uint8Array, end: number, wire: number, field: number): void {
  const groups: number[] = [];
  for (;;) {
    switch (wire) {
      case 0:
        // As protobuf-es skips a varint: any number of continuation bytes.
        for (;;) {
          if (pos >= end) throw new EnvelopeDecodeError('truncated varint');
          if ((buf[pos++]! & 0x80) === 0) break;
        }
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        // Not `pos += …`: that would read `pos` before the length moves it.
        const len = lengthDelimited(buf, end);
        pos += len;
        break;
      }
      case 3:
        if (groups.length >= GROUP_DEPTH_LIMIT) throw new EnvelopeDecodeError(`groups nested deeper than ${GROUP_DEPTH_LIMIT}`);
        groups.push(field);
        break;
      case 4:
        if (groups.length === 0) throw new EnvelopeDecodeError('end of a group that was not started');
        if (groups.pop() !== field) throw new EnvelopeDecodeError('end-group tag of another field');
        break;
      case 5:
        pos += 4;
        break;
      default:
        throw new EnvelopeDecodeError(`unsupported wire type ${wire}`);
    }
    if (pos > end) throw new EnvelopeDecodeError('truncated fixed field');
    if (groups.length === 0) return;
    const t = tag(buf, end);
    field = t >>> 3;
    wire = t & 7;
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);
/** The attributes of every envelope that has none, when decoded by {@link readEnvelopeInto}. */
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});

/** What {@link readEnvelopeInto} fills in. */
export interface EnvelopeTarget {
  messageType: BusMessageType;
  payload: Uint8Array;
  attributes: Readonly<Record<string, string>>;
}

/** What a value that is not bytes is, for messages. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

/** Decodes envelope bytes; throws {@link EnvelopeDecodeError} on malformed input or anything that is not a Uint8Array. */
export function readEnvelope(bytes: Uint8Array): DecodedEnvelope {
  const out: EnvelopeTarget = { messageType: 0 as BusMessageType, payload: EMPTY, attributes: NO_ATTRIBUTES };
  readEnvelopeInto(bytes, out);
  // Callers of this function own the attributes object (it is mutable here).
  const attributes = out.attributes === NO_ATTRIBUTES ? {} : (out.attributes as Record<string, string>);
  return { messageType: out.messageType, payload: out.payload, attributes };
}

/**
 * Decodes envelope bytes into `target`'s three fields, for callers that carry them in an object
 * of their own (the Oona client's delivered messages): `payload` is a view into `bytes`, and an
 * envelope without attributes gets one shared frozen empty object. Throws
 * {@link EnvelopeDecodeError} on malformed input, or input that is not a `Uint8Array` (`target`
 * may then be partly written). Accepts and rejects exactly what Leyline's
 * `decodeMessage(BusEnvelopeSchema, …)` does, with the same values.
 */
export function readEnvelopeInto(bytes: Uint8Array, target: EnvelopeTarget): void {
  if (!(bytes instanceof Uint8Array)) throw new EnvelopeDecodeError(`expected a Uint8Array, got ${kindOf(bytes)}`);
  const end = bytes.length;
  let messageType = 0;
  let payload = EMPTY;
  let attributes: Record<string, string> | undefined;
  pos = 0;
  while (pos < end) {
    const t = tag(bytes, end);
    const field = t >>> 3;
    const wire = t & 7;
    if (field === 1) {
      if (wire !== 0) throw new EnvelopeDecodeError(`message_type has wire type ${wire}`);
      // An enum is an int32 (as protobuf reads it): the low 32 bits of the varint, signed. The
      // varint keeps the low 49 bits exactly, so `| 0` yields them (negative values included).
      messageType = varint(bytes, end) | 0;
    } else if (field === 2) {
      if (wire !== 2) throw new EnvelopeDecodeError(`payload has wire type ${wire}`);
      const len = lengthDelimited(bytes, end);
      // A view on the same memory; the constructor is much cheaper than subarray() in V8.
      payload = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, len);
      pos += len;
    } else if (field === 3) {
      if (wire !== 2) throw new EnvelopeDecodeError(`attributes has wire type ${wire}`);
      const entryLength = lengthDelimited(bytes, end);
      const entryEnd = pos + entryLength;
      let key = '';
      let value = '';
      while (pos < entryEnd) {
        const et = tag(bytes, entryEnd);
        const f = et >>> 3;
        const w = et & 7;
        if (f !== 1 && f !== 2) throw new EnvelopeDecodeError(`unknown field ${f} in an attribute entry`);
        if (w !== 2) throw new EnvelopeDecodeError(`attribute ${f === 1 ? 'key' : 'value'} has wire type ${w}`);
        if (f === 1) key = decodeString(bytes, entryEnd);
        else value = decodeString(bytes, entryEnd);
      }
      (attributes ??= {})[key] = value;
    } else skip(bytes, end, wire, field);
  }
  target.messageType = messageType as BusMessageType;
  target.payload = payload;
  target.attributes = attributes ?? NO_ATTRIBUTES;
}

function decodeString(bytes: Uint8Array, end: number): string {
  const len = lengthDelimited(bytes, end);
  const start = pos;
  pos += len;
  try {
    return textDecoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset + start, len));
  } catch {
    throw new EnvelopeDecodeError('invalid UTF-8 in a string field');
  }
}
