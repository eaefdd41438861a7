import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Signer } from '../kernel/ports/signer.js';
import { SigningSecretMissingError } from './errors.js';

/** Name of the environment variable that holds the Leyline HMAC secret. */
export const LEYLINE_SECRET_ENV = 'ESPER_LEYLINE_SECRET';

/** Header name under which transports that use headers carry a Leyline signature. */
export const LEYLINE_SIGNATURE_HEADER = 'X-Leyline-Signature';

const REDACTED = `LeylineSigner { algorithm: 'HMAC-SHA256', header: '${LEYLINE_SIGNATURE_HEADER}', secret: '[redacted]' }`;

/**
 * HMAC-SHA256 signer for Leyline bytes (envelopes, commands), wire-compatible with the
 * reference: the key is the UTF-8 bytes of the secret string (not hex-decoded), signatures are
 * standard Base64 with padding.
 *
 * The secret is held only as a `KeyObject` in a private field: it never appears in
 * `toString()`, `JSON.stringify`, `util.inspect` or in any error message.
 *
 * @throws {@link SigningSecretMissingError} (`ESPER_SECURITY_SECRET_MISSING`) when the secret
 *   is empty or blank.
 */
export class LeylineSigner implements Signer {
  /** Header name a transport should use for the signature ({@link LEYLINE_SIGNATURE_HEADER}). */
  readonly headerName: string = LEYLINE_SIGNATURE_HEADER;
  readonly #key: KeyObject;

  /** @param secret the shared secret; a string is used as its UTF-8 bytes. */
  constructor(secret: string | Uint8Array) {
    if (typeof secret === 'string') {
      if (secret.trim() === '') throw new SigningSecretMissingError('the secret given to LeylineSigner is empty');
      this.#key = createSecretKey(Buffer.from(secret, 'utf8'));
    } else {
      if (secret.byteLength === 0) throw new SigningSecretMissingError('the secret given to LeylineSigner is empty');
      this.#key = createSecretKey(Buffer.from(secret));
    }
  }

  /**
   * Builds a signer from `ESPER_LEYLINE_SECRET` in `env` (default `process.env`).
   *
   * @throws {@link SigningSecretMissingError} when the variable is absent, empty or blank.
   */
  static fromEnv(env: Readonly<Record<string, string | undefined>> = process.env): LeylineSigner {
    const value = env[LEYLINE_SECRET_ENV];
    if (value === undefined) throw new SigningSecretMissingError(`${LEYLINE_SECRET_ENV} is not set`);
    if (value.trim() === '') throw new SigningSecretMissingError(`${LEYLINE_SECRET_ENV} is empty`);
    return new LeylineSigner(value);
  }

  /** Standard Base64 (with padding) of HMAC-SHA256(secret, `bytes`): 44 characters. */
  sign(bytes: Uint8Array): string {
    return createHmac('sha256', this.#key).update(bytes).digest('base64');
  }

  /**
   * True when `signature` is exactly the Base64 signature of `bytes`. Compares in constant time
   * (for signatures of the right length); a signature of another length, malformed Base64, a
   * non-string or any internal failure gives false. Never throws.
   */
  verify(bytes: Uint8Array, signature: string): boolean {
    try {
      if (typeof signature !== 'string') return false;
      // Comparing the canonical encodings rejects non-canonical Base64 (missing padding, stray
      // characters) that a lenient decoder would otherwise accept.
      const expected = Buffer.from(this.sign(bytes), 'utf8');
      const given = Buffer.from(signature, 'utf8');
      if (given.length !== expected.length) return false;
      return timingSafeEqual(given, expected);
    } catch {
      return false;
    }
  }

  /** A description without the secret. */
  toString(): string {
    return REDACTED;
  }

  /** JSON form without the secret. */
  toJSON(): { algorithm: string; header: string; secret: string } {
    return { algorithm: 'HMAC-SHA256', header: LEYLINE_SIGNATURE_HEADER, secret: '[redacted]' };
  }

  /** `util.inspect` / `console.log` form without the secret. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}
