import { ScalarType, type DescField, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { isWrapperDesc } from '@bufbuild/protobuf/wkt';
import { scalarWireType } from './wire-types.js';

// Deterministic protobuf encoding, used for command signatures (reference §6.6). The output is
// what protoc/C++/Python write with deterministic serialization: known fields in field-number
// order, then unknown fields as stored; map entries sorted by key (string keys by their UTF-8
// bytes, integer keys by value, bool false < true). Apart from map order, the bytes equal
// protobuf-es `toBinary` (same implicit-presence rules: -0.0 and NaN are written, 0 is not).
//
// Speed: the encoder is compiled once per message schema into a flat list of field plans that
// read message properties directly, instead of going through protobuf-es reflection for every
// field; it is faster than `toBinary` itself (see packages/core/bench/leyline.bench.ts).

// bootstrap-inject google.protobuf.FeatureSet.FieldPresence values (protobuf-es uses the numbers).
const EXPLICIT = 1;
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;

const STRUCT = 'google.protobuf.Struct';
const VALUE = 'google.protobuf.Value';

type Obj = Record<string, unknown>;

// How a message-typed value is represented locally (protobuf-es maps some WKTs to JS values).
// Plain numbers rather than a TS enum: the shadow-enum guard bans enum declarations.
/** A protobuf-es message object. */
const LOCAL_MESSAGE = 0;
/** google.protobuf.Struct outside Value: a plain JsonObject. */
const LOCAL_JSON_STRUCT = 1;
/** A wrappers.proto type in a singular non-oneof field: the unwrapped primitive. */
const LOCAL_WRAPPER = 2;
type Local = typeof LOCAL_MESSAGE | typeof LOCAL_JSON_STRUCT | typeof LOCAL_WRAPPER;

interface BaseFieldPlan {
  readonly no: number;
  readonly name: string;
  readonly localName: string;
  /** Local name of the containing oneof group, if any. */
  readonly oneof: string | undefined;
}
interface ScalarFieldPlan extends BaseFieldPlan {
  readonly kind: 'scalar';
  readonly scalar: ScalarType;
  readonly wireType: WireType;
  readonly presence: number;
  /** Number of the first enum value (the implicit-presence default) for enum fields. */
  readonly enumZero: number | undefined;
}
interface MessageFieldPlan extends BaseFieldPlan {
  readonly kind: 'message';
  readonly desc: DescMessage;
  readonly local: Local;
  readonly delimited: boolean;
  readonly required: boolean;
}
interface ListFieldPlan extends BaseFieldPlan {
  readonly kind: 'list';
  readonly scalar: ScalarType | undefined;
  readonly wireType: WireType;
  readonly packed: boolean;
  readonly desc: DescMessage | undefined;
  readonly local: Local;
  readonly delimited: boolean;
}
interface MapFieldPlan extends BaseFieldPlan {
  readonly kind: 'map';
  readonly keyType: ScalarType;
  readonly keyWireType: WireType;
  readonly valueScalar: ScalarType | undefined;
  readonly valueWireType: WireType;
  readonly desc: DescMessage | undefined;
  readonly local: Local;
}
type FieldPlan = ScalarFieldPlan | MessageFieldPlan | ListFieldPlan | MapFieldPlan;

const plans = new WeakMap<DescMessage, readonly FieldPlan[]>();

function localOf(field: DescField, message: DescMessage): Local {
  if (message.typeName === STRUCT && field.parent.typeName !== VALUE) return LOCAL_JSON_STRUCT;
  if (field.fieldKind === 'message' && field.oneof === undefined && isWrapperDesc(message)) {
    return LOCAL_WRAPPER;
  }
  return LOCAL_MESSAGE;
}

function compile(desc: DescMessage): readonly FieldPlan[] {
  const cached = plans.get(desc);
  if (cached !== undefined) return cached;
  const out: FieldPlan[] = [];
  // Nested message plans are compiled lazily (on first write), so recursive schemas work.
  for (const f of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const base = { no: f.number, name: f.name, localName: f.localName, oneof: f.oneof?.localName };
    switch (f.fieldKind) {
      case 'scalar':
        out.push({ ...base, kind: 'scalar', scalar: f.scalar, wireType: scalarWireType(f.scalar), presence: f.presence, enumZero: undefined });
        break;
      case 'enum':
        out.push({
          ...base,
          kind: 'scalar',
          scalar: ScalarType.INT32,
          wireType: WireType.Varint,
          presence: f.presence,
          enumZero: f.enum.values[0]?.number ?? 0,
        });
        break;
      case 'message':
        out.push({
          ...base,
          kind: 'message',
          desc: f.message,
          local: localOf(f, f.message),
          delimited: f.delimitedEncoding,
          required: f.presence === LEGACY_REQUIRED,
        });
        break;
      case 'list': {
        const scalar = f.listKind === 'scalar' ? f.scalar : f.listKind === 'enum' ? ScalarType.INT32 : undefined;
        out.push({
          ...base,
          kind: 'list',
          scalar,
          wireType: scalar === undefined ? WireType.LengthDelimited : scalarWireType(scalar),
          packed: f.packed,
          desc: f.listKind === 'message' ? f.message : undefined,
          local: f.listKind === 'message' && f.message.typeName === STRUCT ? LOCAL_JSON_STRUCT : LOCAL_MESSAGE,
          delimited: f.listKind === 'message' && f.delimitedEncoding,
        });
        break;
      }
      case 'map': {
        const valueScalar = f.mapKind === 'scalar' ? f.scalar : f.mapKind === 'enum' ? ScalarType.INT32 : undefined;
        out.push({
          ...base,
          kind: 'map',
          keyType: f.mapKey,
          keyWireType: scalarWireType(f.mapKey),
          valueScalar,
          valueWireType: valueScalar === undefined ? WireType.LengthDelimited : scalarWireType(valueScalar),
          desc: f.mapKind === 'message' ? f.message : undefined,
          local: f.mapKind === 'message' && f.message.typeName === STRUCT ? LOCAL_JSON_STRUCT : LOCAL_MESSAGE,
        });
        break;
      }
    }
  }
  plans.set(desc, out);
  return out;
}

/**
 * Compares two strings by the bytes of their UTF-8 encodings (= by code points), which is how
 * protoc, C++ and Python order string map keys. JavaScript's `<` compares UTF-16 code units
 * and disagrees for astral characters versus U+E000..U+FFFF; the fix-up below maps code units
 * so that surrogates sort above every other BMP unit.
 *
 * Lone surrogates are encoded as U+FFFD by TextEncoder, so keys containing them may not sort
 * in their encoded byte order; such keys are not valid protobuf strings anyway.
 */
export function compareUtf8(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

function compareBigIntKeys(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Map keys of a JS object (always strings), sorted in deterministic protobuf order. */
function sortedKeys(obj: Obj, keyType: ScalarType): string[] {
  const keys = Object.keys(obj);
  if (keys.length < 2) return keys;
  switch (keyType) {
    case ScalarType.STRING:
      return keys.sort(compareUtf8);
    case ScalarType.BOOL:
      // "false" < "true" both as strings and as booleans.
      return keys.sort();
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return keys.sort(compareBigIntKeys);
    default:
      return keys.sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  }
}

function mapKeyValue(key: string, keyType: ScalarType): unknown {
  switch (keyType) {
    case ScalarType.STRING:
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return key; // the 64-bit writers accept decimal strings
    case ScalarType.BOOL:
      return key === 'true';
    default:
      return Number.parseInt(key, 10);
  }
}

function isZero(type: ScalarType, value: unknown): boolean {
  switch (type) {
    case ScalarType.BOOL:
      return value === false;
    case ScalarType.STRING:
      return value === '';
    case ScalarType.BYTES:
      return value instanceof Uint8Array && value.byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return Object.is(value, 0);
    default:
      // Loose comparison matches 0n, 0 and "0", as protobuf-es does.
      return (value as number) == 0;
  }
}

function writeScalar(w: DeterministicWriter, type: ScalarType, value: unknown): void {
  switch (type) {
    case ScalarType.STRING:
      w.string(value as string);
      break;
    case ScalarType.BOOL:
      w.bool(value as boolean);
      break;
    case ScalarType.DOUBLE:
      w.double(value as number);
      break;
    case ScalarType.FLOAT:
      w.float(value as number);
      break;
    case ScalarType.INT32:
      w.int32(value as number);
      break;
    case ScalarType.INT64:
      w.int64(value as bigint | string);
      break;
    case ScalarType.UINT64:
      w.uint64(value as bigint | string);
      break;
    case ScalarType.FIXED64:
      w.fixed64(value as bigint | string);
      break;
    case ScalarType.BYTES:
      w.bytes(value as Uint8Array);
      break;
    case ScalarType.FIXED32:
      w.fixed32(value as number);
      break;
    case ScalarType.SFIXED32:
      w.sfixed32(value as number);
      break;
    case ScalarType.SFIXED64:
      w.sfixed64(value as bigint | string);
      break;
    case ScalarType.SINT64:
      w.sint64(value as bigint | string);
      break;
    case ScalarType.UINT32:
      w.uint32(value as number);
      break;
    case ScalarType.SINT32:
      w.sint32(value as number);
      break;
  }
}

function writeScalarChecked(w: DeterministicWriter, desc: DescMessage, fieldName: string, type: ScalarType, value: unknown): void {
  try {
    writeScalar(w, type, value);
  } catch (e) {
    if (e instanceof Error) throw new Error(`cannot encode field ${desc.typeName}.${fieldName} to binary: ${e.message}`, { cause: e });
    throw e;
  }
}

// --- google.protobuf.Struct / Value / ListValue from their JSON representation --------------

function writeJsonStruct(w: DeterministicWriter, json: unknown): void {
  if (typeof json !== 'object' || json === null) return;
  const obj = json as Obj;
  for (const key of sortedKeys(obj, ScalarType.STRING)) {
    // Struct.fields = 1 (map<string, Value>): entry { key = 1; value = 2 }
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(key);
    w.tag(2, WireType.LengthDelimited).fork();
    writeJsonValue(w, obj[key]);
    w.join().join();
  }
}

function writeJsonValue(w: DeterministicWriter, json: unknown): void {
  switch (typeof json) {
    case 'number':
      w.tag(2, WireType.Bit64).double(json);
      return;
    case 'string':
      w.tag(3, WireType.LengthDelimited).string(json);
      return;
    case 'boolean':
      w.tag(4, WireType.Varint).bool(json);
      return;
    case 'object':
      if (json === null) {
        w.tag(1, WireType.Varint).int32(0);
      } else if (Array.isArray(json)) {
        w.tag(6, WireType.LengthDelimited).fork();
        for (const item of json) {
          w.tag(1, WireType.LengthDelimited).fork();
          writeJsonValue(w, item);
          w.join();
        }
        w.join();
      } else {
        w.tag(5, WireType.LengthDelimited).fork();
        writeJsonStruct(w, json);
        w.join();
      }
      return;
    default:
      // undefined and other non-JSON values: a Value with no kind set (as protobuf-es does).
      return;
  }
}

// --- messages ------------------------------------------------------------------------------

function writeMessageBody(w: DeterministicWriter, desc: DescMessage, local: Local, value: unknown): void {
  switch (local) {
    case LOCAL_JSON_STRUCT:
      writeJsonStruct(w, value);
      return;
    case LOCAL_WRAPPER: {
      const inner = desc.fields[0];
      if (inner !== undefined && inner.fieldKind === 'scalar' && !isZero(inner.scalar, value)) {
        w.tag(1, scalarWireType(inner.scalar));
        writeScalarChecked(w, desc, inner.name, inner.scalar, value);
      }
      return;
    }
    case LOCAL_MESSAGE:
      writeFields(w, desc, value as Obj);
  }
}

function writeNested(w: DeterministicWriter, no: number, desc: DescMessage, local: Local, delimited: boolean, value: unknown): void {
  if (delimited) {
    w.tag(no, WireType.StartGroup);
    writeMessageBody(w, desc, local, value);
    w.tag(no, WireType.EndGroup);
  } else {
    w.tag(no, WireType.LengthDelimited).fork();
    writeMessageBody(w, desc, local, value);
    w.join();
  }
}

function writeFields(w: DeterministicWriter, desc: DescMessage, msg: Obj): void {
  const fields = plans.get(desc) ?? compile(desc);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as FieldPlan;
    let value: unknown;
    if (f.oneof !== undefined) {
      const group = msg[f.oneof] as { case?: string; value?: unknown } | undefined;
      if (group === undefined || group.case !== f.localName) continue;
      value = group.value;
    } else {
      value = msg[f.localName];
    }
    switch (f.kind) {
      case 'scalar':
        if (f.oneof === undefined) {
          if (f.presence === IMPLICIT) {
            if (f.enumZero !== undefined ? value === f.enumZero : isZero(f.scalar, value)) continue;
          } else if (value === undefined) {
            if (f.presence === LEGACY_REQUIRED) throw new Error(`cannot encode ${desc.typeName}.${f.name} to binary: required field not set`);
            continue;
          } else if (f.presence === EXPLICIT && !Object.hasOwn(msg, f.localName)) {
            continue;
          }
        }
        w.tag(f.no, f.wireType);
        writeScalarChecked(w, desc, f.name, f.scalar, value);
        break;
      case 'message':
        if (value === undefined) {
          if (f.required) throw new Error(`cannot encode ${desc.typeName}.${f.name} to binary: required field not set`);
          continue;
        }
        writeNested(w, f.no, f.desc, f.local, f.delimited, value);
        break;
      case 'list': {
        const list = value as readonly unknown[];
        if (list.length === 0) continue;
        if (f.desc !== undefined) {
          for (const item of list) writeNested(w, f.no, f.desc, f.local, f.delimited, item);
        } else if (f.packed) {
          w.tag(f.no, WireType.LengthDelimited).fork();
          for (const item of list) writeScalarChecked(w, desc, f.name, f.scalar as ScalarType, item);
          w.join();
        } else {
          for (const item of list) {
            w.tag(f.no, f.wireType);
            writeScalarChecked(w, desc, f.name, f.scalar as ScalarType, item);
          }
        }
        break;
      }
      case 'map': {
        const obj = value as Obj;
        for (const key of sortedKeys(obj, f.keyType)) {
          w.tag(f.no, WireType.LengthDelimited).fork();
          w.tag(1, f.keyWireType);
          writeScalarChecked(w, desc, f.name, f.keyType, mapKeyValue(key, f.keyType));
          const v = obj[key];
          if (f.desc !== undefined) {
            writeNested(w, 2, f.desc, f.local, false, v);
          } else {
            w.tag(2, f.valueWireType);
            writeScalarChecked(w, desc, f.name, f.valueScalar as ScalarType, v);
          }
          w.join();
        }
        break;
      }
    }
  }
  const unknown = msg['$unknown'] as readonly { no: number; wireType: WireType; data: Uint8Array }[] | undefined;
  if (unknown !== undefined) {
    for (const u of unknown) w.tag(u.no, u.wireType).raw(u.data);
  }
}

const textEncoder = new TextEncoder();

/**
 * UTF-8 encoder for the rare paths that go through protobuf-es's `BinaryWriter`: short ASCII
 * strings are copied byte by byte, anything else goes through TextEncoder. Same bytes either way.
 */
function encodeUtf8(text: string): Uint8Array {
  const n = text.length;
  if (n <= 64) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return textEncoder.encode(text);
      out[i] = c;
    }
    return out;
  }
  return textEncoder.encode(text);
}

