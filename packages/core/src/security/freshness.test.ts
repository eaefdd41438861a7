import { describe, expect, it } from 'vitest';
import { checkFreshness } from './freshness.js';

const now = 1_767_225_600_000;
const opts = { now, maxAgeMs: 60_000, maxFutureSkewMs: 5_000 };

describe('checkFreshness', () => {
  it.each([
    ['now', now, { ok: true }],
    ['exactly at the age edge (fresh)', now - 60_000, { ok: true }],
    ['1 ms past the age edge', now - 60_001, { ok: false, reason: 'stale_command' }],
    ['120 s old', now - 120_000, { ok: false, reason: 'stale_command' }],
    ['epoch zero', 0, { ok: false, reason: 'stale_command' }],
    ['exactly at the future-skew edge (fresh)', now + 5_000, { ok: true }],
    ['1 ms beyond the future-skew edge', now + 5_001, { ok: false, reason: 'issued_in_future' }],
    ['30 s ahead', now + 30_000, { ok: false, reason: 'issued_in_future' }],
    ['missing', undefined, { ok: false, reason: 'missing_timestamp' }],
    ['NaN', Number.NaN, { ok: false, reason: 'missing_timestamp' }],
  ] as const)('%s', (_label, issued, expected) => {
    expect(checkFreshness(issued, opts)).toEqual(expected);
  });

  it('has no future bound when maxFutureSkewMs is omitted (Oona kernel guard)', () => {
    expect(checkFreshness(now + 3_600_000, { now, maxAgeMs: 60_000 })).toEqual({ ok: true });
  });
});
