/**
 * Stream entry ids (`<ms>-<seq>`), as Redis Streams define them: ordered by milliseconds,
 * then by sequence number.
 */

/** A parsed stream id. */
export interface StreamId {
  readonly ms: number;
  readonly seq: number;
}

/** The smallest possible id; a group created on an empty stream starts here. */
export const ZERO_ID = '0-0';

/** Parses `<ms>-<seq>` (a bare `<ms>` means `<ms>-0`). Throws RangeError on anything else. */
export function parseStreamId(id: string): StreamId {
  const dash = id.indexOf('-');
  const msText = dash < 0 ? id : id.slice(0, dash);
  const seqText = dash < 0 ? '0' : id.slice(dash + 1);
  const ms = Number(msText);
  const seq = Number(seqText);
  if (!/^\d+$/.test(msText) || !/^\d+$/.test(seqText) || !Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) {
    throw new RangeError(`invalid stream id "${id}"`);
  }
  return { ms, seq };
}

/** Negative when a < b, zero when equal, positive when a > b. */
export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  return x.ms === y.ms ? x.seq - y.seq : x.ms - y.ms;
}

/** The next possible id after `id` (used to express "everything up to and including id"). */
export function nextStreamId(id: string): string {
  const { ms, seq } = parseStreamId(id);
  return seq >= Number.MAX_SAFE_INTEGER ? `${ms + 1}-0` : `${ms}-${seq + 1}`;
}

/** The smaller of two ids. */
export function minStreamId(a: string, b: string): string {
  return compareStreamIds(a, b) <= 0 ? a : b;
}
