import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { AppendLog, writeFileAtomic, type FieldReportStore, type Logger, type StoredFieldReport } from '@esper/core';
import { FieldReportSchema, type FieldReport } from '@esper/core/leyline';

/** File name of the retry index sidecar, next to the log (reference §12.6). */
export const FIELD_REPORT_INDEX_FILE = 'field_reports.index.json';

/** One entry of `field_reports.index.json`: the delivery state of one report (reference §12.6 names). */
export interface FieldReportIndexEntry {
  readonly published: boolean;
  /** Failed publish attempts so far (kept across restarts, unlike the reference). */
  readonly retry_count: number;
  /** Earliest wall time (Unix epoch ms) of the next attempt; 0 when none is scheduled. */
  readonly next_attempt_ms: number;
  /** Text of the last failure. */
  readonly last_error?: string;
  /** The report was given up after its last allowed attempt; it is never offered again. */
  readonly dropped?: true;
}

/** Options of {@link FieldReportLog.open}. */
export interface FieldReportLogOptions {
  /** The log file (`<run.dir>/tamiyo/field_reports.log` in a run); the index sidecar goes next to it. */
  readonly path: string;
  /** fsync at commit points (default true; off only for scratch data). */
  readonly fsync?: boolean;
  /** Told about a cut torn tail and an unreadable index. */
  readonly logger?: Logger | undefined;
}

/**
 * The identity of a report for publishing and the index: its `report_id`, or, for a report
 * without one, the SHA-256 hex of its serialisation (reference §12.4).
 */
export function fieldReportKey(report: FieldReport): string {
  if (report.reportId !== '') return report.reportId;
  return createHash('sha256').update(toBinary(FieldReportSchema, report)).digest('hex');
}

/**
 * Tamiyo's durable field-report store, core's `FieldReportStore` port on an {@link AppendLog}
 * (each report one checksummed record, fsynced before `append` resolves; a torn tail is cut on
 * open) plus the retry index sidecar `field_reports.index.json` (written atomically after every
 * change of delivery state).
 *
 * Fixes of the reference (decision 0055): a report id is appended at most once (a second append
 * of the same id is ignored, so re-synthesising a window after a crash cannot duplicate it); a
 * dropped report is never offered again; retry counts survive a restart; retention removes only
 * settled (published or dropped) reports, so no report is pruned before it was delivered or
 * given up. Calls are serialised.
 */
