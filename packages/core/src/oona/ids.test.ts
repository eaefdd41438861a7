import { describe, expect, it } from 'vitest';
import { OonaStreamIdError } from './errors.js';
import { compareStreamIds, MAX_STREAM_ID, maxStreamId, minStreamId, nextStreamId, parseStreamId, streamIdAfter, streamIdAt } from './ids.js';

const TWO_53 = '9007199254740992';

describe('stream ids are pairs of unsigned 64-bit integers (issue 15, finding 2)', () => {
  it('parses any id Redis can write, exactly', () => {
    expect(parseStreamId('0-0')).toEqual({ ms: 0n, seq: 0n });
    expect(parseStreamId('1700000000000-3')).toEqual({ ms: 1_700_000_000_000n, seq: 3n });
    expect(parseStreamId(`${TWO_53}-1`)).toEqual({ ms: 2n ** 53n, seq: 1n });
    expect(parseStreamId('18446744073709551000-0').ms).toBe(18_446_744_073_709_551_000n);
    expect(parseStreamId(MAX_STREAM_ID)).toEqual({ ms: 2n ** 64n - 1n, seq: 2n ** 64n - 1n });
    expect(parseStreamId('42')).toEqual({ ms: 42n, seq: 0n });
  });

  it('refuses what is not an id with OonaStreamIdError', () => {
    for (const bad of ['', '-', '1-', '-1', 'a-1', '1-2-3', '1.5-0', '18446744073709551616-0', '0-18446744073709551616', ' 1-0', '+', '1e3-0']) {
      expect(() => parseStreamId(bad), bad).toThrow(OonaStreamIdError);
    }
    expect(() => parseStreamId(null as unknown as string)).toThrow(OonaStreamIdError);
  });

  it('compares exactly where doubles cannot (2^53 and 2^53 + 1, near 2^64)', () => {
    expect(compareStreamIds(`${TWO_53}-0`, '9007199254740993-0')).toBeLessThan(0);
    expect(compareStreamIds('18446744073709551615-0', '18446744073709551614-9')).toBeGreaterThan(0);
    expect(compareStreamIds('5-10', '5-9')).toBeGreaterThan(0);
    expect(compareStreamIds('05-1', '5-1')).toBe(0);
    expect(minStreamId('9999999999999-0', '1700000000000-0')).toBe('1700000000000-0');
    expect(maxStreamId('9999999999999-0', `${TWO_53}-0`)).toBe(`${TWO_53}-0`);
  });

  it('nextStreamId carries into the millisecond part and ends after the last possible id', () => {
    expect(nextStreamId('5-1')).toBe('5-2');
    expect(nextStreamId(`${TWO_53}-0`)).toBe('9007199254740992-1');
    expect(nextStreamId('7-18446744073709551615')).toBe('8-0');
    expect(nextStreamId(MAX_STREAM_ID)).toBeUndefined();
  });

  it('streamIdAt and streamIdAfter (the one check per consumed batch)', () => {
    expect(streamIdAt(1_700_000_000_123.9)).toBe('1700000000123-0');
    expect(streamIdAt(-5)).toBe('0-0');
    const now = 1_700_000_000_000;
    expect(streamIdAfter('1700000000000-5', now)).toBe(false);
    expect(streamIdAfter('1700000000001-0', now)).toBe(true);
    expect(streamIdAfter('999-0', now)).toBe(false);
    expect(streamIdAfter('9999999999999-0', now)).toBe(true);
    expect(streamIdAfter('18446744073709551000-0', now)).toBe(true);
    expect(streamIdAfter('0001700000000001-0', now)).toBe(true);
    expect(streamIdAfter('garbage-0', now)).toBe(false);
  });
});
