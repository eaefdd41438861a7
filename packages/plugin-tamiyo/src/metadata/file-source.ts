import { readFile, stat } from 'node:fs/promises';
import { SystemClock, type BlueprintMetadataSource, type BlueprintRecord, type Clock } from '@esper/core';
import type { z } from 'zod';
import { BlueprintMetadataFileError } from './errors.js';
import { recordFromFields } from './record.js';
import { blueprintFileSchema, blueprintRecordSchema } from './schema.js';

/** Options of {@link FileBlueprintMetadata.open}. */
export interface FileBlueprintMetadataOptions {
  /**
   * Least time between two checks of the file's modification time, ms (default 1000); 0 checks on
   * every lookup. A changed file is read again, so an operator can quarantine a blueprint in a
   * running service by editing it.
   */
  readonly recheckMs?: number | undefined;
  /** Time of the re-check interval. */
  readonly clock?: Clock | undefined;
  /** Told when a changed file fails to load; the last good records stay in use. */
  readonly onReloadError?: ((error: BlueprintMetadataFileError) => void) | undefined;
}

const NDJSON = /\.(ndjson|jsonl)$/i;

/**
 * Parses the text of a blueprint metadata file into records by blueprint id. `.ndjson`/`.jsonl`
 * files hold one record per line (blank lines and lines starting with `//` are skipped); any
 * other file is JSON: `{"blueprints": [records]}` or the bare array.
 *
 * @throws {@link BlueprintMetadataFileError} naming the record (and its line) and the field at fault,
 *   for invalid JSON, a record that does not match the schema, or a repeated blueprint id.
 */
export function parseBlueprintMetadataFile(text: string, path: string): Map<string, BlueprintRecord> {
  const entries: { readonly value: unknown; readonly where: string }[] = [];
  if (NDJSON.test(path)) {
    text.split(/\r?\n/).forEach((line, i) => {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('//')) return;
      entries.push({ value: parseJson(trimmed, path, `line ${i + 1}`), where: `line ${i + 1}` });
    });
  } else {
    const parsed = blueprintFileSchema.safeParse(parseJson(text, path, 'the file'));
    if (!parsed.success) throw new BlueprintMetadataFileError(path, `expected {"blueprints": [...]} or an array of records (${issues(parsed.error)})`);
    const list = Array.isArray(parsed.data) ? parsed.data : parsed.data.blueprints;
    list.forEach((value, i) => entries.push({ value, where: `blueprints[${i}]` }));
  }
  const records = new Map<string, BlueprintRecord>();
  for (const { value, where } of entries) {
    const parsed = blueprintRecordSchema.safeParse(value);
    if (!parsed.success) {
      const id = typeof value === 'object' && value !== null && typeof (value as { blueprint_id?: unknown }).blueprint_id === 'string' ? ` ("${(value as { blueprint_id: string }).blueprint_id}")` : '';
      throw new BlueprintMetadataFileError(path, `record at ${where}${id} is invalid: ${issues(parsed.error)}`);
    }
    if (parsed.data.graph !== undefined && parsed.data.graph_metadata !== undefined) {
      throw new BlueprintMetadataFileError(path, `record at ${where} ("${parsed.data.blueprint_id}") has both "graph" and "graph_metadata": keep one`);
    }
    const id = parsed.data.blueprint_id;
    if (records.has(id)) throw new BlueprintMetadataFileError(path, `blueprint id "${id}" appears twice (again at ${where}): ids must be unique`);
    records.set(id, recordFromFields(parsed.data));
  }
  return records;
}

function parseJson(text: string, path: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BlueprintMetadataFileError(path, `${where} is not valid JSON (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length === 0 ? '(record)' : i.path.join('.')}: ${i.message}`).join('; ');
}

/**
 * A blueprint metadata store (the `BlueprintMetadata` port) read from a JSON or NDJSON file that
 * an Urza export, a CI job or an operator writes: per blueprint its descriptor fields, its
 * BSDS-lite block and its graph metadata (decision 0065). Lookups answer from memory; the file
 * is read again when its modification time or size changes (checked at most every `recheckMs`),
 * and a change that does not parse keeps the previous records.
 */
export class FileBlueprintMetadata implements BlueprintMetadataSource {
  private records: Map<string, BlueprintRecord>;
  private version: string;
  private checkedAtMs: number;
  private refreshing: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly recheckMs: number;

  private constructor(
    /** The file. */
    readonly path: string,
    records: Map<string, BlueprintRecord>,
    version: string,
    private readonly options: FileBlueprintMetadataOptions,
  ) {
    this.records = records;
    this.version = version;
    this.clock = options.clock ?? new SystemClock();
    this.recheckMs = Math.max(0, options.recheckMs ?? 1000);
    this.checkedAtMs = this.clock.monotonicMs();
  }

  /**
   * Reads and validates the file.
   *
   * @throws {@link BlueprintMetadataFileError} when it is missing, unreadable or invalid.
   */
  static async open(path: string, options: FileBlueprintMetadataOptions = {}): Promise<FileBlueprintMetadata> {
    const { records, version } = await load(path);
    return new FileBlueprintMetadata(path, records, version, options);
  }

  /** The record of `blueprintId`, after re-reading the file if it changed. */
  async lookup(blueprintId: string): Promise<BlueprintRecord | undefined> {
    if (this.clock.monotonicMs() - this.checkedAtMs >= this.recheckMs) await this.refresh();
    return this.records.get(blueprintId);
  }

  /** Blueprint ids of the records in use, in file order. */
  ids(): string[] {
    return [...this.records.keys()];
  }

  /** Re-reads the file if it changed since the last read; a failure keeps the records and is reported to `onReloadError`. */
  refresh(): Promise<void> {
    this.refreshing ??= this.reload().finally(() => {
      this.refreshing = undefined;
      this.checkedAtMs = this.clock.monotonicMs();
    });
    return this.refreshing;
  }

  private async reload(): Promise<void> {
    try {
      if ((await fileVersion(this.path)) === this.version) return;
      const { records, version } = await load(this.path);
      this.records = records;
      this.version = version;
    } catch (error) {
      const e = error instanceof BlueprintMetadataFileError ? error : new BlueprintMetadataFileError(this.path, 'cannot be read', { cause: error });
      this.options.onReloadError?.(e);
    }
  }
}

async function fileVersion(path: string): Promise<string> {
  const s = await stat(path);
  return `${s.mtimeMs}:${s.size}`;
}

async function load(path: string): Promise<{ records: Map<string, BlueprintRecord>; version: string }> {
  let text: string;
  let version: string;
  try {
    version = await fileVersion(path);
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BlueprintMetadataFileError(path, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`, { cause: error });
  }
  return { records: parseBlueprintMetadataFile(text, path), version };
}
