import type { SeedLifecycleStage, SeedState, SystemStatePacket } from '@esper/core/leyline';
import type { HeuristicOptions } from './options.js';
import { decayPenalties, penalise, type BlueprintPenalties } from './rotation.js';
import { isFreeSlot, isLive, isRemovedStage } from './stages.js';

/** `SeedState.metrics` key of a seed's blend weight α (Kasmina). */
export const ALPHA_METRIC = 'alpha';
/**
 * `SeedState.metrics` key of a seed's counterfactual contribution (Tolaria): validation accuracy
 * in points minus the same with this seed's α forced to 0; present for seeds whose α > 0.
 */
export const COUNTERFACTUAL_METRIC = 'counterfactual_contribution';

/** What the tracker remembers of one seed (one slot) between epochs. */
export interface SeedRecord {
  /** Stage seen in the last packet. */
  readonly stage: SeedLifecycleStage;
  /** Epoch boundary after which the seed entered its stage (the previous packet's epoch). */
  readonly stageStartEpoch: number;
  /** Validation accuracy (points) measured just before the stage began. */
  readonly stageStartAccuracy: number;
  /** Validation accuracy (points) measured just before the seed germinated; unset for a free slot. */
  readonly germinationAccuracy?: number | undefined;
  /** Blueprint of the seed when this controller germinated it. */
  readonly blueprintId?: string | undefined;
}

/**
 * Everything the heuristic carries from one epoch to the next. Plain data: a decision computes a
 * new state from the old one and the controller commits it only when the decision is delivered.
 */
export interface TrackerState {
  /** Epoch of the last packet observed; unset before the first. */
  readonly lastEpoch?: number | undefined;
  /** Validation accuracy (points) of the last packet. */
  readonly lastAccuracy?: number | undefined;
  /** Validation loss of the last packet. */
  readonly lastLoss?: number | undefined;
  /** Consecutive epochs whose accuracy gain was below `plateauThresholdPoints`. */
  readonly plateauEpochs: number;
  /** Consecutive stable epochs counted towards the stabilization latch. */
  readonly stableEpochs: number;
  /** The latch: set once `stabilizationEpochs` stable epochs were seen in a row; never cleared. */
  readonly hostStabilized: boolean;
  /** Epoch boundary of the last observed removal of a live seed. */
  readonly lastCullEpoch?: number | undefined;
  /** Per seed (slot) id. */
  readonly seeds: Readonly<Record<string, SeedRecord>>;
  /** Blueprint penalties. */
  readonly penalties: BlueprintPenalties;
  /** Index into the rotation of the next blueprint to try. */
  readonly rotationCursor: number;
  /** A germination this controller issued and has not yet seen take effect: slot id → blueprint id. */
  readonly pendingGermination?: { readonly seedId: string; readonly blueprintId: string } | undefined;
}

/** The tracker's state before any packet. */
export function initialTrackerState(options: Pick<HeuristicOptions, 'stabilizationEpochs'>): TrackerState {
  return {
    plateauEpochs: 0,
    stableEpochs: 0,
    hostStabilized: options.stabilizationEpochs === 0,
    seeds: {},
    penalties: {},
    rotationCursor: 0,
  };
}

/** The signals of one seed at the current epoch, as the rules read them. */
export interface SeedSignals {
  readonly seedId: string;
  readonly stage: SeedLifecycleStage;
  readonly layerDepth: number;
  /** Epochs spent in the current stage (1 at the first packet that shows the stage). */
  readonly epochsInStage: number;
  /** Validation accuracy now minus at the start of the current stage, in points. */
  readonly improvementSinceStageStartPoints: number;
  /** Validation accuracy now minus at germination, in points; unset for a free slot. */
  readonly totalImprovementPoints?: number | undefined;
  /** From `SeedState.metrics.counterfactual_contribution`; unset when absent or not finite. */
  readonly counterfactualContributionPoints?: number | undefined;
  /** From `SeedState.metrics.alpha`; unset when absent. */
  readonly alpha?: number | undefined;
  /** Blueprint this controller germinated here, when known. */
  readonly blueprintId?: string | undefined;
}

/** The signals of the host and every seed at the current epoch. */
export interface EpochSignals {
  readonly epoch: number;
  /** Validation accuracy, points 0–100. */
  readonly validationAccuracy: number;
  readonly validationLoss: number;
  readonly plateauEpochs: number;
  readonly hostStabilized: boolean;
  /** Epochs since the last removal of a live seed; unset when none happened. */
  readonly epochsSinceCull?: number | undefined;
  /** Every seed of the packet, in decision order (layer depth, then id). */
  readonly seeds: readonly SeedSignals[];
  readonly penalties: BlueprintPenalties;
}

/**
 * Advances the tracker by one packet and returns the new state and the signals the rules read.
 * Pure: `state` is not modified.
 *
 * Host signals (plateau, stabilization, penalty decay) advance only for a packet whose epoch is
 * after the last one observed, so a repeated packet does not count twice. A stage change first
 * seen in this packet is dated to the previous packet's epoch and accuracy: the executor applied
 * the command after that evaluation. A live seed that reaches CULLED, EMBARGOED, RESETTING,
 * TERMINATED or DORMANT counts as a cull (embargo, and a penalty for its blueprint when known),
 * whoever removed it.
 */
