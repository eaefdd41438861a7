import type { EntryFields } from '@esper/core';

/**
 * Appends many auto-id entries with the same field names to one stream in one server call:
 * `EVAL script 1 stream k name₁ … nameₖ lengths values`, where `values` is every entry's field
 * values back to back (entry by entry, fields in name order) and `lengths` their byte lengths
 * as little-endian uint32. Packing the values into one argument makes the client write four
 * bulk strings per batch instead of two per value, which was most of node-redis' cost per
 * message; the script splits them with `struct.unpack` and `string.sub`. Every XADD runs under
 * `redis.pcall`, so an entry that fails does not stop the others, exactly like pipelined XADDs;
 * the reply is one line per entry — the new id, or `-` and the error — joined by newlines (one
 * bulk string instead of an array). Lua strings are 8-bit clean: values stay binary-safe.
 */
export const APPEND_BATCH_SCRIPT = `local key, k = KEYS[1], tonumber(ARGV[1])
local lens, blob = ARGV[k + 2], ARGV[k + 3]
local m = #lens / 4
local l, got = {}, 0
while got < m do
  local c = math.min(1000, m - got)
  local part = { struct.unpack('<' .. string.rep('I4', c), lens, got * 4 + 1) }
  for j = 1, c do l[got + j] = part[j] end
  got = got + c
end
local out, n, pos, i = {}, 0, 1, 1
local function value()
  local v = string.sub(blob, pos, pos + l[i] - 1)
  pos = pos + l[i]
  i = i + 1
  return v
end
local function put(r)
  n = n + 1
  if type(r) == 'table' and r.err then out[n] = '-' .. string.gsub(r.err, '\\n', ' ') else out[n] = r end
end
if k == 1 then
  local f1 = ARGV[2]
  while i <= m do put(redis.pcall('XADD', key, '*', f1, value())) end
elseif k == 2 then
  local f1, f2 = ARGV[2], ARGV[3]
  while i <= m do
    local v1 = value()
    put(redis.pcall('XADD', key, '*', f1, v1, f2, value()))
  end
else
  while i <= m do
    local a = { key, '*' }
    for f = 1, k do
      a[2 * f + 1] = ARGV[1 + f]
      a[2 * f + 2] = value()
    end
    put(redis.pcall('XADD', unpack(a)))
  end
end
return table.concat(out, '\\n')`;


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
 * Arguments after `EVAL script 1 stream` for entries that all have the field names of `shape`
 * (in that order): the field count, the names, the lengths and the packed values.
 */
export function appendBatchArgs(shape: string, entries: ReadonlyArray<EntryFields>): Array<string | Buffer> {
  const names = shape === '' ? [] : shape.split('\0');
  let total = 0;
  for (const fields of entries) for (const name of names) total += fields[name]!.byteLength;
  const lengths = Buffer.allocUnsafe(4 * entries.length * names.length);
  const values = Buffer.allocUnsafe(total);
  let at = 0;
  let pos = 0;
  for (const fields of entries) {
    for (const name of names) {
      const value = fields[name]!;
      lengths.writeUInt32LE(value.byteLength, at);
      at += 4;
      values.set(value, pos);
      pos += value.byteLength;
    }
  }
  return [String(names.length), ...names, lengths, values];
}

/** Bytes an entry adds to a batch (names and values), to bound batch sizes. */
export function entryBytes(fields: EntryFields): number {
  let size = 0;
  for (const name in fields) size += name.length + fields[name]!.byteLength;
  return size;
}
