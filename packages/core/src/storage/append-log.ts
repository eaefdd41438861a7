import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { EsperError } from '../errors.js';

/** First bytes of every append log: format name and version. */
const MAGIC = Buffer.from('ESPRLOG1', 'latin1');
/** Bytes before each record's payload: payload length and CRC-32 (both u32 little-endian). */
const RECORD_HEADER_BYTES = 8;
/** Default upper bound of one record, so a corrupt length field cannot ask for gigabytes. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * An append log file cannot be used: it is not an append log (wrong header), a record is larger
 * than the limit, or the log was used after `close()`.
 */
export class AppendLogError extends EsperError<'ESPER_STORAGE_LOG_INVALID' | 'ESPER_STORAGE_LOG_CLOSED' | 'ESPER_STORAGE_RECORD_TOO_LARGE'> {
  constructor(
    code: 'ESPER_STORAGE_LOG_INVALID' | 'ESPER_STORAGE_LOG_CLOSED' | 'ESPER_STORAGE_RECORD_TOO_LARGE',
    /** The log file. */
    readonly path: string,
    message: string,
  ) {
    super(code, message);
  }
}

/** Options of {@link AppendLog.open}. */
export interface AppendLogOptions {
  /** Largest payload accepted (appending a larger one throws; replay treats a larger length as corruption). Default 16 MiB. */
  readonly maxRecordBytes?: number;
  /**
   * Call `fsync` at each commit point (every `append`, after a cut and a rewrite). Default true;
   * turning it off is for tests and scratch data only: a crash may then lose acknowledged records.
   */
  readonly fsync?: boolean;
}

/** What {@link AppendLog.open} found when it replayed the file. */
export interface AppendLogReplay {
  /** Payloads of the intact records, in append order. */
  readonly records: readonly Uint8Array[];
  /**
   * Bytes cut from the end: a torn last record (short header, short payload, CRC mismatch, or a
   * length over the limit) and everything after it. 0 for a clean log.
   */
  readonly cutBytes: number;
  /** File offset where the cut started (the log's length after replay). */
  readonly cutAt: number;
}

/**
 * An append-only log of opaque records on one file, the durable store under Tamiyo's field
 * reports (and anything else that needs "write, fsync, survive a crash").
 *
 * Format: the 8-byte header `ESPRLOG1`, then records of `u32 LE payload length`,
 * `u32 LE CRC-32 of (length bytes ‖ payload)`, payload. `append` writes the records of one call
 * with one write and fsyncs before it resolves (the commit point): a resolved append survives a
 * crash. Opening replays the file; the first record that is short or fails its checksum, and
 * everything after it, is a torn tail from an interrupted append and is cut (the file is
 * truncated and synced), never half-accepted. `rewrite` replaces the whole log atomically (temp
 * file, fsync, rename, fsync of the directory), for retention.
 *
 * Calls are serialised internally, so concurrent `append`s land whole and in call order.
 *
 * @example
 * ```ts
 * const log = await AppendLog.open('run/tamiyo/field_reports.log');
 * for (const bytes of log.replay.records) restore(bytes);
 * await log.append([encode(report)]);
 * await log.close();
 * ```
 */
export class AppendLog {
  private handle: FileHandle | undefined;
  private size: number;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly maxRecordBytes: number;
  private readonly sync: boolean;

  private constructor(
    /** The log file. */
    readonly path: string,
    handle: FileHandle,
    size: number,
    /** What opening found (the records of the file, and what was cut). */
    readonly replay: AppendLogReplay,
    options: AppendLogOptions,
  ) {
    this.handle = handle;
    this.size = size;
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.sync = options.fsync ?? true;
  }

