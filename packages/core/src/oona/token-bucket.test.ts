import { describe, expect, it } from 'vitest';
import { ManualClock } from '../kernel/ports/clock.js';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('starts full, refills perMinute/60 per second, never above capacity', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(120, () => clock.monotonicMs());
    for (let i = 0; i < 120; i++) expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(499);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake()).toBe(true);
    clock.advance(3_600_000);
    expect(bucket.available()).toBe(120);
  });

  it('is disabled at 0', () => {
    const bucket = new TokenBucket(0, () => 0);
    expect(bucket.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(bucket.tryTake()).toBe(true);
  });
});