/** Largest finite float32 (protobuf-es `FLOAT32_MAX`). */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Size of the shared output buffer; a call that needed more gives its larger buffer back. */
const SCRATCH_BYTES = 4096;
let shared: Uint8Array | undefined = new Uint8Array(SCRATCH_BYTES);

/**
 * The encoder's writer (decision 0063, "GC pressure"): writes straight into one growable byte
 * buffer that is reused from call to call, instead of protobuf-es's `BinaryWriter`, which keeps
 * bytes in number arrays and allocates a chunk per field and per nested message. A nested
 * message reserves one byte for its length and its body moves only when the length needs more.
 *
 * Output bytes and errors are those of `BinaryWriter`: the common values (ASCII and other
 * strings, in-range integers, doubles, in-range floats, booleans, byte arrays, non-negative
 * 64-bit integers) are written here; anything else (negative 64-bit values, fixed-width and
 * zigzag types, values of the wrong JS type) goes through a `BinaryWriter`, which validates and
 * encodes it.
 */
class DeterministicWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  private readonly forks: number[] = [];

  constructor(buffer: Uint8Array) {
    this.buf = buffer;
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  /** The bytes written, as a new array. */
  finish(): Uint8Array {
    if (this.forks.length !== 0) throw new Error('invalid state, fork stack not empty');
    return this.buf.slice(0, this.pos);
  }

  /** The buffer, to give back for the next call. */
  get buffer(): Uint8Array {
    return this.buf;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** An unsigned varint of a non-negative integer below 2^53. */
  private varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (value > 0x7fffffff) {
      buf[pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  /** Bytes of one `BinaryWriter` call: the rare types, and any value it must validate. */
  private viaBinaryWriter(write: (w: BinaryWriter) => void): this {
    const w = new BinaryWriter(encodeUtf8);
    write(w);
    return this.raw(w.finish());
  }

  fork(): this {
    this.ensure(1);
    this.forks.push(this.pos);
    this.pos++;
    return this;
  }

  join(): this {
    const start = this.forks.pop();
    if (start === undefined) throw new Error('invalid state, fork stack empty');
    const length = this.pos - start - 1;
    if (length < 0x80) {
      this.buf[start] = length;
      return this;
    }
    let size = 1;
    for (let v = length; v > 0x7f; v >>>= 7) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(start + size, start + 1, this.pos);
    const end = this.pos + size - 1;
    this.pos = start;
    this.varint(length);
    this.pos = end;
    return this;
  }

  tag(fieldNo: number, type: WireType): this {
    this.varint(((fieldNo << 3) | type) >>> 0);
    return this;
  }

  raw(chunk: Uint8Array): this {
    this.ensure(chunk.length);
    this.buf.set(chunk, this.pos);
    this.pos += chunk.length;
    return this;
  }

  uint32(value: number): this {
    if (typeof value !== 'number' || value >>> 0 !== value) return this.viaBinaryWriter((w) => w.uint32(value));
    this.varint(value);
    return this;
  }

  int32(value: number): this {
    if (typeof value !== 'number' || (value | 0) !== value || value < 0) return this.viaBinaryWriter((w) => w.int32(value));
    this.varint(value);
    return this;
  }

  bool(value: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  double(value: number): this {
    if (typeof value !== 'number') return this.viaBinaryWriter((w) => w.double(value));
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    if (!(value instanceof Uint8Array)) return this.viaBinaryWriter((w) => w.bytes(value));
    this.varint(value.byteLength);
    return this.raw(value);
  }

  string(value: string): this {
    if (typeof value !== 'string') return this.viaBinaryWriter((w) => w.string(value));
    const n = value.length;
    const lengthAt = this.pos;
    this.varint(n);
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f) {
        // Not ASCII: the UTF-8 length differs from the string length; write it again encoded.
        this.pos = lengthAt;
        const bytes = textEncoder.encode(value);
        this.varint(bytes.length);
        return this.raw(bytes);
      }
      buf[pos++] = c;
    }
    this.pos = pos;
    return this;
  }

  int64(value: bigint | string): this {
    return this.unsigned64(value) ? this : this.viaBinaryWriter((w) => w.int64(value));
  }

  uint64(value: bigint | string): this {
    return this.unsigned64(value) ? this : this.viaBinaryWriter((w) => w.uint64(value));
  }

  /** Writes a bigint in [0, 2^53) as a varint (int64 and uint64 agree there); false otherwise. */
  private unsigned64(value: bigint | string): boolean {
    if (typeof value !== 'bigint' || value < 0n || value > 0x1fffffffffffffn) return false;
    this.varint(Number(value));
    return true;
  }

  float(value: number): this {
    // BinaryWriter refuses finite numbers outside the float32 range (and non-numbers).
    if (typeof value !== 'number' || value > FLOAT32_MAX || value < -FLOAT32_MAX) {
      if (typeof value !== 'number' || Number.isFinite(value)) return this.viaBinaryWriter((w) => w.float(value));
    }
    this.ensure(4);
    this.view.setFloat32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  fixed32(value: number): this {
    return this.viaBinaryWriter((w) => w.fixed32(value));
  }

  sfixed32(value: number): this {
    return this.viaBinaryWriter((w) => w.sfixed32(value));
  }

  sint32(value: number): this {
    return this.viaBinaryWriter((w) => w.sint32(value));
  }

  fixed64(value: bigint | string): this {
    return this.viaBinaryWriter((w) => w.fixed64(value));
  }

  sfixed64(value: bigint | string): this {
    return this.viaBinaryWriter((w) => w.sfixed64(value));
  }

  sint64(value: bigint | string): this {
    return this.viaBinaryWriter((w) => w.sint64(value));
  }
}

/**
 * Encodes `message` deterministically, for signatures: fields in field-number order, map entries
 * sorted by key (string keys by UTF-8 bytes, integer keys numerically, `false` before `true`),
 * recursively, including `google.protobuf.Struct` fields; unknown fields last, as stored.
 *
 * The bytes equal protoc's `--deterministic_output` (and Python's
 * `SerializeToString(deterministic=True)`) and, apart from map order, protobuf-es `toBinary`.
 * Accepts plain objects shaped like the message (e.g. `{ ...command, annotations }`). Does not
 * modify `message`. Throws an `Error` when a value cannot be encoded (e.g. a uint32 out of range),
 * as `toBinary` does.
 */
export function toDeterministicBinary<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Uint8Array {
  // The shared buffer is taken for the call (a nested call, if any, gets a fresh one).
  const w = new DeterministicWriter(shared ?? new Uint8Array(SCRATCH_BYTES));
  shared = undefined;
  try {
    writeFields(w, schema, message as unknown as Obj);
    return w.finish();
  } finally {
    if (w.buffer.length <= 16 * SCRATCH_BYTES) shared = w.buffer;
  }
}
