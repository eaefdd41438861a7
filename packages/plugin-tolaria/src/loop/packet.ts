import { clone, create } from '@bufbuild/protobuf';
import {
  CONTRACT_VERSION, HardwareContextSchema, SeedStateSchema, SystemStatePacketSchema, type SeedState, type SystemStatePacket,
} from '@esper/core/leyline';

/** The `SeedState.metrics` key Tolaria adds for seeds with α > 0 (accuracy points the seed is worth). */
export const COUNTERFACTUAL_METRIC = 'counterfactual_contribution';

/** What one epoch measured, as the state packet reports it. */
export interface EpochFigures {
  /** Mean training loss per sample over the epoch's steps (measured before each update). */
  readonly trainLoss: number;
  /** Training accuracy in percent (0–100), measured before each update. */
  readonly trainAccuracyPct: number;
  readonly valLoss: number;
  /** Validation accuracy in percent (0–100). */
  readonly valAccuracyPct: number;
  /** Wall time of the epoch: training, evaluation and counterfactuals. */
  readonly epochWallMs: number;
  /** Training samples per second of training time. */
  readonly samplesPerS: number;
  /** Parameter count of the model (host and grafted seeds). */
  readonly parameters: number;
  /** Learning rate of the epoch's last step. */
  readonly lr: number;
  /** Host gradient L2 norm at the epoch's last step. */
  readonly gradNorm: number;
}

/** Everything {@link buildStatePacket} assembles. */
export interface StatePacketInput {
  readonly runId: string;
  readonly experimentName: string;
  /** 0-based epoch index. */
  readonly epoch: number;
  /** Optimizer steps taken so far. */
  readonly globalStep: number;
  readonly figures: EpochFigures;
  /** The executor's seeds (copied, never modified). */
  readonly seedStates: readonly SeedState[];
  /** Counterfactual contribution per seed id (percentage points), for seeds with α > 0. */
  readonly counterfactuals: ReadonlyMap<string, number>;
  /** Wall time of the packet, epoch ms (from the run's clock). */
  readonly nowMs: number;
}

/**
 * The epoch's `SystemStatePacket`: epoch, validation accuracy (percent) and loss, training loss,
 * the true global step (not the reference's epoch index), run id, packet id
 * `<runId>-epoch-<epoch>`, source `tolaria`, a CPU hardware context, the executor's seed states
 * with `counterfactual_contribution` added where measured, and `training_metrics`:
 * `train_loss`, `train_accuracy`, `val_loss`, `val_accuracy` (percent), `epoch_wall_ms`,
 * `samples_per_s`, `parameters`, `lr`, `grad_norm`.
 */
export function buildStatePacket(input: StatePacketInput): SystemStatePacket {
  const f = input.figures;
  const seedStates = input.seedStates.map((s) => {
    const copy = clone(SeedStateSchema, s);
    const c = input.counterfactuals.get(s.seedId);
    if (c !== undefined) copy.metrics[COUNTERFACTUAL_METRIC] = c;
    return copy;
  });
  return create(SystemStatePacketSchema, {
    version: CONTRACT_VERSION,
    currentEpoch: input.epoch,
    validationAccuracy: f.valAccuracyPct,
    validationLoss: f.valLoss,
    timestampNs: BigInt(Math.round(input.nowMs)) * 1_000_000n,
    hardwareContext: create(HardwareContextSchema, { deviceType: 'cpu', deviceId: '0' }),
    trainingMetrics: {
      train_loss: f.trainLoss,
      train_accuracy: f.trainAccuracyPct,
      val_loss: f.valLoss,
      val_accuracy: f.valAccuracyPct,
      epoch_wall_ms: f.epochWallMs,
      samples_per_s: f.samplesPerS,
      parameters: f.parameters,
      lr: f.lr,
      grad_norm: f.gradNorm,
    },
    seedStates,
    packetId: `${input.runId}-epoch-${input.epoch}`,
    globalStep: BigInt(input.globalStep),
    trainingLoss: f.trainLoss,
    sourceSubsystem: 'tolaria',
    trainingRunId: input.runId,
    experimentName: input.experimentName,
  });
}
