/** Severity of a log record, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured fields attached to a log record. Values must be JSON-serialisable. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Structured logging port. The kernel's default implementation writes JSON lines to
 * stderr and redacts every configured secret value from messages and fields, so a plugin
 * that logs its options by accident still leaks nothing.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every record (e.g. `{ plugin: 'tamiyo' }`). */
  child(fields: LogFields): Logger;
}
