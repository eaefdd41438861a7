import { randomBytes } from 'node:crypto';
import type { AdaptationCommand } from '../leyline/index.js';
import { CommandVerifier, signCommand, type CommandVerification } from '../security/command-signing.js';
import { NonceLedger } from '../security/nonce-ledger.js';
import { LeylineSigner } from '../security/signer.js';
import type { Clock } from './ports/clock.js';
import type { CommandSigner } from './ports/command-signer.js';

/** Options of {@link RunCommandSigner}. */
export interface RunCommandSignerOptions {
  /** The shared secret (`ESPER_LEYLINE_SECRET`); without one, a random 32-byte key is made. */
  readonly secret?: string;
  /** Wall clock for `issued_at` and freshness, monotonic clock for the nonce ledger. */
  readonly clock: Clock;
  /** How long a command id is remembered against replay, in ms (default 300 000). */
  readonly nonceWindowMs?: number;
  /** Maximum age of a command, in ms (default 60 000). */
  readonly freshnessWindowMs?: number;
  /** How far in the future `issued_at` may be, in ms (default 5 000). */
  readonly maxFutureSkewMs?: number;
}

/**
 * The kernel's default {@link CommandSigner}: {@link signCommand} and a {@link CommandVerifier}
 * with its own nonce ledger, both keyed by the configured secret or by a random per-run key.
 *
 * @throws `SecurityConfigError` when the nonce window is shorter than freshness + skew.
 */
export class RunCommandSigner implements CommandSigner {
  readonly ephemeral: boolean;
  private readonly signer: LeylineSigner;
  private readonly verifier: CommandVerifier;
  private readonly clock: Clock;

  constructor(options: RunCommandSignerOptions) {
    this.ephemeral = options.secret === undefined;
    this.signer = new LeylineSigner(options.secret ?? randomBytes(32));
    this.clock = options.clock;
    this.verifier = new CommandVerifier({
      signer: this.signer,
      clock: options.clock,
      nonceLedger: new NonceLedger({
        clock: options.clock,
        ...(options.nonceWindowMs !== undefined ? { windowMs: options.nonceWindowMs } : {}),
      }),
      ...(options.freshnessWindowMs !== undefined ? { freshnessWindowMs: options.freshnessWindowMs } : {}),
      ...(options.maxFutureSkewMs !== undefined ? { maxFutureSkewMs: options.maxFutureSkewMs } : {}),
    });
  }

  sign(command: AdaptationCommand): AdaptationCommand {
    return signCommand(command, this.signer, { clock: this.clock });
  }

  verify(command: AdaptationCommand): CommandVerification {
    return this.verifier.verify(command);
  }

  /** A description without the key. */
  toString(): string {
    return `RunCommandSigner { ephemeral: ${this.ephemeral} }`;
  }
}
