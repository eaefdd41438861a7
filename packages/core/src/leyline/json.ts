import { fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { LeylineDecodeError } from './errors.js';

/** Nesting allowed by default in {@link fromLeylineJson}: as in binary decoding (`decodeMessage`). */
const DEFAULT_RECURSION_LIMIT = 100;

/**
 * Leyline messages as JSON documents the way the reference stores them (Urza, Nissa): original
 * proto field names (`seed_id`, not `seedId`), enum names, 64-bit integers as strings, default
 * values omitted (Python's `MessageToDict(preserving_proto_field_name=True)`).
 */
export function toLeylineJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonValue {
  return toJson(schema, message, { useProtoFieldName: true });
}

/** Options of {@link fromLeylineJson}. */
export interface FromLeylineJsonOptions {
  /** Deepest nesting of arrays and objects accepted (default 100). */
  readonly recursionLimit?: number;
}

interface Shape {
  /** Approximate length of the value as JSON text (for messages). */
  size: number;
  /** Why the value is refused before protobuf-es sees it, if it is. */
  problem?: string;
}

/**
 * Measures `json` without recursion — an explicit stack, so that a document nested thousands
 * deep cannot overflow the call stack here — and refuses nesting deeper than `limit` and cycles
 * (neither is a JSON document protobuf-es could read without recursing that deep).
 */
function measure(json: unknown, limit: number): Shape {
  const shape: Shape = { size: 0 };
  const stack: Array<[unknown, number]> = [[json, 1]];
  const open = new Set<object>();
  // Objects on the current path, to tell a cycle from a value shared by two branches.
  const exits: Array<[object, number]> = [];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    while (exits.length > 0 && exits[exits.length - 1]![1] >= depth) open.delete(exits.pop()![0]);
    if (value === null || typeof value !== 'object') {
      shape.size += typeof value === 'string' ? value.length + 2 : String(value).length;
      continue;
    }
    if (depth > limit) {
      shape.problem = `nesting deeper than ${limit} levels`;
      return shape;
    }
    if (open.has(value)) {
      shape.problem = 'a cycle (an object that contains itself is not JSON)';
      return shape;
    }
    open.add(value);
    exits.push([value, depth]);
    shape.size += 2;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i] as unknown, depth + 1]);
      shape.size += Math.max(0, value.length - 1);
    } else {
      for (const key of Object.keys(value)) {
        shape.size += key.length + 4;
        stack.push([(value as Record<string, unknown>)[key], depth + 1]);
      }
    }
  }
  return shape;
}

/**
 * Parses a JSON document written by {@link toLeylineJson} (either field-name style is accepted,
 * as protobuf JSON requires). Unknown fields are rejected.
 *
 * @throws LeylineDecodeError when the JSON does not describe a valid message of `schema`,
 *   nests deeper than `recursionLimit`, or contains a cycle (never a RangeError or TypeError
 *   of its own).
 */
export function fromLeylineJson<Desc extends DescMessage>(schema: Desc, json: unknown, options: FromLeylineJsonOptions = {}): MessageShape<Desc> {
  const shape = measure(json, options.recursionLimit ?? DEFAULT_RECURSION_LIMIT);
  if (shape.problem !== undefined) throw new LeylineDecodeError(schema.typeName, shape.size, `invalid JSON: ${shape.problem}`);
  try {
    return fromJson(schema, json as JsonValue);
  } catch (e) {
    throw new LeylineDecodeError(schema.typeName, shape.size, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
