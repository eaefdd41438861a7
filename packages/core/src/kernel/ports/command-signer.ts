import type { AdaptationCommand } from '../../leyline/index.js';
import type { CommandVerification } from '../../security/command-signing.js';

/**
 * Signs and verifies `AdaptationCommand`s inside one run, a kernel default that is always present:
 * keyed by `ESPER_LEYLINE_SECRET` (`security.leylineSecret`) when one is configured, else by a
 * random key made for the run (`ephemeral`), so in-process controllers and executors always sign
 * and check commands. Tamiyo signs with it; Kasmina verifies with it.
 */
export interface CommandSigner {
  /** Whether the key is a random per-run key (no shared secret configured): other processes cannot verify. */
  readonly ephemeral: boolean;
  /**
   * Returns a signed copy of `command`: a fresh `command_id`, `issued_at` = now (the run's clock),
   * the Base64 HMAC in `annotations.signature`. `command` is not modified.
   */
  sign(command: AdaptationCommand): AdaptationCommand;
  /**
   * Checks signature, id, freshness (`security.freshnessWindowMs`, `security.maxFutureSkewMs`)
   * and replay (`security.nonceWindowMs`), in that order; records the id on success, so a second
   * verify of the same command gives `nonce_replayed`. Never throws for a bad command.
   */
  verify(command: AdaptationCommand): CommandVerification;
}
