import type { AdaptationCommand, PolicyUpdate, SystemStatePacket } from '../../leyline/index.js';

/** Options for one controller decision. */
export interface EvaluateOptions {
  /** Aborted when the caller's deadline passes; a late result must not mutate shared state. */
  readonly signal?: AbortSignal;
}

/** Result of offering a policy update to the controller. */
export type PolicyUpdateResult =
  | { readonly accepted: true; readonly policyVersion: string }
  | { readonly accepted: false; readonly reason: string };

/**
 * The controller port (Tamiyo). Speaks Leyline: takes a `SystemStatePacket`, returns a signed
 * `AdaptationCommand` (SEED, OPTIMIZER, PAUSE, …), and accepts `PolicyUpdate`s.
 *
 * Implementations enforce their own step budget (`TAMIYO_STEP_TIMEOUT_MS`) and return a
 * PAUSE command with a timeout annotation rather than throwing when it is exceeded.
 */
export interface Controller {
  /** Per-step decision with the step budget enforced. */
  evaluateStep(packet: SystemStatePacket, options?: EvaluateOptions): Promise<AdaptationCommand>;
  /** Epoch-boundary decision (the same pipeline without the per-step inference deadline). */
  evaluateEpoch(packet: SystemStatePacket, options?: EvaluateOptions): Promise<AdaptationCommand>;
  /**
   * Validates, loads and swaps a policy as one transaction; a rejected update leaves the
   * running policy untouched.
   */
  ingestPolicyUpdate(update: PolicyUpdate): Promise<PolicyUpdateResult>;
  /** Publishes pending field reports and buffered telemetry; resolves true when all were sent. */
  flush(): Promise<boolean>;
}
