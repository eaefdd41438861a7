import { fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { LeylineDecodeError } from './errors.js';

/**
 * Leyline messages as JSON documents the way the reference stores them (Urza, Nissa): original
 * proto field names (`seed_id`, not `seedId`), enum names, 64-bit integers as strings, default
 * values omitted (Python's `MessageToDict(preserving_proto_field_name=True)`).
 */
export function toLeylineJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonValue {
  return toJson(schema, message, { useProtoFieldName: true });
}

/**
 * Parses a JSON document written by {@link toLeylineJson} (either field-name style is accepted,
 * as protobuf JSON requires). Unknown fields are rejected.
 *
 * @throws LeylineDecodeError when the JSON does not describe a valid message of `schema`.
 */
export function fromLeylineJson<Desc extends DescMessage>(schema: Desc, json: unknown): MessageShape<Desc> {
  try {
    return fromJson(schema, json as JsonValue);
  } catch (e) {
    const size = JSON.stringify(json)?.length ?? 0;
    throw new LeylineDecodeError(schema.typeName, size, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
