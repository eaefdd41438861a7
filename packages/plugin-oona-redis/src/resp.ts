import { EsperError } from '@esper/core';
import type { EntryFields, StreamEntry } from '@esper/core/oona';

/**
 * The small part of RESP2 that the stream read connection needs: splitting a byte stream into
 * whole replies (which may arrive in any number of chunks, cut anywhere) and turning an
 * `XREADGROUP … STREAMS <one stream> >` reply straight into stream entries. Bulk strings are
 * skipped and sliced by their declared length, so values are binary-safe (CR, LF and NUL
 * inside a value are just bytes). Values are views on the reply's buffer, not copies.
 */

const CR = 13;
const ARRAY = 42; // *
const BULK = 36; // $
const ERROR = 45; // -

/** The server sent bytes that are not the RESP2 this reader expects. The connection must be dropped. */
export class RespProtocolError extends EsperError<'ESPER_OONA_REDIS_PROTOCOL'> {
  constructor(message: string) {
    super('ESPER_OONA_REDIS_PROTOCOL', `Redis protocol error: ${message}`);
  }
}

/**
 * Finds where complete replies end in a growing byte buffer, resuming where the last call
 * stopped: each byte is scanned once however the reply is chunked (aggregates keep a stack of
 * the elements they still expect; a bulk string's body is skipped by its length).
 */
export class ReplyScanner {
  /** Offset of the first byte not yet scanned (always at the start of an element). */
  private pos = 0;
  /** Elements still expected by each open array, innermost last. */
  private readonly open: number[] = [];

  /** Forgets the reply in progress and starts over at offset 0 (a new buffer or connection). */
  reset(): void {
    this.pos = 0;
    this.open.length = 0;
  }

  /** The caller dropped the first `count` bytes of its buffer: positions move down by as much. */
  rebase(count: number): void {
    this.pos -= count;
  }

  /**
   * Scans `buf[0, length)` from where the last call stopped. Returns the end offset of the next
   * complete reply (the following call scans the reply after it), or -1 when more bytes are needed. Throws {@link RespProtocolError} for
   * bytes that cannot start an element.
   */
  scan(buf: Uint8Array, length: number): number {
    for (;;) {
      if (this.pos >= length) return -1;
      const type = buf[this.pos]!;
      const eol = lineEnd(buf, this.pos + 1, length);
      if (eol < 0) return -1;
      let next = eol + 2;
      if (type === ARRAY) {
        const n = readInt(buf, this.pos + 1, eol);
        if (n > 0) {
          this.pos = next;
          this.open.push(n);
          continue;
        }
      } else if (type === BULK) {
        const n = readInt(buf, this.pos + 1, eol);
        if (n >= 0) {
          next += n + 2;
          if (next > length) return -1;
          if (buf[next - 2] !== CR || buf[next - 1] !== 10) throw new RespProtocolError('a bulk string does not end with CRLF');
        }
      } else if (type !== 43 && type !== ERROR && type !== 58) {
        // Simple string (+), error (-) and integer (:) are one line; nothing else is RESP2.
        throw new RespProtocolError(`unexpected type byte ${type}`);
      }
      this.pos = next;
      // One element is complete: close every array it completes.
      let depth = this.open.length;
      while (depth > 0 && --this.open[depth - 1]! === 0) {
        this.open.pop();
        depth--;
      }
      // The next reply (pipelined commands) starts where this one ended.
      if (depth === 0) return this.pos;
    }
  }
}

/** Offset of the CR of the CRLF ending the line that starts at `from`, or -1 when it has not fully arrived. */
function lineEnd(buf: Uint8Array, from: number, length: number): number {
  for (let i = from; i + 1 < length; i++) if (buf[i] === CR) return buf[i + 1] === 10 ? i : fail('a line does not end with CRLF');
  return -1;
}

function fail(message: string): never {
  throw new RespProtocolError(message);
}

/** A signed decimal integer in `buf[from, to)`. */
function readInt(buf: Uint8Array, from: number, to: number): number {
  let i = from;
  const negative = buf[i] === ERROR;
  if (negative) i++;
  if (i >= to) fail('an empty length');
  let n = 0;
  for (; i < to; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) fail('a length is not a number');
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/** The text of a one-line reply (simple string, error or integer), without its type byte. */
export function lineText(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start + 1, end - 2);
}

const PAYLOAD = Buffer.from('payload');
const SIGNATURE = Buffer.from('signature');

/** Whether `buf[at, at + name.length)` holds `name` (a byte loop: shorter than a native compare call). */
function holds(buf: Buffer, at: number, name: Buffer): boolean {
  for (let i = 0; i < name.length; i++) if (buf[at + i] !== name[i]) return false;
  return true;
}

/** A cursor over one complete reply (the scanner has checked its framing). */
class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
  ) {}

  /** Reads an element header of `type`: its count or length (-1 for nil). */
  header(type: number): number {
    const buf = this.buf;
    if (buf[this.pos] !== type) fail(`expected ${type === ARRAY ? 'an array' : 'a bulk string'} in a stream reply`);
    let i = this.pos + 1;
    while (buf[i] !== CR) i++;
    const n = readInt(buf, this.pos + 1, i);
    this.pos = i + 2;
    return n;
  }
}

/** Field names read from stream replies, interned (a stream's entries share a few names). */
function fieldName(buf: Buffer, at: number, length: number): string {
  if (length === 7 && holds(buf, at, PAYLOAD)) return 'payload';
  if (length === 9 && holds(buf, at, SIGNATURE)) return 'signature';
  return buf.toString('utf8', at, at + length);
}

/**
 * Entries of a complete `XREADGROUP … STREAMS <stream> >` reply in `buf[start, …)` (RESP2:
 * nil when the read timed out, else `[[stream, [[id, [field, value, …]], …]]]`). An entry whose
 * fields are nil (deleted while pending) gets no fields. Values are views on `buf`.
 */
export function parseStreamRead(buf: Buffer, start: number): StreamEntry[] {
  const c = new Cursor(buf, start);
  const streams = c.header(ARRAY);
  if (streams <= 0) return [];
  if (c.header(ARRAY) !== 2) fail('a stream reply that is not [name, entries]');
  const streamNameLength = c.header(BULK); // skipped: the read names one stream
  c.pos += streamNameLength + 2;
  const count = c.header(ARRAY);
  const entries = new Array<StreamEntry>(Math.max(0, count));
  for (let e = 0; e < count; e++) {
    if (c.header(ARRAY) !== 2) fail('an entry that is not [id, fields]');
    const idLength = c.header(BULK);
    const id = buf.toString('latin1', c.pos, c.pos + idLength);
    c.pos += idLength + 2;
    const flat = c.header(ARRAY);
    if (flat > 0 && flat % 2 !== 0) fail('an entry with an odd number of field elements');
    const fields: Record<string, Uint8Array> = {};
    for (let f = 0; f < flat; f += 2) {
      const nameLength = c.header(BULK);
      const name = fieldName(buf, c.pos, nameLength);
      c.pos += nameLength + 2;
      const valueLength = c.header(BULK);
      if (valueLength < 0) continue;
      // A view, not a Buffer: Uint8Array's constructor is far cheaper than Buffer#subarray.
      fields[name] = new Uint8Array(buf.buffer, buf.byteOffset + c.pos, valueLength);
      c.pos += valueLength + 2;
    }
    entries[e] = { id, fields: fields as EntryFields };
  }
  return entries;
}
