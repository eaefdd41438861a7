import type { AdaptationCommand, SeedState } from '../../leyline/index.js';

/** Why an executor did not apply a command (security and lifecycle reasons are stable strings). */
export type CommandOutcome =
  | { readonly applied: true; readonly commandId: string }
  | { readonly applied: false; readonly commandId: string; readonly reason: string };

/**
 * The seed executor port (Kasmina): verifies and applies `AdaptationCommand`s, runs the seed
 * lifecycle and gates G0–G5, grafts blueprint kernels at seed slots and blends them in.
 *
 * `applyCommand` never throws for a rejected command; it returns the reason
 * (`invalid_signature`, `nonce_replayed`, `stale_command`, a gate failure, …).
 */
export interface SeedExecutor {
  applyCommand(command: AdaptationCommand): Promise<CommandOutcome>;
  /** Current seeds as Leyline `SeedState`s (stage numbers are `SeedLifecycleStage` values). */
  exportSeedStates(): readonly SeedState[];
  /** Advances the alpha schedule of a BLENDING seed by `steps` (default 1). */
  advanceAlpha(seedId: string, steps?: number): void;
  /** Called once per optimizer step, after the controller hook; flushes queued telemetry. */
  finalizeStep(stepIndex: number): void;
  /** Called at every epoch boundary. */
  updateEpoch(epoch: number): void;
  /** Which seed owns a named parameter, or null for host parameters. Optional capability. */
  ownerOf?(parameterName: string): string | null;
}
