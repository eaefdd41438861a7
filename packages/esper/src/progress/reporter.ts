import type { EpochSummary, RunOutcome } from '../record/summary.js';

/** What a reporter knows when the run starts. */
export interface RunStartInfo {
  readonly runId: string;
  /** Absolute run directory. */
  readonly dir: string;
  /** The config, as named on the command line. */
  readonly config: string;
  readonly seed: number;
  /** Epochs the trainer will run, when known. */
  readonly maxEpochs?: number;
  /** Stage of every seed slot at the start (`DORMANT` for free slots), by seed id. */
  readonly seeds: Readonly<Record<string, string>>;
}

/** One `step:end` notification (may stand for a chunk of steps). */
export interface StepInfo {
  readonly epoch: number;
  readonly globalStep: number;
  readonly loss: number;
}

/** One `seed:stage-changed` event, with stage names. */
export interface SeedStageInfo {
  readonly seedId: string;
  readonly from: string;
  readonly to: string;
  readonly epoch?: number;
  readonly blueprintId?: string;
  readonly reason?: string;
}

/**
 * Shows a run's progress while it trains. `esper run` picks {@link TtyProgress} on a terminal and
 * {@link JsonLinesProgress} elsewhere; calls arrive from the run's event bus, in order.
 */
export interface ProgressReporter {
  start(info: RunStartInfo): void;
  epochStart(epoch: number): void;
  step(info: StepInfo): void;
  seedStage(info: SeedStageInfo): void;
  epoch(summary: EpochSummary): void;
  /** The training loop is over; release the terminal. Called once, also on failure. */
  stop(outcome: RunOutcome): void;
}
