import { describe, expect, it } from 'vitest';
import { ManualClock } from '../kernel/ports/clock.js';
import { SecurityConfigError } from './errors.js';
import { DEFAULT_NONCE_WINDOW_MS, NonceLedger } from './nonce-ledger.js';

describe('NonceLedger', () => {
  it('accepts a new id once and refuses it within the window', () => {
    const clock = new ManualClock();
    const ledger = new NonceLedger({ clock });
    expect(ledger.windowMs).toBe(DEFAULT_NONCE_WINDOW_MS);
    expect(ledger.checkAndRecord('cmd-1')).toBe(true);
    expect(ledger.checkAndRecord('cmd-1')).toBe(false);
    clock.advance(DEFAULT_NONCE_WINDOW_MS - 1);
    expect(ledger.checkAndRecord('cmd-1')).toBe(false);
    expect(ledger.checkAndRecord('cmd-2')).toBe(true);
  });

  it('forgets an id exactly when its window ends', () => {
    const clock = new ManualClock();
    const ledger = new NonceLedger({ clock, windowMs: 1_000 });
    ledger.checkAndRecord('a');
    clock.advance(999);
    expect(ledger.has('a')).toBe(true);
    clock.advance(1);
    expect(ledger.has('a')).toBe(false);
    expect(ledger.checkAndRecord('a')).toBe(true);
  });

  it('a refused replay does not extend the window', () => {
    const clock = new ManualClock();
    const ledger = new NonceLedger({ clock, windowMs: 1_000 });
    ledger.checkAndRecord('a');
    clock.advance(600);
    expect(ledger.checkAndRecord('a')).toBe(false);
    clock.advance(400);
    expect(ledger.checkAndRecord('a')).toBe(true);
  });

  it('uses monotonic time: a wall-clock jump neither forgets nor keeps ids', () => {
    const clock = new ManualClock();
    const ledger = new NonceLedger({ clock, windowMs: 1_000 });
    ledger.checkAndRecord('a');
    clock.setWall(clock.nowMs() + 10_000_000);
    expect(ledger.checkAndRecord('a')).toBe(false);
    clock.setWall(0);
    clock.advance(1_000);
    expect(ledger.checkAndRecord('a')).toBe(true);
  });

  it('evicts the oldest id beyond its capacity', () => {
    const clock = new ManualClock();
    const ledger = new NonceLedger({ clock, capacity: 3 });
    for (const id of ['a', 'b', 'c', 'd']) {
      expect(ledger.checkAndRecord(id)).toBe(true);
      clock.advance(1);
    }
    expect(ledger.size).toBe(3);
    expect(ledger.has('a')).toBe(false);
    expect(ledger.checkAndRecord('b')).toBe(false);
    expect(ledger.checkAndRecord('a')).toBe(true); // evicted early, so accepted again (documented trade-off)
    expect(ledger.has('b')).toBe(false);
  });

  it('prunes expired ids so the size stays bounded by the rate × window', () => {
    const clock = new ManualClock();
    const ledger = new NonceLedger({ clock, windowMs: 100 });
    for (let i = 0; i < 10_000; i += 1) {
      ledger.checkAndRecord(`id-${i}`);
      clock.advance(1);
    }
    expect(ledger.size).toBe(99); // ids recorded at t−99 … t−1 (the one from t−100 just expired)
    clock.advance(100);
    expect(ledger.size).toBe(0);
  });

  it('clear() forgets everything', () => {
    const ledger = new NonceLedger({ clock: new ManualClock() });
    ledger.checkAndRecord('x');
    ledger.clear();
    expect(ledger.checkAndRecord('x')).toBe(true);
  });

  it.each([
    [{ windowMs: 0 }],
    [{ windowMs: -1 }],
    [{ windowMs: Number.NaN }],
    [{ windowMs: Number.POSITIVE_INFINITY }],
    [{ capacity: 0 }],
    [{ capacity: 1.5 }],
  ])('rejects invalid options %j', (options) => {
    expect(() => new NonceLedger({ clock: new ManualClock(), ...options })).toThrow(SecurityConfigError);
  });
});
