/**
 * Time as a port, so that every deadline, freshness window, breaker timeout and token
 * refill in Esper can be tested without sleeping.
 *
 * Two clocks are kept apart on purpose: wall time (Unix epoch, can jump) for timestamps
 * that cross processes, and monotonic time (never goes back) for measuring durations.
 */
export interface Clock {
  /** Wall-clock time in Unix epoch milliseconds (may jump when the host clock is set). */
  nowMs(): number;
  /** Monotonic milliseconds with sub-millisecond precision; only differences are meaningful. */
  monotonicMs(): number;
  /**
   * Monotonic nanoseconds as a bigint. On Linux this is CLOCK_MONOTONIC, the same clock a
   * Python `time.monotonic_ns()` reads on the same host (Leyline `EmergencySignal.monotonic_time_ms`).
   */
  monotonicNs(): bigint;
}

/** The real clock: `Date.now()` and `process.hrtime.bigint()`. */
export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }
  monotonicMs(): number {
    return Number(process.hrtime.bigint()) / 1e6;
  }
  monotonicNs(): bigint {
    return process.hrtime.bigint();
  }
}

/**
 * A clock that moves only when told to. Wall and monotonic time advance together through
 * {@link ManualClock.advance}; {@link ManualClock.setWall} jumps the wall clock alone, as an
 * operator setting the host clock would.
 */
export class ManualClock implements Clock {
  private wallMs: number;
  private monoNs: bigint;

  /** @param startWallMs initial wall time in epoch ms (default 2026-01-01T00:00:00Z). */
  constructor(startWallMs = 1_767_225_600_000, startMonotonicMs = 1_000) {
    this.wallMs = startWallMs;
    this.monoNs = BigInt(Math.round(startMonotonicMs * 1e6));
  }
  nowMs(): number {
    return this.wallMs;
  }
  monotonicMs(): number {
    return Number(this.monoNs) / 1e6;
  }
  monotonicNs(): bigint {
    return this.monoNs;
  }
  /** Moves both clocks forward by `ms` (must be ≥ 0). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    this.wallMs += ms;
    this.monoNs += BigInt(Math.round(ms * 1e6));
  }
  /** Sets the wall clock to `epochMs` without touching monotonic time. */
  setWall(epochMs: number): void {
    this.wallMs = epochMs;
  }
}
