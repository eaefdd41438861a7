/**
 * Base class of every error Esper throws on purpose.
 *
 * Each subclass carries a stable, machine-readable `code` (`ESPER_<AREA>_<WHAT>`) that
 * callers can switch on, and a message that says what happened and what to do about it.
 * The error that caused it, if any, travels as the standard `cause`.
 */
export class EsperError extends Error {
  /** Stable code, safe to match on across versions. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `value` is an {@link EsperError}, optionally with the given code. */
export function isEsperError(value: unknown, code?: string): value is EsperError {
  return value instanceof EsperError && (code === undefined || value.code === code);
}
