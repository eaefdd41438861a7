import { describe, expect, it } from 'vitest';
import { EntryLog } from './entry-log.js';

const f = (n: number) => ({ payload: new Uint8Array([n & 0xff]) });

/** A log of `n` entries with ids (1000 + ⌊i/3⌋)-(i mod 3): three per millisecond. */
function filled(n: number): EntryLog {
  const log = new EntryLog();
  for (let i = 0; i < n; i++) log.push(0, 1000 + Math.floor(i / 3), 0, i % 3, f(i));
  return log;
}

describe('EntryLog', () => {
  it('stores ids and fields across chunk boundaries and searches them', () => {
    const log = filled(5_000);
    expect(log.length).toBe(5_000);
    for (const i of [0, 1, 1023, 1024, 1025, 4_999]) {
      expect(log.id(i)).toBe(`${1000 + Math.floor(i / 3)}-${i % 3}`);
      expect(log.entry(i)).toEqual({ id: log.id(i), fields: f(i) });
    }
    expect(log.upperBound(0, 1341, 0, 1)).toBe(1025);
    expect(log.lowerBound(0, 1341, 0, 1)).toBe(1024);
    expect(log.lowerBound(0, 0, 0, 0)).toBe(0);
    expect(log.upperBound(0, 99_999, 0, 0)).toBe(5_000);
    expect(log.indexOf(0, 1341, 0, 1)).toBe(1024);
    expect(log.indexOf(0, 1341, 0, 7)).toBe(-1);
    expect(log.entries(1022, 1026).map((e) => e.id)).toEqual(['1340-2', '1341-0', '1341-1', '1341-2']);
  });

  it('removes from the front within a chunk, across chunks and down to empty, then grows again', () => {
    const log = filled(3_000);
    log.removeFirst(10);
    expect(log.length).toBe(2_990);
    expect(log.id(0)).toBe('1003-1');
    log.removeFirst(2_000);
    expect(log.length).toBe(990);
    expect(log.id(0)).toBe(filled(3_000).id(2_010));
    expect(log.indexOf(0, 1000, 0, 0)).toBe(-1);
    expect(log.fields(989)).toEqual(f(2_999));
    log.removeFirst(5_000);
    expect(log.length).toBe(0);
    expect(log.upperBound(0, 0, 0, 0)).toBe(0);
    log.push(0, 5_000, 0, 0, f(1));
    log.push(0, 5_000, 0, 1, f(2));
    expect(log.entries(0, 2).map((e) => e.id)).toEqual(['5000-0', '5000-1']);
  });

  it('copies field bytes: any field names, empty and large values, independent of the caller\'s buffers', () => {
    const log = new EntryLog();
    const payload = new Uint8Array([1, 2, 3]);
    const large = Uint8Array.from({ length: 200_000 }, (_, i) => i & 0xff);
    const shapes: Array<Record<string, Uint8Array>> = [
      { payload },
      { payload, signature: new Uint8Array([9, 9]) },
      {},
      { b: new Uint8Array(), a: new Uint8Array([5]) },
      { payload: large },
    ];
    shapes.forEach((fields, i) => log.push(0, 1, 0, i, fields));
    payload[0] = 42;
    large.fill(0);
    log.push(0, 1, 0, 5, { payload });
    expect(log.fields(0)).toEqual({ payload: new Uint8Array([1, 2, 3]) });
    expect(log.fields(1)).toEqual({ payload: new Uint8Array([1, 2, 3]), signature: new Uint8Array([9, 9]) });
    expect(log.fields(2)).toEqual({});
    expect(Object.keys(log.fields(3))).toEqual(['b', 'a']);
    expect(log.fields(3)).toEqual({ b: new Uint8Array(), a: new Uint8Array([5]) });
    const big = log.fields(4).payload!;
    expect(big.byteLength).toBe(200_000);
    expect(big[199_999]).toBe(199_999 & 0xff);
    expect(log.fields(5)).toEqual({ payload: new Uint8Array([42, 2, 3]) });
    // Each read makes new objects on the same bytes.
    expect(log.fields(0)).not.toBe(log.fields(0));
    expect(log.fields(0).payload!.buffer).toBe(log.fields(0).payload!.buffer);
  });

  it('keeps ids as pairs of 64-bit integers: 2^53, 2^64 − 1 and their order', () => {
    const log = new EntryLog();
    const max = 0xffff_ffff;
    log.push(0, 5, 0, 0, f(0));
    log.push(1 << 21, 0, 0, 0, f(1)); // 2^53
    log.push(1 << 21, 1, 0, 0, f(2)); // 2^53 + 1: a double cannot tell it from 2^53
    log.push(max, max - 999, 0, 0, f(3)); // 2^64 − 1000
    log.push(max, max - 999, max, max, f(4));
    expect([0, 1, 2, 3, 4].map((i) => log.id(i))).toEqual([
      '5-0',
      '9007199254740992-0',
      '9007199254740993-0',
      '18446744073709550616-0',
      '18446744073709550616-18446744073709551615',
    ]);
    expect(log.indexOf(1 << 21, 1, 0, 0)).toBe(2);
    expect(log.upperBound(1 << 21, 0, 0, 0)).toBe(2);
    expect(log.lowerBound(max, max - 999, 0, 1)).toBe(4);
    expect(log.upperBound(max, max, max, max)).toBe(5);
  });
});
