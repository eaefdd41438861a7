import { createHash } from 'node:crypto';
import type { EntryFields } from '@esper/core';

/**
 * Appends many auto-id entries with the same field names to one stream in one server call
 * (`EVALSHA sha 1 stream k name₁ … nameₖ value₁₁ … valueₖ₁ value₁₂ …`). Every XADD runs under
 * `redis.pcall`, so an entry that fails does not stop the others, exactly like pipelined XADDs;
 * the reply is one line per entry — the new id, or `-` and the error — joined by newlines
 * (one bulk string instead of an array of ids). Lua strings are 8-bit clean, so values stay
 * binary-safe. Field names travel once per batch; one or two fields (`payload`, `signature`)
 * take a path without per-entry tables.
 */
export const APPEND_BATCH_SCRIPT = `local key, k, out, n = KEYS[1], tonumber(ARGV[1]), {}, 0
local function put(r)
  n = n + 1
  if type(r) == 'table' and r.err then out[n] = '-' .. string.gsub(r.err, '\\n', ' ') else out[n] = r end
end
if k == 1 then
  local f1 = ARGV[2]
  for i = 3, #ARGV do put(redis.pcall('XADD', key, '*', f1, ARGV[i])) end
elseif k == 2 then
  local f1, f2 = ARGV[2], ARGV[3]
  for i = 4, #ARGV, 2 do put(redis.pcall('XADD', key, '*', f1, ARGV[i], f2, ARGV[i + 1])) end
else
  for i = 2 + k, #ARGV, k do
    local a = { key, '*' }
    for f = 1, k do
      a[2 * f + 1] = ARGV[1 + f]
      a[2 * f + 2] = ARGV[i + f - 1]
    end
    put(redis.pcall('XADD', unpack(a)))
  end
end
return table.concat(out, '\\n')`;

/** SHA-1 of {@link APPEND_BATCH_SCRIPT}, for `EVALSHA`. */
export const APPEND_BATCH_SHA = createHash('sha1').update(APPEND_BATCH_SCRIPT).digest('hex');

/** A value as node-redis wants it (a Buffer view, no copy). */
export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The field names of an entry joined by NUL: entries with equal shapes can share a batch. */
export function fieldShape(fields: EntryFields): string {
  let shape = '';
  let first = true;
  for (const name in fields) {
    shape = first ? name : `${shape}\0${name}`;
    first = false;
  }
  return shape;
}

/**
 * Arguments after `EVALSHA sha 1 stream` for entries that all have the field names of `shape`
 * (in that order).
 */
export function appendBatchArgs(shape: string, entries: ReadonlyArray<EntryFields>): Array<string | Buffer> {
  const names = shape === '' ? [] : shape.split('\0');
  const args: Array<string | Buffer> = [String(names.length), ...names];
  for (const fields of entries) for (const name of names) args.push(asBuffer(fields[name]!));
  return args;
}

/** Bytes an entry adds to a batch (names and values), to bound batch sizes. */
export function entryBytes(fields: EntryFields): number {
  let size = 0;
  for (const name in fields) size += name.length + fields[name]!.byteLength;
  return size;
}
