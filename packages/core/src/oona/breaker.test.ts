import { describe, expect, it } from 'vitest';
import { CircuitBreakerState } from '../leyline/index.js';
import { ManualClock } from '../kernel/ports/clock.js';
import { CircuitBreaker } from './breaker.js';

const { CIRCUIT_STATE_CLOSED: CLOSED, CIRCUIT_STATE_OPEN: OPEN, CIRCUIT_STATE_HALF_OPEN: HALF_OPEN } = CircuitBreakerState;

describe('CircuitBreaker', () => {
  const make = (opts = {}) => {
    const clock = new ManualClock();
    return { clock, breaker: new CircuitBreaker(() => clock.monotonicMs(), opts) };
  };

  it('opens after 3 consecutive failures, denies until 30 s, half-opens, one success closes', () => {
    const { clock, breaker } = make();
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.state).toBe(CLOSED);
    breaker.recordFailure();
    expect(breaker.state).toBe(OPEN);
    expect(breaker.allow()).toBe(false);
    clock.advance(29_999);
    expect(breaker.allow()).toBe(false);
    clock.advance(1);
    expect(breaker.allow()).toBe(true);
    expect(breaker.state).toBe(HALF_OPEN);
    breaker.recordSuccess();
    expect(breaker.snapshot()).toMatchObject({ state: CLOSED, failureCount: 0, successCount: 0 });
  });

  it('a success in CLOSED resets the failure count (failures must be consecutive)', () => {
    const { breaker } = make();
    breaker.recordFailure();
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.state).toBe(CLOSED);
  });

  it('in HALF_OPEN the failure count restarts: threshold failures re-open', () => {
    const { clock, breaker } = make({ failureThreshold: 2, successThreshold: 2, timeoutMs: 100 });
    breaker.recordFailure();
    breaker.recordFailure();
    clock.advance(100);
    expect(breaker.allow()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state).toBe(HALF_OPEN);
    breaker.recordFailure();
    expect(breaker.state).toBe(HALF_OPEN);
    breaker.recordFailure();
    expect(breaker.state).toBe(OPEN);
    expect(breaker.openUntilMs).toBe(clock.monotonicMs() + 100);
  });

  it('a failure while OPEN extends the open period; success while OPEN changes nothing', () => {
    const { clock, breaker } = make({ failureThreshold: 1, timeoutMs: 1_000 });
    breaker.recordFailure();
    clock.advance(900);
    breaker.recordFailure();
    breaker.recordSuccess();
    clock.advance(900);
    expect(breaker.allow()).toBe(false);
    clock.advance(100);
    expect(breaker.allow()).toBe(true);
  });

  it('clamps parameters to their minimums', () => {
    const { breaker } = make({ failureThreshold: 0, successThreshold: 0, timeoutMs: -5 });
    breaker.recordFailure();
    expect(breaker.state).toBe(OPEN);
    expect(breaker.allow()).toBe(true);
  });

  it('restored(): an OPEN breaker half-opens at once (the next call is the trial); other states do not change', () => {
    const { clock, breaker } = make();
    breaker.restored();
    expect(breaker.state).toBe(CLOSED);
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    expect(breaker.allow()).toBe(false);
    clock.advance(10);
    breaker.restored();
    expect(breaker.snapshot()).toMatchObject({ state: HALF_OPEN, failureCount: 0, openUntilMs: 0 });
    expect(breaker.allow()).toBe(true);
    breaker.restored();
    expect(breaker.state).toBe(HALF_OPEN);
    // A failed trial counts toward re-opening as in any half-open period; a success closes.
    breaker.recordFailure();
    expect(breaker.state).toBe(HALF_OPEN);
    breaker.recordSuccess();
    expect(breaker.state).toBe(CLOSED);
  });
});
