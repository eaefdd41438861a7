import { CircuitBreakerState } from '../leyline/index.js';

/** Parameters of a {@link CircuitBreaker}. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker (≥ 1, default 3). */
  readonly failureThreshold?: number;
  /** Successes in HALF_OPEN that close it (≥ 1, default 1). */
  readonly successThreshold?: number;
  /** How long it stays OPEN before a trial (ms, ≥ 0, default 30 000). */
  readonly timeoutMs?: number;
}

/** What {@link CircuitBreaker.snapshot} reports. */
export interface BreakerSnapshot {
  readonly state: CircuitBreakerState;
  readonly failureCount: number;
  readonly successCount: number;
  /** Monotonic ms until which an OPEN breaker denies (0 when not open). */
  readonly openUntilMs: number;
}

type BreakerEvent = 'allow' | 'failure' | 'success' | 'restored';

interface BreakerData {
  state: CircuitBreakerState;
  failures: number;
  successes: number;
  openUntilMs: number;
}

/**
 * The breaker's transitions as data (reference §1.9): one row per (state, event); each row
 * returns the next data, and `allow` also says whether the call may proceed. The table is the
 * documentation and the unit tests enumerate it.
 */
const TRANSITIONS: Record<
  CircuitBreakerState,
  Record<BreakerEvent, (d: BreakerData, now: () => number, o: Required<BreakerOptions>) => [BreakerData, boolean]>
> = {
  [CircuitBreakerState.CIRCUIT_STATE_CLOSED]: {
    allow: (d) => [d, true],
    restored: (d) => [d, true],
    failure: (d, now, o) =>
      d.failures + 1 >= o.failureThreshold
        ? [{ state: CircuitBreakerState.CIRCUIT_STATE_OPEN, failures: d.failures + 1, successes: 0, openUntilMs: now() + o.timeoutMs }, false]
        : [{ ...d, failures: d.failures + 1, successes: 0 }, false],
    // The hot path: no allocation when nothing changes.
    success: (d) => [d.failures === 0 ? d : { ...d, failures: 0 }, true],
  },
  [CircuitBreakerState.CIRCUIT_STATE_OPEN]: {
    allow: (d, now) =>
      now() < d.openUntilMs
        ? [d, false]
        : [{ state: CircuitBreakerState.CIRCUIT_STATE_HALF_OPEN, failures: 0, successes: 0, openUntilMs: 0 }, true],
    // A failure reported while open (a call that was already in flight) extends the open period.
    failure: (d, now, o) => [{ ...d, failures: d.failures + 1, successes: 0, openUntilMs: now() + o.timeoutMs }, false],
    success: (d) => [d, true],
    // The backend reports its connection back: trial calls may go at once, without waiting out the timeout.
    restored: () => [{ state: CircuitBreakerState.CIRCUIT_STATE_HALF_OPEN, failures: 0, successes: 0, openUntilMs: 0 }, true],
  },
  [CircuitBreakerState.CIRCUIT_STATE_HALF_OPEN]: {
    allow: (d) => [d, true],
    failure: (d, now, o) =>
      d.failures + 1 >= o.failureThreshold
        ? [{ state: CircuitBreakerState.CIRCUIT_STATE_OPEN, failures: d.failures + 1, successes: 0, openUntilMs: now() + o.timeoutMs }, false]
        : [{ ...d, failures: d.failures + 1, successes: 0 }, false],
    success: (d, _now, o) =>
      d.successes + 1 >= o.successThreshold
        ? [{ state: CircuitBreakerState.CIRCUIT_STATE_CLOSED, failures: 0, successes: 0, openUntilMs: 0 }, true]
        : [{ ...d, successes: d.successes + 1 }, true],
    restored: (d) => [d, true],
  },
  [CircuitBreakerState.CIRCUIT_STATE_UNKNOWN]: {
    allow: (d) => [d, true],
    failure: (d) => [d, false],
    success: (d) => [d, true],
    restored: (d) => [d, true],
  },
};

/**
 * A circuit breaker with Leyline `CircuitBreakerState` states (CLOSED → OPEN after
 * `failureThreshold` consecutive failures; OPEN → HALF_OPEN on the first `allow()` after
 * `timeoutMs`, or at once when the backend reports its connection restored
 * ({@link CircuitBreaker.restored}); HALF_OPEN → CLOSED after `successThreshold` successes).
 * Time comes from the injected monotonic clock.
 */
export class CircuitBreaker {
  private data: BreakerData = { state: CircuitBreakerState.CIRCUIT_STATE_CLOSED, failures: 0, successes: 0, openUntilMs: 0 };
  private readonly options: Required<BreakerOptions>;

  constructor(
    private readonly monotonicMs: () => number,
    options: BreakerOptions = {},
  ) {
    this.options = {
      failureThreshold: Math.max(1, options.failureThreshold ?? 3),
      successThreshold: Math.max(1, options.successThreshold ?? 1),
      timeoutMs: Math.max(0, options.timeoutMs ?? 30_000),
    };
  }

  private apply(event: BreakerEvent): boolean {
    const [next, ok] = TRANSITIONS[this.data.state][event](this.data, this.monotonicMs, this.options);
    this.data = next;
    return ok;
  }

  /** Whether a call may proceed now (moves OPEN → HALF_OPEN once the timeout has passed). */
  allow(): boolean {
    // The CLOSED row admits and changes nothing; skipping the lookup keeps the per-message path allocation-free.
    if (this.data.state === CircuitBreakerState.CIRCUIT_STATE_CLOSED) return true;
    return this.apply('allow');
  }

  recordFailure(): void {
    this.apply('failure');
  }

  recordSuccess(): void {
    // As in allow(): a success in CLOSED with no failures counted changes nothing.
    if (this.data.state === CircuitBreakerState.CIRCUIT_STATE_CLOSED && this.data.failures === 0) return;
    this.apply('success');
  }

  /**
   * The backend's connection is back: an OPEN breaker goes HALF_OPEN at once, so the next call
   * is the trial instead of waiting out `timeoutMs` (a failed trial opens it again). Other
   * states do not change.
   */
  restored(): void {
    this.apply('restored');
  }

  /** Opens the breaker now for `timeoutMs`. */
  forceOpen(): void {
    this.data = { ...this.data, state: CircuitBreakerState.CIRCUIT_STATE_OPEN, successes: 0, openUntilMs: this.monotonicMs() + this.options.timeoutMs };
  }

  get state(): CircuitBreakerState {
    return this.data.state;
  }

  /** Monotonic ms until an OPEN breaker admits a trial call. */
  get openUntilMs(): number {
    return this.data.openUntilMs;
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.data.state,
      failureCount: this.data.failures,
      successCount: this.data.successes,
      openUntilMs: this.data.openUntilMs,
    };
  }
}
