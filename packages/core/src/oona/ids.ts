import { OonaStreamIdError } from './errors.js';

/**
 * Stream entry ids (`<ms>-<seq>`), as Redis Streams define them: two unsigned 64-bit integers,
 * ordered by milliseconds, then by sequence number. Any producer can write any id with an
 * explicit `XADD` — `18446744073709551000-0` included — and after it every auto id of the
 * stream inherits that millisecond part, so ids are handled here as the integer pairs they are
 * (bigint), never as JavaScript numbers, which lose precision past 2^53.
 */

/** A parsed stream id: both parts are unsigned 64-bit integers. */
export interface StreamId {
  readonly ms: bigint;
  readonly seq: bigint;
}

/** The largest value of either part of an id: 2^64 − 1. */
export const MAX_STREAM_ID_PART = 0xffff_ffff_ffff_ffffn;

/** The smallest possible id; a group created on an empty stream starts here. */
export const ZERO_ID = '0-0';

/** The largest possible id (no entry can follow it). */
export const MAX_STREAM_ID = `${MAX_STREAM_ID_PART}-${MAX_STREAM_ID_PART}`;

const DIGITS = /^\d{1,20}$/;

function part(text: string, id: string): bigint {
  if (!DIGITS.test(text)) throw new OonaStreamIdError(id);
  const value = BigInt(text);
  if (value > MAX_STREAM_ID_PART) throw new OonaStreamIdError(id);
  return value;
}

/**
 * Parses `<ms>-<seq>` (a bare `<ms>` means `<ms>-0`).
 *
 * @throws OonaStreamIdError for anything else, or a part above 2^64 − 1.
 */
export function parseStreamId(id: string): StreamId {
  if (typeof id !== 'string') throw new OonaStreamIdError(String(id));
  const dash = id.indexOf('-');
  return dash < 0 ? { ms: part(id, id), seq: 0n } : { ms: part(id.slice(0, dash), id), seq: part(id.slice(dash + 1), id) };
}

/**
 * Negative when a < b, zero when equal, positive when a > b (as integer pairs, exactly).
 *
 * @throws OonaStreamIdError when either is not a stream id.
 */
export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  return x.seq === y.seq ? 0 : x.seq < y.seq ? -1 : 1;
}

/**
 * The next possible id after `id` (to express "everything up to and including id"), or
 * `undefined` after the largest possible id.
 */
export function nextStreamId(id: string): string | undefined {
  const { ms, seq } = parseStreamId(id);
  if (seq < MAX_STREAM_ID_PART) return `${ms}-${seq + 1n}`;
  return ms < MAX_STREAM_ID_PART ? `${ms + 1n}-0` : undefined;
}

/** The smaller of two ids. */
export function minStreamId(a: string, b: string): string {
  return compareStreamIds(a, b) <= 0 ? a : b;
}

/** The larger of two ids. */
export function maxStreamId(a: string, b: string): string {
  return compareStreamIds(a, b) >= 0 ? a : b;
}

/** The first id of wall-clock millisecond `ms` (`<ms>-0`; negative or fractional times are floored at 0). */
export function streamIdAt(ms: number): string {
  return `${Math.max(0, Math.floor(ms))}-0`;
}

/**
 * Whether the millisecond part of `id` is later than `ms`, without parsing: decimal strings
 * without leading zeros compare by length, then character by character. For the consume path,
 * which checks one id per batch. Malformed ids are not later.
 */
export function streamIdAfter(id: string, ms: number): boolean {
  const dash = id.indexOf('-');
  const head = dash < 0 ? id : id.slice(0, dash);
  const limit = String(Math.max(0, Math.floor(ms)));
  let start = 0;
  while (start < head.length - 1 && head.charCodeAt(start) === 48) start++;
  const digits = head.length - start;
  if (digits !== limit.length) return digits > limit.length && /^\d+$/.test(head);
  return head.slice(start) > limit && /^\d+$/.test(head);
}
