import cliProgress from 'cli-progress';
import { formatCount, formatDuration, formatEpochSeeds, formatLoss, formatPercent } from '../record/format.js';
import type { EpochSummary, RunOutcome } from '../record/summary.js';
import type { ProgressReporter, RunStartInfo, SeedStageInfo, StepInfo } from './reporter.js';

/** Resolution of the bar: progress is tracked in thousandths of the run. */
const TOTAL = 1000;

interface BarPayload {
  readonly line: string;
}

/**
 * Live progress on a terminal with `cli-progress`: the epoch and a bar over the whole run (epochs,
 * with the current epoch's share estimated from the previous epoch's step count), then the step,
 * last loss, validation accuracy and samples/s, and a line with every seed slot and its stage.
 * Stage changes are also logged above the bars, so the seed's path stays on screen.
 */
export class TtyProgress implements ProgressReporter {
  private readonly multibar: cliProgress.MultiBar;
  private main: cliProgress.SingleBar | undefined;
  private seedsLine: cliProgress.SingleBar | undefined;
  private maxEpochs: number | undefined;
  private epochsDone = 0;
  private epochNumber: number | undefined;
  private stepsPerEpoch: number | undefined;
  private epochFirstStep: number | undefined;
  private lastStep = 0;
  private lastLoss: number | undefined;
  private last: EpochSummary | undefined;
  private readonly seeds = new Map<string, string>();
  private startedAt = Date.now();

  constructor(
    stream: NodeJS.WritableStream,
    options: { readonly fps?: number } = {},
  ) {
    this.multibar = new cliProgress.MultiBar(
      {
        stream,
        fps: options.fps ?? 8,
        hideCursor: true,
        gracefulExit: false,
        clearOnComplete: false,
        linewrap: true,
        barsize: 16,
        format: (opts, params, payload: BarPayload) =>
          payload.line.replace('{bar}', cliProgress.Format.BarFormat(params.progress, opts)),
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(info: RunStartInfo): void {
    this.maxEpochs = info.maxEpochs;
    this.startedAt = Date.now();
    for (const [id, stage] of Object.entries(info.seeds)) this.seeds.set(id, stage);
    this.multibar.log(`esper run ${info.config} · run ${info.runId} · seed ${info.seed}\n`);
    this.main = this.multibar.create(TOTAL, 0, { line: this.mainLine() });
    this.seedsLine = this.multibar.create(TOTAL, 0, { line: this.seedLine() });
  }

  epochStart(epoch: number): void {
    this.epochNumber = epoch;
    this.epochFirstStep = undefined;
    this.render();
  }

  step(info: StepInfo): void {
    this.epochNumber = info.epoch;
    this.epochFirstStep ??= this.lastStep;
    this.lastStep = info.globalStep;
    this.lastLoss = info.loss;
    this.render();
  }

  seedStage(info: SeedStageInfo): void {
    this.seeds.set(info.seedId, info.to);
    const where = info.epoch !== undefined ? `epoch ${info.epoch}: ` : '';
    const blueprint = info.blueprintId !== undefined && info.blueprintId !== '' ? ` (${info.blueprintId})` : '';
    const why = info.reason !== undefined && info.reason !== '' ? ` — ${info.reason}` : '';
    this.multibar.log(`${where}seed ${info.seedId}${blueprint} ${info.from} → ${info.to}${why}\n`);
    this.render();
  }

  epoch(summary: EpochSummary): void {
    if (this.epochFirstStep !== undefined) this.stepsPerEpoch = summary.globalStep - this.epochFirstStep;
    this.epochsDone += 1;
    this.last = summary;
    this.lastStep = summary.globalStep;
    this.epochFirstStep = undefined;
    for (const [id, stage] of Object.entries(summary.seeds)) this.seeds.set(id, stage);
    this.render();
  }

  /** Prints a line above the bars (a warning logged by a plugin); `line` ends with a newline. */
  note(line: string): void {
    this.multibar.log(line);
  }

  stop(_outcome: RunOutcome): void {
    this.render();
    // cli-progress writes logged lines on its next redraw, and stop() does not redraw them.
    if (this.multibar.isActive) this.multibar.update();
    this.multibar.stop();
  }

  private render(): void {
    this.main?.update(this.progress(), { line: this.mainLine() });
    this.seedsLine?.update(0, { line: this.seedLine() });
  }

  private progress(): number {
    if (this.maxEpochs === undefined || this.maxEpochs === 0) return 0;
    let share = 0;
    if (this.stepsPerEpoch !== undefined && this.stepsPerEpoch > 0 && this.epochFirstStep !== undefined) {
      share = Math.min(1, (this.lastStep - this.epochFirstStep) / this.stepsPerEpoch);
    }
    return Math.min(TOTAL, Math.round(((this.epochsDone + share) / this.maxEpochs) * TOTAL));
  }

  private mainLine(): string {
    // The trainer's own epoch number (Tolaria counts from 0), as in the summary and the logged
    // stage changes; the bar and its percentage show how much of the run is done.
    const epoch = this.epochNumber ?? this.last?.epoch;
    const done = this.maxEpochs !== undefined ? ` ${String(Math.floor((this.progress() / TOTAL) * 100)).padStart(3)} %` : '';
    const parts = [
      `epoch ${epoch ?? '-'} {bar}${done}`,
      `step ${formatCount(this.lastStep)}`,
      `loss ${formatLoss(this.lastLoss ?? this.last?.trainLoss)}`,
      `val acc ${formatPercent(this.last?.valAccuracy)}`,
      `${formatCount(this.last?.samplesPerS)} samples/s`,
      formatDuration(Date.now() - this.startedAt),
    ];
    return parts.join(' · ');
  }

  private seedLine(): string {
    const all = [...this.seeds.entries()];
    if (all.length === 0) return 'seeds  -';
    const live = formatEpochSeeds(Object.fromEntries(all));
    const free = all.filter(([, stage]) => stage === 'DORMANT').map(([id]) => id);
    const parts = [...(live === '-' ? [] : [live]), ...(free.length > 0 ? [`free: ${free.join(', ')}`] : [])];
    return `seeds  ${parts.join(' · ') || '-'}`;
  }
}
