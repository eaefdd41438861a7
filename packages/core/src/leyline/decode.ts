import { fromBinary, ScalarType, type DescField, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { LeylineDecodeError } from './errors.js';
import { scalarWireType } from './wire-types.js';

/** Options of {@link decodeMessage}. */
export interface DecodeOptions {
  /**
   * Reject fields whose wire type does not match the schema (default `true`). protobuf-es
   * reads a known field by its declared type whatever the wire type says, which can turn
   * malformed input into a wrong but "valid" message; protoc keeps such fields as unknown.
   */
  checkWireTypes?: boolean;
  /** Keep unknown fields, so re-encoding preserves them (default `true`). */
  readUnknownFields?: boolean;
  /** Maximum message nesting depth (default 100). */
  recursionLimit?: number;
}

const DEFAULT_RECURSION_LIMIT = 100;

const fieldMaps = new WeakMap<DescMessage, ReadonlyMap<number, DescField>>();

function fieldsByNumber(desc: DescMessage): ReadonlyMap<number, DescField> {
  let map = fieldMaps.get(desc);
  if (map === undefined) {
    map = new Map(desc.fields.map((f) => [f.number, f]));
    fieldMaps.set(desc, map);
  }
  return map;
}

function wireMismatch(desc: DescMessage, field: DescField | string, got: WireType): Error {
  const name = typeof field === 'string' ? field : field.name;
  return new Error(`field ${desc.typeName}.${name} has wire type ${WireType[got]}, which does not match its declared type`);
}

/** Checks one scalar value's wire type; returns false when mismatched. */
function scalarOk(type: ScalarType, got: WireType): boolean {
  return got === scalarWireType(type);
}

// Walks the wire data against the schema without building anything: every tag, every length
// prefix and every known field's wire type. Nested messages (including map values) are walked
// recursively; unknown fields are skipped with protobuf-es's own skip logic.
function checkMessage(desc: DescMessage, reader: BinaryReader, end: number, depth: number, limit: number): void {
  if (depth > limit) throw new Error(`maximum recursion depth of ${limit} reached`);
  const fields = fieldsByNumber(desc);
  while (reader.pos < end) {
    const [no, wt] = reader.tag();
    const field = fields.get(no);
    if (field === undefined) {
      reader.skip(wt, no, limit - depth);
      continue;
    }
    switch (field.fieldKind) {
      case 'scalar':
        if (!scalarOk(field.scalar, wt)) throw wireMismatch(desc, field, wt);
        reader.skip(wt, no);
        break;
      case 'enum':
        if (wt !== WireType.Varint) throw wireMismatch(desc, field, wt);
        reader.skip(wt, no);
        break;
      case 'message':
        checkNested(desc, field, field.message, field.delimitedEncoding, reader, wt, depth, limit);
        break;
      case 'list':
        if (field.listKind === 'message') {
          checkNested(desc, field, field.message, field.delimitedEncoding, reader, wt, depth, limit);
        } else {
          const scalar = field.listKind === 'enum' ? ScalarType.INT32 : field.scalar;
          const element = scalarWireType(scalar);
          // Packable element types may arrive packed (length-delimited) or one by one.
          if (wt !== element && !(wt === WireType.LengthDelimited && element !== WireType.LengthDelimited)) {
            throw wireMismatch(desc, field, wt);
          }
          reader.skip(wt, no);
        }
        break;
      case 'map': {
        if (wt !== WireType.LengthDelimited) throw wireMismatch(desc, field, wt);
        const len = reader.uint32();
        const entryEnd = reader.pos + len;
        if (entryEnd > reader.len) throw new RangeError('premature EOF');
        while (reader.pos < entryEnd) {
          const [eno, ewt] = reader.tag();
          if (eno === 1) {
            if (!scalarOk(field.mapKey, ewt)) throw wireMismatch(desc, `${field.name}.key`, ewt);
            reader.skip(ewt, eno);
          } else if (eno === 2) {
            if (field.mapKind === 'message') {
              checkNested(desc, `${field.name}.value`, field.message, false, reader, ewt, depth + 1, limit);
            } else {
              const scalar = field.mapKind === 'enum' ? ScalarType.INT32 : field.scalar;
              if (!scalarOk(scalar, ewt)) throw wireMismatch(desc, `${field.name}.value`, ewt);
              reader.skip(ewt, eno);
            }
          } else {
            // protobuf-es would read the entry's next bytes as a key or value (it does not skip
            // unknown fields inside map entries), so such an entry cannot be decoded faithfully.
            throw new Error(`field ${desc.typeName}.${field.name} has a map entry with unknown field ${eno}`);
          }
        }
        if (reader.pos !== entryEnd) throw new RangeError('map entry overruns its length');
        break;
      }
    }
  }
  if (reader.pos !== end) throw new RangeError('message overruns its length');
}

function checkNested(
  parent: DescMessage,
  field: DescField | string,
  desc: DescMessage,
  delimited: boolean,
  reader: BinaryReader,
  wt: WireType,
  depth: number,
  limit: number,
): void {
  if (delimited) {
    // Group encoding (editions DELIMITED): let protobuf-es's skip validate the group framing.
    if (wt !== WireType.StartGroup) throw wireMismatch(parent, field, wt);
    reader.skip(wt, typeof field === 'string' ? 2 : field.number, limit - depth);
    return;
  }
  if (wt !== WireType.LengthDelimited) throw wireMismatch(parent, field, wt);
  const len = reader.uint32();
  const end = reader.pos + len;
  if (end > reader.len) throw new RangeError('premature EOF');
  checkMessage(desc, reader, end, depth + 1, limit);
}

/**
 * Checks that `bytes` are well-formed wire data for `schema`: tags, length prefixes, and wire
 * types of known fields, recursively. Throws a plain `Error` describing the first problem.
 * {@link decodeMessage} runs this before decoding; exposed for tests and diagnostics.
 */
export function checkWireFormat(schema: DescMessage, bytes: Uint8Array, recursionLimit = DEFAULT_RECURSION_LIMIT): void {
  const reader = new BinaryReader(bytes);
  checkMessage(schema, reader, bytes.byteLength, 1, recursionLimit);
}

function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message.replace(/^cannot decode [^:]+ from binary: /, '');
  return String(e);
}

