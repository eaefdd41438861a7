import { redact } from '../config/mask.js';
import type { LogFields, LogLevel, Logger } from './ports/logger.js';

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of {@link JsonLogger}. */
export interface JsonLoggerOptions {
  /** Lowest level written (default `info`). */
  readonly level?: LogLevel;
  /** Secret values to redact from every record. */
  readonly secrets?: readonly string[];
  /** Where lines go (default: stderr). */
  readonly write?: (line: string) => void;
  /** Wall-clock source for the `time` field (default `Date.now`). */
  readonly now?: () => number;
  /** Fields added to every record. */
  readonly fields?: LogFields;
}

/**
 * The kernel's default {@link Logger}: one JSON object per line
 * (`{"time":"…","level":"info","msg":"…",…fields}`), with every configured secret replaced
 * by `***` after serialisation, so no field or message can leak one.
 */
export class JsonLogger implements Logger {
  private readonly minRank: number;
  private readonly secrets: readonly string[];
  private readonly write: (line: string) => void;
  private readonly now: () => number;
  private readonly fields: LogFields;

  constructor(options: JsonLoggerOptions = {}) {
    this.minRank = RANK[options.level ?? 'info'];
    // Redact both the raw secret and its JSON-escaped form (quotes, backslashes, unicode).
    this.secrets = [...new Set((options.secrets ?? []).flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]))];
    this.write = options.write ?? ((line) => process.stderr.write(line));
    this.now = options.now ?? Date.now;
    this.fields = options.fields ?? {};
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger({
      level: (Object.keys(RANK) as LogLevel[]).find((l) => RANK[l] === this.minRank) ?? 'info',
      secrets: this.secrets,
      write: this.write,
      now: this.now,
      fields: { ...this.fields, ...fields },
    });
  }

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.minRank) return;
    const record = { time: new Date(this.now()).toISOString(), level, msg, ...this.fields, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record, replacer);
    } catch {
      line = JSON.stringify({ time: record.time, level, msg, note: 'fields were not serialisable' });
    }
    this.write(`${redact(line, this.secrets)}\n`);
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  return value;
}
