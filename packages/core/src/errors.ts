/**
 * Base class of every error Esper throws on purpose.
 *
 * Each subclass carries a stable, machine-readable `code` (`ESPER_<AREA>_<WHAT>`), typed as
 * its literal (`class ConfigValidationError extends EsperError<'ESPER_CONFIG_INVALID'>`), so
 * callers can switch on it and the compiler narrows. The message says what happened and what
 * to do about it; the error that caused it, if any, travels as the standard `cause`. Every
 * code is listed, with what to do, in `docs/errors.md`.
 *
 * @typeParam Code - the code literal (or union of literals) this class throws with.
 */
export class EsperError<Code extends string = string> extends Error {
  /** Stable code, safe to match on across versions. */
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `value` is an {@link EsperError}, optionally with the given code. */
export function isEsperError<Code extends string = string>(value: unknown, code?: Code): value is EsperError<Code> {
  return value instanceof EsperError && (code === undefined || value.code === code);
}
