/**
 * A token bucket refilled continuously on the monotonic clock: `perMinute` tokens of capacity,
 * refilled at `perMinute / 60` tokens per second, starting full. `perMinute` of 0 (or less)
 * disables limiting; {@link TokenBucket.tryTake} then always succeeds.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly monotonicMs: () => number,
  ) {
    this.tokens = Math.max(0, perMinute);
    this.lastMs = monotonicMs();
  }

  /** Whether limiting is on. */
  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /** Tokens available now (after refill). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes one token if available; false when the bucket is empty. */
  tryTake(): boolean {
    if (!this.enabled) return true;
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private refill(): void {
    const now = this.monotonicMs();
    const elapsedS = Math.max(0, now - this.lastMs) / 1000;
    this.lastMs = now;
    this.tokens = Math.min(this.perMinute, this.tokens + (elapsedS * this.perMinute) / 60);
  }
}
