/**
 * Security helpers shared by Oona, Kasmina and Tamiyo: the HMAC signer, the nonce ledger,
 * freshness checks and command signing/verification.
 *
 * @packageDocumentation
 */
export { SigningSecretMissingError, SecurityConfigError } from './errors.js';
export { LeylineSigner, LEYLINE_SECRET_ENV, LEYLINE_SIGNATURE_HEADER } from './signer.js';
export { NonceLedger, DEFAULT_NONCE_WINDOW_MS, DEFAULT_NONCE_CAPACITY, type NonceLedgerOptions } from './nonce-ledger.js';
export { checkFreshness, type FreshnessOptions, type FreshnessResult, type FreshnessRejection } from './freshness.js';
export {
  signCommand,
  commandSigningPayload,
  CommandVerifier,
  SIGNATURE_ANNOTATION,
  DEFAULT_COMMAND_FRESHNESS_WINDOW_MS,
  DEFAULT_COMMAND_MAX_FUTURE_SKEW_MS,
  type SignCommandOptions,
  type CommandVerifierOptions,
  type CommandVerification,
  type CommandRejectionReason,
} from './command-signing.js';
