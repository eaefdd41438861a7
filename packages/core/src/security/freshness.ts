/** Why a timestamp failed {@link checkFreshness}. */
export type FreshnessRejection = 'missing_timestamp' | 'issued_in_future' | 'stale_command';

/** Outcome of {@link checkFreshness}. */
export type FreshnessResult = { readonly ok: true } | { readonly ok: false; readonly reason: FreshnessRejection };

/** Limits for {@link checkFreshness}. All values are milliseconds; `now` is wall-clock epoch ms. */
export interface FreshnessOptions {
  /** Current wall-clock time, epoch ms (from `Clock.nowMs()`). */
  now: number;
  /** Oldest accepted age: `issued < now − maxAgeMs` is stale, exactly `now − maxAgeMs` is fresh. */
  maxAgeMs: number;
  /**
   * Furthest accepted future skew: `issued > now + maxFutureSkewMs` is refused, exactly at the edge
   * is accepted. Omit for no upper bound (as Oona's kernel-prefetch guard).
   */
  maxFutureSkewMs?: number;
}

const OK: FreshnessResult = Object.freeze({ ok: true });

/**
 * Checks an `issued_at` instant against a freshness window, with the reference's boundaries
 * (§1.12): an instant exactly at either edge is fresh. A missing or non-finite instant is
 * `missing_timestamp`; the future check comes before the age check.
 *
 * @param issuedAtMs the message's issue time in epoch ms, or `undefined` when it carries none.
 */
export function checkFreshness(issuedAtMs: number | undefined, options: FreshnessOptions): FreshnessResult {
  if (issuedAtMs === undefined || !Number.isFinite(issuedAtMs)) return { ok: false, reason: 'missing_timestamp' };
  const { now, maxAgeMs, maxFutureSkewMs } = options;
  if (maxFutureSkewMs !== undefined && issuedAtMs > now + maxFutureSkewMs) return { ok: false, reason: 'issued_in_future' };
  if (issuedAtMs < now - maxAgeMs) return { ok: false, reason: 'stale_command' };
  return OK;
}
