import type { AdaptationCommand, SeedState } from '../../leyline/index.js';
import type { ComposedModel, ComputeTensor, ControlFeedOptions, HostModel, StepObservation } from './growth.js';

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
  /** Called at every epoch boundary (embargoes end there); the trainer awaits it. */
  updateEpoch(epoch: number): void | Promise<void>;
  /** Which seed owns a named parameter, or null for host parameters. Optional capability. */
  ownerOf?(parameterName: string): string | null;

  /**
   * Hands the executor the host model. Called once per run, before {@link compose}; throws when
   * a host is already attached or a slot does not name a tensor of the host graph.
   */
  attachHost(host: HostModel): void;
  /**
   * The forward graph with every grafted seed spliced in (memoised per topology version). Right
   * after a graft the composed model computes exactly what the host computes.
   */
  compose(): ComposedModel;
  /** Topology version of the current seeds; the trainer recomposes when it changes. */
  readonly topologyVersion: number;
  /**
   * Values for every control input of the current composition (α, blend, gradient gates), for the
   * next steps. Schedules advance through {@link observeSteps}, not here.
   */
  controlFeeds(options?: ControlFeedOptions): Record<string, ComputeTensor>;
  /** Reports a run of optimizer steps: advances α schedules and records the gate inputs. */
  observeSteps(observation: StepObservation): void;
}