export function observeEpoch(
  state: TrackerState,
  packet: SystemStatePacket,
  options: HeuristicOptions,
): { readonly state: TrackerState; readonly signals: EpochSignals } {
  const epoch = packet.currentEpoch;
  const accuracy = packet.validationAccuracy;
  const loss = packet.validationLoss;
  const advances = state.lastEpoch === undefined || epoch > state.lastEpoch;

  let { plateauEpochs, stableEpochs, hostStabilized, lastCullEpoch } = state;
  let penalties: BlueprintPenalties = state.penalties;
  if (advances && state.lastEpoch !== undefined) {
    const gain = accuracy - (state.lastAccuracy ?? accuracy);
    plateauEpochs = gain < options.plateauThresholdPoints ? plateauEpochs + 1 : 0;
    if (!hostStabilized) {
      if (isStableEpoch(state.lastLoss ?? loss, loss, options.stabilizationThresholdRatio)) {
        stableEpochs += 1;
        hostStabilized = stableEpochs >= options.stabilizationEpochs;
      } else {
        stableEpochs = 0;
      }
    }
    penalties = decayPenalties(penalties, options);
  }
  if (options.stabilizationEpochs === 0) hostStabilized = true;

  const boundaryEpoch = state.lastEpoch ?? epoch;
  const boundaryAccuracy = state.lastAccuracy ?? accuracy;
  const seeds: Record<string, SeedRecord> = {};
  for (const seed of packet.seedStates) {
    const previous = state.seeds[seed.seedId];
    let record: SeedRecord;
    if (previous === undefined) {
      record = {
        stage: seed.stage,
        stageStartEpoch: epoch,
        stageStartAccuracy: accuracy,
        ...(isFreeSlot(seed.stage) ? {} : { germinationAccuracy: accuracy }),
      };
    } else if (previous.stage === seed.stage) {
      record = previous;
    } else {
      // A germination this controller issued shows up as a slot leaving DORMANT.
      const germinated = isFreeSlot(previous.stage) && !isFreeSlot(seed.stage);
      const pending = state.pendingGermination?.seedId === seed.seedId ? state.pendingGermination.blueprintId : undefined;
      const blueprintId = germinated ? pending : previous.blueprintId;
      record = isFreeSlot(seed.stage)
        ? { stage: seed.stage, stageStartEpoch: boundaryEpoch, stageStartAccuracy: boundaryAccuracy }
        : {
            stage: seed.stage,
            stageStartEpoch: boundaryEpoch,
            stageStartAccuracy: boundaryAccuracy,
            germinationAccuracy: germinated ? boundaryAccuracy : (previous.germinationAccuracy ?? boundaryAccuracy),
            blueprintId,
          };
      // Removed while live, or straight after germinating (a gate refused it): a cull.
      if ((isLive(previous.stage) || germinated) && isRemovedStage(seed.stage)) {
        lastCullEpoch = boundaryEpoch;
        if (blueprintId !== undefined) penalties = penalise(penalties, blueprintId, options);
      }
    }
    seeds[seed.seedId] = record;
  }

  const next: TrackerState = {
    lastEpoch: advances ? epoch : state.lastEpoch,
    lastAccuracy: advances ? accuracy : state.lastAccuracy,
    lastLoss: advances ? loss : state.lastLoss,
    plateauEpochs,
    stableEpochs,
    hostStabilized,
    lastCullEpoch,
    seeds,
    penalties,
    rotationCursor: state.rotationCursor,
  };
  return { state: next, signals: signalsOf(next, packet, epoch, accuracy, loss) };
}

/**
 * The reference's stable epoch: the validation loss did not rise, its relative improvement
 * `(prev − cur) / prev` is below `threshold`, and `cur < 1.5 × prev`. Non-finite losses are not stable.
 */
export function isStableEpoch(previousLoss: number, loss: number, threshold: number): boolean {
  if (!Number.isFinite(previousLoss) || !Number.isFinite(loss) || loss > previousLoss) return false;
  if (previousLoss <= 0) return true; // did not rise from 0: flat
  return (previousLoss - loss) / previousLoss < threshold && loss < 1.5 * previousLoss;
}

function signalsOf(state: TrackerState, packet: SystemStatePacket, epoch: number, accuracy: number, loss: number): EpochSignals {
  const seeds = [...packet.seedStates].sort(decisionOrder).map((seed): SeedSignals => {
    const record = state.seeds[seed.seedId]!;
    const counterfactual = seed.metrics[COUNTERFACTUAL_METRIC];
    const alpha = seed.metrics[ALPHA_METRIC];
    return {
      seedId: seed.seedId,
      stage: seed.stage,
      layerDepth: seed.layerDepth,
      epochsInStage: epoch - record.stageStartEpoch,
      improvementSinceStageStartPoints: accuracy - record.stageStartAccuracy,
      totalImprovementPoints: record.germinationAccuracy === undefined ? undefined : accuracy - record.germinationAccuracy,
      counterfactualContributionPoints: counterfactual !== undefined && Number.isFinite(counterfactual) ? counterfactual : undefined,
      alpha,
      blueprintId: record.blueprintId,
    };
  });
  return {
    epoch,
    validationAccuracy: accuracy,
    validationLoss: loss,
    plateauEpochs: state.plateauEpochs,
    hostStabilized: state.hostStabilized,
    epochsSinceCull: state.lastCullEpoch === undefined ? undefined : epoch - state.lastCullEpoch,
    seeds,
    penalties: state.penalties,
  };
}

/** Seeds are considered by layer depth, then by id, whatever order the packet lists them in. */
function decisionOrder(a: SeedState, b: SeedState): number {
  return a.layerDepth - b.layerDepth || (a.seedId < b.seedId ? -1 : a.seedId > b.seedId ? 1 : 0);
}
