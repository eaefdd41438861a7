import { EsperError } from '../errors.js';
import type { BusMessageType } from '../leyline/index.js';

/**
 * A direct codec for Leyline `BusEnvelope` (field 1 `message_type` varint, field 2 `payload`
 * bytes, field 3 `attributes` map<string,string>), byte-compatible with protobuf-es and the
 * Python reference for the same values. The envelope is on every publish and consume, and
 * reflection-based encoding dominated the in-memory fabric's cost; the unit tests check this
 * codec against protobuf-es in both directions. Unknown fields are skipped when decoding.
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
 */
let pos = 0;

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

/** Length of a length-delimited field at `pos`; leaves `pos` at its first byte. */
function lengthDelimited(buf: Uint8Array, end: number): number {
  const len = varint(buf, end);
  if (pos + len > end) throw new EnvelopeDecodeError('truncated length-delimited field');
  return len;
}

function skip(buf: Uint8Array, end: number, wire: number): void {
  switch (wire) {
    case 0:
      varint(buf, end);
      return;
    case 1:
      pos += 8;
      break;
    case 2: {
      const len = lengthDelimited(buf, end);
      pos += len;
      return;
    }
    case 5:
      pos += 4;
      break;
    default:
      throw new EnvelopeDecodeError(`unsupported wire type ${wire}`);
  }
  if (pos > end) throw new EnvelopeDecodeError('truncated fixed field');
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

/** Decodes envelope bytes; throws {@link EnvelopeDecodeError} on malformed input. */
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
 * {@link EnvelopeDecodeError} on malformed input (`target` may then be partly written).
 */
export function readEnvelopeInto(bytes: Uint8Array, target: EnvelopeTarget): void {
  const end = bytes.length;
  let messageType = 0;
  let payload = EMPTY;
  let attributes: Record<string, string> | undefined;
  pos = 0;
  while (pos < end) {
    const tag = varint(bytes, end);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new EnvelopeDecodeError('field number 0');
    // An enum is an int32 (as protobuf reads it): the low 32 bits of the varint, signed. The
    // varint keeps the low 49 bits exactly, so `| 0` yields them (negative values included).
    if (field === 1 && wire === 0) messageType = varint(bytes, end) | 0;
    else if (field === 2 && wire === 2) {
      const len = lengthDelimited(bytes, end);
      // A view on the same memory; the constructor is much cheaper than subarray() in V8.
      payload = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, len);
      pos += len;
    } else if (field === 3 && wire === 2) {
      const entryLength = lengthDelimited(bytes, end);
      const entryEnd = pos + entryLength;
      let key = '';
      let value = '';
      while (pos < entryEnd) {
        const t = varint(bytes, entryEnd);
        const f = Math.floor(t / 8);
        const w = t & 7;
        if (f === 1 && w === 2) key = decodeString(bytes, entryEnd);
        else if (f === 2 && w === 2) value = decodeString(bytes, entryEnd);
        else skip(bytes, entryEnd, w);
      }
      (attributes ??= {})[key] = value;
    } else skip(bytes, end, wire);
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
