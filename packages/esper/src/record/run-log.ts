import { appendFileSync } from 'node:fs';
import { JsonLogger, redact, type LogFields, type Logger, type LogLevel } from '@esper/core';

/** Receives the warnings and errors of a run as they are logged, for the terminal. */
export type LogEcho = (level: 'warn' | 'error', message: string, fields: LogFields) => void;

/**
 * The log of one run: the kernel's and every plugin's records as JSON lines in `run.log` of the
 * run directory. Records logged before the directory exists (while plugins start) are kept and
 * written when {@link RunLog.open} names the file. Warnings and errors are also handed to `echo`.
 */
export class RunLog {
  private pending: string[] = [];
  private path: string | undefined;

  constructor(
    private readonly level: LogLevel,
    private readonly secrets: readonly string[],
    private readonly echo?: LogEcho,
  ) {}

  /** The run's logger (pass it to `createEsper`). */
  logger(): Logger {
    const json = new JsonLogger({ level: this.level, secrets: this.secrets, write: (line) => this.append(line) });
    return new EchoingLogger(json, {}, this.echo === undefined ? undefined : this.redactingEcho(this.echo));
  }

  /** Starts writing to `path`, beginning with the records logged so far. */
  open(path: string): void {
    this.path = path;
    const lines = this.pending.join('');
    this.pending = [];
    if (lines !== '') appendFileSync(path, lines, 'utf8');
  }

  private append(line: string): void {
    if (this.path === undefined) this.pending.push(line);
    else appendFileSync(this.path, line, 'utf8');
  }

  private redactingEcho(echo: LogEcho): LogEcho {
    return (level, message, fields) => {
      let safe: LogFields = fields;
      try {
        safe = JSON.parse(redact(JSON.stringify(fields), this.secrets)) as LogFields;
      } catch {
        safe = {};
      }
      echo(level, redact(message, this.secrets), safe);
    };
  }
}

class EchoingLogger implements Logger {
  constructor(
    private readonly inner: Logger,
    private readonly fields: LogFields,
    private readonly echo: LogEcho | undefined,
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.inner.debug(message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.inner.info(message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.inner.warn(message, fields);
    this.echo?.('warn', message, { ...this.fields, ...fields });
  }
  error(message: string, fields?: LogFields): void {
    this.inner.error(message, fields);
    this.echo?.('error', message, { ...this.fields, ...fields });
  }
  child(fields: LogFields): Logger {
    return new EchoingLogger(this.inner.child(fields), { ...this.fields, ...fields }, this.echo);
  }
}
