import { randomUUID } from 'node:crypto';
import { clone } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { AdaptationCommandSchema, type AdaptationCommand } from '../leyline/index.js';
import { toDeterministicBinary } from '../leyline/deterministic.js';
import { SystemClock, type Clock } from '../kernel/ports/clock.js';
import type { Signer } from '../kernel/ports/signer.js';
import { SecurityConfigError } from './errors.js';
import { checkFreshness } from './freshness.js';
import { NonceLedger } from './nonce-ledger.js';

/** Annotation key under which an `AdaptationCommand` carries its Base64 HMAC signature. */
export const SIGNATURE_ANNOTATION = 'signature';

/** Default maximum age of a command, in ms (Kasmina's `freshness_window_seconds`). */
export const DEFAULT_COMMAND_FRESHNESS_WINDOW_MS = 60_000;

/** Default tolerance for a command issued in the future (clock skew between hosts), in ms. */
export const DEFAULT_COMMAND_MAX_FUTURE_SKEW_MS = 5_000;

/** Why {@link CommandVerifier.verify} refused a command (the reference's reason strings). */
export type CommandRejectionReason =
  | 'missing_signature'
  | 'invalid_signature'
  | 'missing_command_id'
  | 'missing_timestamp'
  | 'issued_in_future'
  | 'stale_command'
  | 'nonce_replayed';

/** Outcome of {@link CommandVerifier.verify}. */
export type CommandVerification =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: CommandRejectionReason };

/** Options of {@link signCommand}. */
export interface SignCommandOptions {
  /** Source of `issued_at` (wall clock). Default: the system clock. */
  clock?: Clock;
  /** Source of the fresh `command_id`. Default: `crypto.randomUUID()` (UUID v4). */
  idFactory?: () => string;
}

/**
 * The bytes a command signature covers: the command without its `signature` annotation, in
 * deterministic protobuf encoding (fields by number, map entries by key). Does not modify
 * `command`. Exposed for cross-language test vectors.
 */
export function commandSigningPayload(command: AdaptationCommand): Uint8Array {
  if (!Object.hasOwn(command.annotations, SIGNATURE_ANNOTATION)) {
    return toDeterministicBinary(AdaptationCommandSchema, command);
  }
  const { [SIGNATURE_ANNOTATION]: _signature, ...annotations } = command.annotations;
  // A shallow copy is enough: only the annotations map differs, and it is a new object.
  return toDeterministicBinary(AdaptationCommandSchema, { ...command, annotations });
}

/**
 * Signs a command as Tamiyo does before emitting it (reference §3.6): drops any old
 * `signature` annotation, assigns a fresh `command_id`, sets `issued_at` to now, signs the
 * deterministic encoding and stores the Base64 signature in `annotations.signature`.
 *
 * Returns a new, signed command; `command` itself is not modified. Any later change to the
 * returned command (other than its `signature` annotation) invalidates the signature.
 */
export function signCommand(command: AdaptationCommand, signer: Signer, options: SignCommandOptions = {}): AdaptationCommand {
  const clock = options.clock ?? new SystemClock();
  const signed = clone(AdaptationCommandSchema, command);
  delete signed.annotations[SIGNATURE_ANNOTATION];
  signed.commandId = options.idFactory === undefined ? randomUUID() : options.idFactory();
  signed.issuedAt = timestampFromMs(clock.nowMs());
  const signature = signer.sign(toDeterministicBinary(AdaptationCommandSchema, signed));
  signed.annotations[SIGNATURE_ANNOTATION] = signature;
  return signed;
}

/** Options of {@link CommandVerifier}. */
export interface CommandVerifierOptions {
  /** Verifies the HMAC (the same secret as the signer's). */
  signer: Signer;
  /** Wall clock for freshness; also the default ledger's clock. */
  clock: Clock;
  /** Replay ledger of command ids. Default: a {@link NonceLedger} on `clock` with its defaults (300 s). */
  nonceLedger?: NonceLedger;
  /** Maximum command age in ms (default {@link DEFAULT_COMMAND_FRESHNESS_WINDOW_MS}). */
  freshnessWindowMs?: number;
  /** Maximum `issued_at` lead over now in ms (default {@link DEFAULT_COMMAND_MAX_FUTURE_SKEW_MS}). */
  maxFutureSkewMs?: number;
}

/**
 * Verifies signed `AdaptationCommand`s as Kasmina does before acting on them.
 *
 * Checks, in this order (see docs/decisions/0011): signature present → HMAC valid →
 * `command_id` present → `issued_at` present → not too far in the future → not stale → id not
 * seen before. The id is recorded in the nonce ledger only when every other check passed, so a
 * forged, stale or future-dated command never burns a legitimate id.
 *
 * @throws {@link SecurityConfigError} when the nonce window is shorter than the freshness window
 *   plus the future skew (a command could then be replayed while still fresh).
 */
export class CommandVerifier {
  /** Maximum command age in ms. */
  readonly freshnessWindowMs: number;
  /** Maximum future skew in ms. */
  readonly maxFutureSkewMs: number;
  private readonly signer: Signer;
  private readonly clock: Clock;
  private readonly nonces: NonceLedger;

  constructor(options: CommandVerifierOptions) {
    this.signer = options.signer;
    this.clock = options.clock;
    this.nonces = options.nonceLedger ?? new NonceLedger({ clock: options.clock });
    this.freshnessWindowMs = options.freshnessWindowMs ?? DEFAULT_COMMAND_FRESHNESS_WINDOW_MS;
    this.maxFutureSkewMs = options.maxFutureSkewMs ?? DEFAULT_COMMAND_MAX_FUTURE_SKEW_MS;
    if (!(this.freshnessWindowMs > 0) || !(this.maxFutureSkewMs >= 0)) {
      throw new SecurityConfigError(
        `CommandVerifier: freshnessWindowMs must be > 0 and maxFutureSkewMs >= 0, got ${this.freshnessWindowMs} and ${this.maxFutureSkewMs}.`,
      );
    }
    if (this.nonces.windowMs < this.freshnessWindowMs + this.maxFutureSkewMs) {
      throw new SecurityConfigError(
        `CommandVerifier: the nonce window (${this.nonces.windowMs} ms) is shorter than freshnessWindowMs + maxFutureSkewMs ` +
          `(${this.freshnessWindowMs + this.maxFutureSkewMs} ms), so a captured command could be replayed while still fresh. ` +
          `Lengthen the NonceLedger window (security.nonceWindowMs) or shorten the freshness window.`,
      );
    }
  }

  /**
   * Verifies `command` without modifying it. On success its `command_id` is now remembered, so
   * verifying the same command again yields `nonce_replayed`.
   */
  verify(command: AdaptationCommand): CommandVerification {
    const signature = command.annotations[SIGNATURE_ANNOTATION];
    if (signature === undefined || signature === '') return reject('missing_signature');
    if (!this.signer.verify(commandSigningPayload(command), signature)) return reject('invalid_signature');
    if (command.commandId === '') return reject('missing_command_id');
    const freshness = checkFreshness(command.issuedAt === undefined ? undefined : timestampMs(command.issuedAt), {
      now: this.clock.nowMs(),
      maxAgeMs: this.freshnessWindowMs,
      maxFutureSkewMs: this.maxFutureSkewMs,
    });
    if (!freshness.ok) return freshness;
    if (!this.nonces.checkAndRecord(command.commandId)) return reject('nonce_replayed');
    return ACCEPTED;
  }
}

const ACCEPTED: CommandVerification = Object.freeze({ ok: true });

function reject(reason: CommandRejectionReason): CommandVerification {
  return { ok: false, reason };
}
