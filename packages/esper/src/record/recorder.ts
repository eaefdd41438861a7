import type { EsperEvents } from '@esper/core';
import { SeedLifecycleStage, type AdaptationCommand, type SeedState, type SystemStatePacket } from '@esper/core/leyline';
import { describeCommand, isDormant, stageName } from './names.js';
import type { EpochSummary, SeedFate, SeedLife, SeedStep } from './summary.js';

interface MutableLife {
  readonly seedId: string;
  blueprintId: string | undefined;
  readonly path: SeedStep[];
  closed: boolean;
}

/**
 * Collects what the summary needs while a run trains: one {@link EpochSummary} per epoch (from
 * the trainer's `SystemStatePacket`s) and every seed's lives (from `seed:stage-changed`). It is
 * fed by the orchestrator from the run's bus; it does no I/O.
 */
export class RunRecorder {
  private readonly epochs = new Map<number, EpochSummary>();
  private readonly lives: MutableLife[] = [];
  private readonly current = new Map<string, MutableLife>();
  private readonly slots = new Set<string>();
  /** Blueprint of the last seed command applied to each target, for seeds whose events carry none. */
  private readonly commandBlueprints = new Map<string, string>();
  private epoch: number | undefined;

  /** The epoch that is training now (the last `epoch:start`), if any. */
  get currentEpoch(): number | undefined {
    return this.epoch;
  }

  /** Remembers the slots a run starts with (the executor's seeds, DORMANT ones included). */
  noteSeeds(states: readonly SeedState[]): void {
    for (const s of states) this.slots.add(s.seedId);
  }

  /** `epoch:start`. */
  epochStarted(epoch: number): void {
    this.epoch = epoch;
  }

  /** Records an epoch's packet (`epoch:end`, or a packet `run()` yielded); the last one for an epoch wins. */
  recordEpoch(packet: SystemStatePacket): EpochSummary {
    this.noteSeeds(packet.seedStates);
    const m = packet.trainingMetrics;
    const pick = (key: string, fallback?: number): number | undefined => {
      const v = m[key];
      return v !== undefined && Number.isFinite(v) ? v : fallback;
    };
    const summary: EpochSummary = {
      epoch: packet.currentEpoch,
      globalStep: Number(packet.globalStep),
      ...defined('trainLoss', pick('train_loss', packet.trainingLoss)),
      ...defined('trainAccuracy', pick('train_accuracy')),
      ...defined('valLoss', pick('val_loss', packet.validationLoss)),
      ...defined('valAccuracy', pick('val_accuracy', packet.validationAccuracy)),
      ...defined('samplesPerS', pick('samples_per_s')),
      ...defined('epochWallMs', pick('epoch_wall_ms')),
      ...defined('parameters', pick('parameters')),
      seeds: Object.fromEntries(packet.seedStates.map((s) => [s.seedId, stageName(s.stage)])),
    };
    this.epochs.set(summary.epoch, summary);
    return summary;
  }

  /** Whether a packet for this epoch has been recorded. */
  hasEpoch(epoch: number): boolean {
    return this.epochs.has(epoch);
  }

  /** `seed:stage-changed`: extends the seed's current life, or starts one when it leaves DORMANT. */
  stageChanged(event: EsperEvents['seed:stage-changed']): void {
    this.slots.add(event.seedId);
    const step: SeedStep = {
      stage: stageName(event.to),
      ...(event.epoch !== undefined || this.epoch !== undefined ? { epoch: event.epoch ?? this.epoch } : {}),
      ...(event.reason !== undefined && event.reason !== '' ? { reason: event.reason } : {}),
    };
    let life = this.current.get(event.seedId);
    if (life === undefined || life.closed) {
      if (isDormant(event.to)) return;
      life = { seedId: event.seedId, blueprintId: undefined, path: [], closed: false };
      this.lives.push(life);
      this.current.set(event.seedId, life);
    }
    if (event.blueprintId !== undefined && event.blueprintId !== '') life.blueprintId = event.blueprintId;
    if (isDormant(event.to)) {
      life.closed = true;
      return;
    }
    life.path.push(step);
  }

  /** `command:applied`: remembers the blueprint a seed command named for its target. */
  commandApplied(command: AdaptationCommand): void {
    const brief = describeCommand(command);
    if (brief.blueprintId !== undefined && brief.target !== '') this.commandBlueprints.set(brief.target, brief.blueprintId);
  }

  /** Epochs recorded, in order. */
  epochList(): EpochSummary[] {
    return [...this.epochs.values()].sort((a, b) => a.epoch - b.epoch);
  }

  /**
   * Every seed life, with its fate. `blueprintOf` (the executor's, when it has one) fills in a
   * blueprint that neither the stage events nor the commands named.
   */
  seedLives(blueprintOf?: (seedId: string) => string | undefined): SeedLife[] {
    return this.lives.map((life) => {
      const stages = life.path.map((s) => s.stage);
      const fate: SeedFate = stages.includes(stageName(SeedLifecycleStage.SEED_STAGE_FOSSILIZED))
        ? 'FOSSILIZED'
        : stages.includes(stageName(SeedLifecycleStage.SEED_STAGE_CULLED))
          ? 'CULLED'
          : stages.includes(stageName(SeedLifecycleStage.SEED_STAGE_TERMINATED))
            ? 'TERMINATED'
            : 'LIVE';
      const blueprintId = life.blueprintId ?? this.commandBlueprints.get(life.seedId) ?? blueprintOf?.(life.seedId);
      return {
        seedId: life.seedId,
        slot: life.seedId,
        ...(blueprintId !== undefined ? { blueprintId } : {}),
        path: [...life.path],
        fate,
        stage: life.closed ? stageName(SeedLifecycleStage.SEED_STAGE_DORMANT) : (stages.at(-1) ?? '?'),
      };
    });
  }

  /** Slots that never hosted a seed, sorted. */
  freeSlots(): string[] {
    const used = new Set(this.lives.map((l) => l.seedId));
    return [...this.slots].filter((s) => !used.has(s)).sort();
  }
}

function defined<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
