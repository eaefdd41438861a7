import type { EpochSummary, RunOutcome } from '../record/summary.js';
import type { ProgressReporter, RunStartInfo, SeedStageInfo, StepInfo } from './reporter.js';

/** One seed stage change in a {@link ProgressLine}. */
export interface ProgressTransition {
  readonly seed: string;
  readonly from: string;
  readonly to: string;
  readonly epoch?: number;
}

/** A line of {@link JsonLinesProgress}: `run:start`, one `epoch` per epoch, `run:end`. */
export type ProgressLine =
  | { readonly event: 'run:start'; readonly run_id: string; readonly dir: string; readonly config: string; readonly seed: number; readonly epochs?: number; readonly seeds: Readonly<Record<string, string>> }
  | {
      readonly event: 'epoch';
      readonly epoch: number;
      readonly epochs?: number;
      readonly step: number;
      readonly train_loss?: number;
      readonly train_accuracy?: number;
      readonly val_loss?: number;
      readonly val_accuracy?: number;
      readonly samples_per_s?: number;
      readonly epoch_wall_ms?: number;
      readonly parameters?: number;
      /** Stage of every seed slot at the end of the epoch. */
      readonly seeds: Readonly<Record<string, string>>;
      /**
       * Stage changes since the previous line, in order. A change decided at the end of epoch N
       * (the controller's command) carries `epoch: N` and shows in the line of epoch N + 1.
       */
      readonly transitions: readonly ProgressTransition[];
    }
  | { readonly event: 'run:end'; readonly outcome: RunOutcome; readonly epochs_done: number };

/**
 * Progress where there is no terminal (CI logs, pipes, files): one JSON object per line, so the
 * log greps and parses (`jq`). Numbers keep the trainer's units (accuracy in % points).
 */
export class JsonLinesProgress implements ProgressReporter {
  private maxEpochs: number | undefined;
  private done = 0;
  private transitions: ProgressTransition[] = [];

  constructor(private readonly write: (text: string) => void) {}

  start(info: RunStartInfo): void {
    this.maxEpochs = info.maxEpochs;
    this.line({
      event: 'run:start',
      run_id: info.runId,
      dir: info.dir,
      config: info.config,
      seed: info.seed,
      ...(info.maxEpochs !== undefined ? { epochs: info.maxEpochs } : {}),
      seeds: info.seeds,
    });
  }

  epochStart(): void {}

  step(_info: StepInfo): void {}

  seedStage(info: SeedStageInfo): void {
    this.transitions.push({ seed: info.seedId, from: info.from, to: info.to, ...(info.epoch !== undefined ? { epoch: info.epoch } : {}) });
  }

  epoch(e: EpochSummary): void {
    this.done += 1;
    this.line({
      event: 'epoch',
      epoch: e.epoch,
      ...(this.maxEpochs !== undefined ? { epochs: this.maxEpochs } : {}),
      step: e.globalStep,
      ...(e.trainLoss !== undefined ? { train_loss: round(e.trainLoss, 5) } : {}),
      ...(e.trainAccuracy !== undefined ? { train_accuracy: round(e.trainAccuracy, 3) } : {}),
      ...(e.valLoss !== undefined ? { val_loss: round(e.valLoss, 5) } : {}),
      ...(e.valAccuracy !== undefined ? { val_accuracy: round(e.valAccuracy, 3) } : {}),
      ...(e.samplesPerS !== undefined ? { samples_per_s: Math.round(e.samplesPerS) } : {}),
      ...(e.epochWallMs !== undefined ? { epoch_wall_ms: Math.round(e.epochWallMs) } : {}),
      ...(e.parameters !== undefined ? { parameters: e.parameters } : {}),
      seeds: e.seeds,
      transitions: this.transitions,
    });
    this.transitions = [];
  }

  stop(outcome: RunOutcome): void {
    this.line({ event: 'run:end', outcome, epochs_done: this.done });
  }

  private line(value: ProgressLine): void {
    this.write(`${JSON.stringify(value)}\n`);
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