/**
 * Decodes Leyline bytes at a trust boundary. Either returns a complete message or throws a
 * {@link LeylineDecodeError} (code `ESPER_LEYLINE_DECODE`, message naming the type and byte
 * length, `cause` = the underlying error) — never any other error, never a half-decoded message.
 *
 * Rejects: input that is not a `Uint8Array`, truncated or overlong data, bad tags and length
 * prefixes, known fields with the wrong wire type and map entries with fields other than key
 * and value (unless `checkWireTypes: false`; protobuf-es misreads such entries), invalid UTF-8
 * in string fields and map keys (protobuf-es validates proto3 strings), nesting beyond
 * `recursionLimit`. Accepts, as protoc does: unknown fields of every wire type, groups included
 * (kept, so re-encoding preserves them), and unknown enum numbers (Leyline enums are open).
 */
export function decodeMessage<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array, options: DecodeOptions = {}): MessageShape<Desc> {
  const length = bytes instanceof Uint8Array ? bytes.byteLength : 0;
  if (!(bytes instanceof Uint8Array)) {
    throw new LeylineDecodeError(schema.typeName, length, `expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  }
  const recursionLimit = options.recursionLimit ?? DEFAULT_RECURSION_LIMIT;
  try {
    if (options.checkWireTypes !== false) checkWireFormat(schema, bytes, recursionLimit);
    return fromBinary(schema, bytes, { readUnknownFields: options.readUnknownFields ?? true, recursionLimit });
  } catch (e) {
    throw new LeylineDecodeError(schema.typeName, length, reasonOf(e), { cause: e });
  }
}