export class FieldReportLog implements FieldReportStore {
  /** Retained reports by key, in append order. */
  private readonly byKey = new Map<string, FieldReport>();
  private readonly index: Map<string, FieldReportIndexEntry>;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly log: AppendLog,
    /** The retry index sidecar. */
    readonly indexPath: string,
    index: Map<string, FieldReportIndexEntry>,
    private readonly fsync: boolean,
  ) {
    this.index = index;
    for (const bytes of log.replay.records) {
      const report = fromBinary(FieldReportSchema, bytes);
      this.byKey.set(fieldReportKey(report), report);
    }
  }

  /**
   * Opens (creating when missing) the log and its index, replaying the log and cutting a torn
   * tail. A missing, unreadable or malformed index starts empty (every retained report is then
   * pending: delivery is at least once, and consumers deduplicate by `report_id`).
   *
   * @throws `AppendLogError` (`ESPER_STORAGE_LOG_INVALID`) when `path` is some other file.
   */
  static async open(options: FieldReportLogOptions): Promise<FieldReportLog> {
    const log = await AppendLog.open(options.path, { fsync: options.fsync ?? true });
    if (log.replay.cutBytes > 0) {
      options.logger?.warn('tamiyo: cut a torn tail from the field-report log', {
        path: options.path,
        cutBytes: log.replay.cutBytes,
        at: log.replay.cutAt,
      });
    }
    const indexPath = join(dirname(options.path), FIELD_REPORT_INDEX_FILE);
    const index = await loadIndex(indexPath, options.logger);
    try {
      return new FieldReportLog(log, indexPath, index, options.fsync ?? true);
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  /** Bytes cut from a torn tail when the log was opened (0 for a clean log). */
  get cutBytes(): number {
    return this.log.replay.cutBytes;
  }

  /** The log file. */
  get path(): string {
    return this.log.path;
  }

  /** Every retained report, in append order. */
  reports(): readonly FieldReport[] {
    return [...this.byKey.values()];
  }

  /** Whether a report with this key (`report_id`) is in the log. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** The index entry of a report, if it was ever attempted. */
  entry(key: string): FieldReportIndexEntry | undefined {
    return this.index.get(key);
  }

  /** Reports neither published nor dropped (due or waiting for their backoff). */
  pendingCount(): number {
    let n = 0;
    for (const key of this.byKey.keys()) if (!settled(this.index.get(key))) n++;
    return n;
  }

  /**
   * Appends `report` durably. A report whose key is already in the log is ignored (nothing
   * written); {@link FieldReportLog.appendMany} says how many were new.
   */
  async append(report: FieldReport): Promise<void> {
    await this.appendMany([report]);
  }

  /** Appends the reports whose keys are new with one write and one fsync; resolves how many were written. */
  appendMany(reports: readonly FieldReport[]): Promise<number> {
    return this.serial(async () => {
      const fresh = new Map<string, FieldReport>();
      for (const r of reports) {
        const key = fieldReportKey(r);
        if (!this.byKey.has(key) && !fresh.has(key)) fresh.set(key, r);
      }
      if (fresh.size === 0) return 0;
      await this.log.append([...fresh.values()].map((r) => toBinary(FieldReportSchema, r)));
      for (const [key, r] of fresh) this.byKey.set(key, r);
      return fresh.size;
    });
  }

  async due(nowMs: number): Promise<readonly StoredFieldReport[]> {
    await this.chain.catch(() => undefined);
    const out: StoredFieldReport[] = [];
    for (const [key, report] of this.byKey) {
      const entry = this.index.get(key);
      if (settled(entry)) continue;
      const nextAttemptAtMs = entry?.next_attempt_ms ?? 0;
      if (nextAttemptAtMs > nowMs) continue;
      out.push({ report, attempts: entry?.retry_count ?? 0, nextAttemptAtMs });
    }
    return out;
  }

  markPublished(reportId: string): Promise<void> {
    return this.mark(reportId, (e) => ({ published: true, retry_count: e?.retry_count ?? 0, next_attempt_ms: 0 }));
  }

  markFailed(reportId: string, nextAttemptAtMs: number, error?: string): Promise<void> {
    return this.mark(reportId, (e) => ({
      published: false,
      retry_count: (e?.retry_count ?? 0) + 1,
      next_attempt_ms: Math.max(0, Math.floor(nextAttemptAtMs)),
      ...(error !== undefined ? { last_error: error } : {}),
    }));
  }

  /** Records the last failed attempt (`retry_count` + 1) and gives the report up for good. */
  markDropped(reportId: string, error?: string): Promise<void> {
    return this.mark(reportId, (e) => ({
      published: false,
      retry_count: (e?.retry_count ?? 0) + 1,
      next_attempt_ms: 0,
      ...(error !== undefined ? { last_error: error } : e?.last_error !== undefined ? { last_error: e.last_error } : {}),
      dropped: true,
    }));
  }

  /**
   * Retention: removes settled (published or dropped) reports issued before `olderThanMs`
   * (reports without `issued_at` are kept), rewriting the log atomically first and the index
   * after, so a crash in between never makes a delivered report pending again. Pending reports
   * are kept whatever their age. Returns how many were removed.
   */
  compact(olderThanMs: number): Promise<number> {
    return this.serial(async () => {
      const doomed: string[] = [];
      for (const [key, report] of this.byKey) {
        const issued = report.issuedAt === undefined ? 0 : timestampMs(report.issuedAt);
        if (issued > 0 && issued < olderThanMs && settled(this.index.get(key))) doomed.push(key);
      }
      if (doomed.length === 0) return 0;
      const keep = [...this.byKey].filter(([key]) => !doomed.includes(key));
      await this.log.rewrite(keep.map(([, r]) => toBinary(FieldReportSchema, r)));
      for (const key of doomed) {
        this.byKey.delete(key);
        this.index.delete(key);
      }
      await this.saveIndex();
      return doomed.length;
    });
  }

  /** Waits for pending writes and closes the log. */
  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.log.close();
  }

  private mark(key: string, next: (entry: FieldReportIndexEntry | undefined) => FieldReportIndexEntry): Promise<void> {
    return this.serial(async () => {
      this.index.set(key, next(this.index.get(key)));
      await this.saveIndex();
    });
  }

  private async saveIndex(): Promise<void> {
    await writeFileAtomic(this.indexPath, JSON.stringify(Object.fromEntries(this.index)), { fsync: this.fsync });
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

function settled(entry: FieldReportIndexEntry | undefined): boolean {
  return entry !== undefined && (entry.published || entry.dropped === true);
}

async function loadIndex(path: string, logger: Logger | undefined): Promise<Map<string, FieldReportIndexEntry>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return new Map();
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    const out = new Map<string, FieldReportIndexEntry>();
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      const v = value as Partial<Record<keyof FieldReportIndexEntry, unknown>> | null;
      if (v === null || typeof v !== 'object') continue;
      out.set(key, {
        published: v.published === true,
        retry_count: typeof v.retry_count === 'number' && Number.isFinite(v.retry_count) ? Math.max(0, Math.floor(v.retry_count)) : 0,
        next_attempt_ms: typeof v.next_attempt_ms === 'number' && Number.isFinite(v.next_attempt_ms) ? v.next_attempt_ms : 0,
        ...(typeof v.last_error === 'string' ? { last_error: v.last_error } : {}),
        ...(v.dropped === true ? { dropped: true as const } : {}),
      });
    }
    return out;
  } catch (error) {
    logger?.warn('tamiyo: the field-report retry index is unreadable; starting with an empty one (pending reports are offered again)', {
      path,
      error: error instanceof Error ? error.message : String(error),
    });
    return new Map();
  }
}
