/**
 * HMAC signing over Leyline bytes (`ESPER_LEYLINE_SECRET`). The kernel provides one when a
 * secret is configured; Oona signs envelopes with it and Kasmina verifies commands with it.
 */
export interface Signer {
  /** Standard Base64 (with padding) HMAC-SHA256 of `bytes`. */
  sign(bytes: Uint8Array): string;
  /** Constant-time check of a Base64 signature; false (never a throw) on any mismatch. */
  verify(bytes: Uint8Array, signature: string): boolean;
}