  /**
   * Opens (creating it and its directory when missing) and replays the log at `path`, cutting a
   * torn tail.
   *
   * @throws {@link AppendLogError} `ESPER_STORAGE_LOG_INVALID` when the file exists, is not empty
   *   and does not start with the append-log header (it is some other file: nothing is changed).
   */
  static async open(path: string, options: AppendLogOptions = {}): Promise<AppendLog> {
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const sync = options.fsync ?? true;
    await mkdir(dirname(path), { recursive: true });
    // 'a+' creates the file without truncating; reopened 'r+' for positioned writes and truncation.
    await (await open(path, 'a+')).close();
    const handle = await open(path, 'r+');
    try {
      const bytes = await handle.readFile();
      if (bytes.length === 0 || (bytes.length < MAGIC.length && MAGIC.subarray(0, bytes.length).equals(bytes))) {
        // New file, or a crash while the header itself was written.
        await handle.truncate(0);
        await handle.write(MAGIC, 0, MAGIC.length, 0);
        if (sync) await handle.sync();
        return new AppendLog(path, handle, MAGIC.length, { records: [], cutBytes: 0, cutAt: MAGIC.length }, options);
      }
      if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new AppendLogError(
          'ESPER_STORAGE_LOG_INVALID',
          path,
          `${path} is not an Esper append log (it does not start with "ESPRLOG1"). ` +
            'Point the option at a new file, or move this one away; it was left unchanged.',
        );
      }
      const { records, end } = scan(bytes, maxRecordBytes);
      const cutBytes = bytes.length - end;
      if (cutBytes > 0) {
        await handle.truncate(end);
        if (sync) await handle.sync();
      }
      return new AppendLog(path, handle, end, { records, cutBytes, cutAt: end }, options);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Bytes of the log file (header included). */
  get sizeBytes(): number {
    return this.size;
  }

  /**
   * Appends `payloads` (one or several records) with one write and fsyncs: when this resolves,
   * the records survive a crash. If the write fails, the file is cut back to where it was, so a
   * later append never follows a partial record.
   *
   * @throws {@link AppendLogError} `ESPER_STORAGE_RECORD_TOO_LARGE` for a payload over the limit
   *   (nothing is written), `ESPER_STORAGE_LOG_CLOSED` after `close()`.
   */
  append(payloads: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const list = payloads instanceof Uint8Array ? [payloads] : payloads;
    for (const p of list) {
      if (p.byteLength > this.maxRecordBytes) {
        return Promise.reject(
          new AppendLogError(
            'ESPER_STORAGE_RECORD_TOO_LARGE',
            this.path,
            `A record of ${p.byteLength} bytes is over the append log's limit of ${this.maxRecordBytes} bytes (${this.path}). ` +
              'Store large blobs elsewhere and log a reference, or raise maxRecordBytes.',
          ),
        );
      }
    }
    return this.serial(async (handle) => {
      if (list.length === 0) return;
      const frame = encodeRecords(list);
      const at = this.size;
      try {
        await writeFully(handle, frame, at);
        if (this.sync) await handle.sync();
      } catch (error) {
        await handle.truncate(at).catch(() => undefined);
        throw error;
      }
      this.size = at + frame.length;
    });
  }

  /**
   * Replaces the log's records with `payloads` atomically: writes `<path>.tmp`, fsyncs it,
   * renames it over the log and fsyncs the directory. A crash leaves either the old log or the
   * new one. Used for retention.
   */
  rewrite(payloads: readonly Uint8Array[]): Promise<void> {
    return this.serial(async (handle) => {
      const tmp = `${this.path}.tmp`;
      const frame = Buffer.concat([MAGIC, encodeRecords(payloads)]);
      const out = await open(tmp, 'w');
      try {
        await writeFully(out, frame, 0);
        if (this.sync) await out.sync();
      } finally {
        await out.close();
      }
      await rename(tmp, this.path);
      if (this.sync) await syncDirectory(dirname(this.path));
      await handle.close();
      this.handle = await open(this.path, 'r+');
      this.size = frame.length;
    });
  }

  /** Waits for pending calls, then closes the file. Idempotent. */
  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private serial<T>(run: (handle: FileHandle) => Promise<T>): Promise<T> {
    const next = this.chain.then(
      () => run(this.open()),
      () => run(this.open()),
    );
    this.chain = next.catch(() => undefined);
    return next;
  }

  private open(): FileHandle {
    if (this.handle === undefined) {
      throw new AppendLogError('ESPER_STORAGE_LOG_CLOSED', this.path, `The append log ${this.path} is closed; open it again with AppendLog.open.`);
    }
    return this.handle;
  }
}

/** Intact records of `bytes` (after the header) and the offset where they end. */
function scan(bytes: Buffer, maxRecordBytes: number): { records: Uint8Array[]; end: number } {
  const records: Uint8Array[] = [];
  let at = MAGIC.length;
  while (at + RECORD_HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(at);
    const checksum = bytes.readUInt32LE(at + 4);
    const start = at + RECORD_HEADER_BYTES;
    if (length > maxRecordBytes || start + length > bytes.length) break;
    const payload = bytes.subarray(start, start + length);
    if (crc32(payload, crc32(bytes.subarray(at, at + 4))) !== checksum) break;
    records.push(new Uint8Array(payload));
    at = start + length;
  }
  return { records, end: at };
}

function encodeRecords(payloads: readonly Uint8Array[]): Buffer {
  const total = payloads.reduce((n, p) => n + RECORD_HEADER_BYTES + p.byteLength, 0);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of payloads) {
    out.writeUInt32LE(p.byteLength, at);
    out.writeUInt32LE(crc32(p, crc32(out.subarray(at, at + 4))), at + 4);
    out.set(p, at + RECORD_HEADER_BYTES);
    at += RECORD_HEADER_BYTES + p.byteLength;
  }
  return out;
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Writes `data` to `path` atomically: `<path>.tmp`, fsync, rename over `path`, fsync of the
 * directory, so readers and a crash see the old content or the new, never a mix. Creates the
 * directory when missing. For small sidecar files (indexes, state snapshots) next to a log.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { fsync?: boolean } = {}): Promise<void> {
  const sync = options.fsync ?? true;
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `${basename(path)}.tmp`);
  const out = await open(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await writeFully(out, bytes, 0);
    if (sync) await out.sync();
  } finally {
    await out.close();
  }
  await rename(tmp, path);
  if (sync) await syncDirectory(dirname(path));
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}
