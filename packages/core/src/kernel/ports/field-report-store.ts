import type { FieldReport } from '../../leyline/index.js';

/** A field report with its delivery bookkeeping. */
export interface StoredFieldReport {
  readonly report: FieldReport;
  /** Publish attempts so far. */
  readonly attempts: number;
  /** Earliest wall time (epoch ms) at which the next attempt may run. */
  readonly nextAttemptAtMs: number;
}

/**
 * Durable store of Leyline `FieldReport`s (Tamiyo's WAL and its P9 retry index): append-only
 * with per-record checksums, replayed on open; a torn tail is cut, never accepted.
 */
export interface FieldReportStore {
  append(report: FieldReport): Promise<void>;
  /** Reports not yet acknowledged as published whose next attempt is due at `nowMs`. */
  due(nowMs: number): Promise<readonly StoredFieldReport[]>;
  /** Marks a report delivered. */
  markPublished(reportId: string): Promise<void>;
  /**
   * Records a failed attempt and when to retry (exponential backoff is the caller's policy);
   * `error` is kept as the last failure's text.
   */
  markFailed(reportId: string, nextAttemptAtMs: number, error?: string): Promise<void>;
  /** Records the last allowed attempt as failed and gives the report up: `due` never offers it again. */
  markDropped(reportId: string, error?: string): Promise<void>;
  /** Drops reports older than the retention window; returns how many were removed. */
  compact(olderThanMs: number): Promise<number>;
  close(): Promise<void>;
}
