import type { Clock } from '../kernel/ports/clock.js';
import { SecurityConfigError } from './errors.js';

/** Default replay window of a {@link NonceLedger}: 300 s, as Kasmina's `nonce_ttl_seconds`. */
export const DEFAULT_NONCE_WINDOW_MS = 300_000;

/** Default number of ids a {@link NonceLedger} holds before it evicts the oldest. */
export const DEFAULT_NONCE_CAPACITY = 65_536;

/** Options of {@link NonceLedger}. */
export interface NonceLedgerOptions {
  /** Time source; the ledger reads its monotonic clock, so wall-clock jumps do not drop or keep ids. */
  clock: Clock;
  /** How long an id is remembered, in ms (default {@link DEFAULT_NONCE_WINDOW_MS}). */
  windowMs?: number;
  /**
   * Most ids held at once (default {@link DEFAULT_NONCE_CAPACITY}). Beyond it the oldest id is
   * evicted early and could then be replayed: size it above the expected command rate × window.
   */
  capacity?: number;
}

/**
 * Remembers message ids (command ids, request ids) for a time window to refuse replays.
 *
 * An id recorded at monotonic time `t` is refused until `t + windowMs` (exclusive) and forgotten
 * from then on. Because every entry lives for the same window and the monotonic clock never goes
 * back, insertion order is expiry order: expired ids are pruned from the oldest end, each at most
 * once, so a call costs amortised O(1) however many ids are held.
 */
export class NonceLedger {
  /** The replay window in ms. */
  readonly windowMs: number;
  /** The capacity cap. */
  readonly capacity: number;
  private readonly clock: Clock;
  /** id → monotonic expiry (ms), in insertion (= expiry) order. */
  private readonly expiries = new Map<string, number>();

  constructor(options: NonceLedgerOptions) {
    const windowMs = options.windowMs ?? DEFAULT_NONCE_WINDOW_MS;
    const capacity = options.capacity ?? DEFAULT_NONCE_CAPACITY;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new SecurityConfigError(`NonceLedger: windowMs must be a positive number of milliseconds, got ${windowMs}.`);
    }
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new SecurityConfigError(`NonceLedger: capacity must be a positive integer, got ${capacity}.`);
    }
    this.clock = options.clock;
    this.windowMs = windowMs;
    this.capacity = capacity;
  }

  /**
   * Records `id` and returns true when it was not seen within the window; returns false (and
   * leaves the existing entry and its expiry untouched) for a replay.
   */
  checkAndRecord(id: string): boolean {
    const now = this.clock.monotonicMs();
    this.prune(now);
    if (this.expiries.has(id)) return false;
    this.expiries.set(id, now + this.windowMs);
    if (this.expiries.size > this.capacity) {
      const oldest = this.expiries.keys().next();
      if (oldest.done !== true) this.expiries.delete(oldest.value);
    }
    return true;
  }

  /** True when `id` is currently remembered (a `checkAndRecord` now would refuse it). Records nothing. */
  has(id: string): boolean {
    this.prune(this.clock.monotonicMs());
    return this.expiries.has(id);
  }

  /** Number of ids held, after pruning expired ones. */
  get size(): number {
    this.prune(this.clock.monotonicMs());
    return this.expiries.size;
  }

  /** Forgets every id. */
  clear(): void {
    this.expiries.clear();
  }

  private prune(now: number): void {
    for (const [id, expiry] of this.expiries) {
      if (expiry > now) return;
      this.expiries.delete(id);
    }
  }
}
