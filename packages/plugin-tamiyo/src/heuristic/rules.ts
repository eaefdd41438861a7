import { SeedLifecycleStage, SeedOperation } from '@esper/core/leyline';
import type { HeuristicOptions } from './options.js';
import { pickBlueprint } from './rotation.js';
import type { EpochSignals, SeedSignals, TrackerState } from './signals.js';
import { isFreeSlot, isLive } from './stages.js';

/**
 * Which rule produced a decision: the rule's place in tamiyo-heuristic.md, written to the
 * command's `rule` annotation and to telemetry.
 */
export type HeuristicRule =
  | 'embargo'
  | 'stabilization'
  | 'min_epochs'
  | 'plateau'
  | 'no_plateau'
  | 'germinated'
  | 'training_cull'
  | 'training_graft'
  | 'training_wait'
  | 'blending_cull'
  | 'blending_complete'
  | 'blending_wait'
  | 'shadowing'
  | 'probationary_hostage'
  | 'probationary_fossilize'
  | 'probationary_cull'
  | 'epoch_step';

/** A decision of the heuristic: a seed operation at one slot, or WAIT. */
export type HeuristicDecision =
  | {
      readonly kind: 'wait';
      readonly rule: HeuristicRule;
      /** Why nothing is done, e.g. `embargo`, `host_not_stabilized`, `blending_in_progress`. */
      readonly reason: string;
      /** The seed the wait is about, when it is about one. */
      readonly seedId?: string | undefined;
      readonly confidence: number;
    }
  | {
      readonly kind: 'seed';
      readonly rule: HeuristicRule;
      readonly reason: string;
      readonly operation: SeedOperation;
      /** Target slot (= seed) id. */
      readonly seedId: string;
      /** Germinations only: the blueprint to graft. */
      readonly blueprintId?: string | undefined;
      /** In [0, 1]. 1 for transitions that are certain once their rule matches. */
      readonly confidence: number;
    };

/**
 * α has reached 1 only at exactly 1: the executor reports α = 1 exactly when blending is complete
 * and keeps a ramp strictly below 1 (down to 1 − 2⁻²⁴ in float32), and it refuses STABILIZE before.
 */
const ALPHA_COMPLETE = 1;

/**
 * Applies the rules of tamiyo-heuristic.md to this epoch's signals, first match wins, and
 * returns the decision with the tracker state it implies (rotation cursor, pending germination).
 * Pure: `state` is not modified.
 *
 * With no live seed the germination rules run (embargo, stabilization, minimum epoch, plateau).
 * With live seeds, each is considered in decision order (layer depth, then id) and the first one
 * that a rule acts on is the decision; a seed whose rule says WAIT (BLENDING with α < 1, TRAINING
 * still incubating) does not hold up the next one. When no seed is acted on, the decision is the
 * first seed's WAIT.
 */
export function decideEpoch(
  signals: EpochSignals,
  state: TrackerState,
  options: HeuristicOptions,
  rotation: readonly string[],
): { readonly decision: HeuristicDecision; readonly state: TrackerState } {
  const live = signals.seeds.filter((seed) => isLive(seed.stage));
  if (live.length === 0) return germination(signals, state, options, rotation);

  let firstWait: HeuristicDecision | undefined;
  for (const seed of live) {
    const decision = manage(seed, options);
    if (decision.kind === 'seed') return { decision, state };
    firstWait ??= decision;
  }
  return { decision: firstWait!, state };
}

function germination(
  signals: EpochSignals,
  state: TrackerState,
  options: HeuristicOptions,
  rotation: readonly string[],
): { readonly decision: HeuristicDecision; readonly state: TrackerState } {
  const wait = (rule: HeuristicRule, reason: string) => ({ decision: { kind: 'wait', rule, reason, confidence: 1 } as const, state });
  if (signals.epochsSinceCull !== undefined && signals.epochsSinceCull < options.embargoEpochsAfterCull) {
    return wait('embargo', 'embargo');
  }
  if (!signals.hostStabilized) return wait('stabilization', 'host_not_stabilized');
  if (signals.epoch < options.minEpochsBeforeGerminate) return wait('min_epochs', 'min_epochs_before_germinate');
  if (signals.plateauEpochs < options.plateauEpochsToGerminate) return wait('no_plateau', 'no_plateau');
  const slot = signals.seeds.find((seed) => isFreeSlot(seed.stage));
  if (slot === undefined) return wait('plateau', 'no_free_slot');

  const pick = pickBlueprint(rotation, state.rotationCursor, signals.penalties, options);
  return {
    decision: {
      kind: 'seed',
      rule: 'plateau',
      reason: pick.fallback ? 'plateau_all_blueprints_penalised' : 'plateau',
      operation: SeedOperation.SEED_OP_GERMINATE,
      seedId: slot.seedId,
      blueprintId: pick.blueprintId,
      confidence: Math.min(1, signals.plateauEpochs / options.germinateConfidencePlateauEpochs),
    },
    state: { ...state, rotationCursor: pick.nextCursor, pendingGermination: { seedId: slot.seedId, blueprintId: pick.blueprintId } },
  };
}

function manage(seed: SeedSignals, options: HeuristicOptions): HeuristicDecision {
  const act = (rule: HeuristicRule, reason: string, operation: SeedOperation, confidence = 1): HeuristicDecision => ({
    kind: 'seed',
    rule,
    reason,
    operation,
    seedId: seed.seedId,
    confidence,
  });
  const wait = (rule: HeuristicRule, reason: string): HeuristicDecision => ({ kind: 'wait', rule, reason, seedId: seed.seedId, confidence: 1 });
  const accuracyDropped =
    seed.epochsInStage >= options.cullAfterEpochsWithoutImprovement &&
    seed.improvementSinceStageStartPoints < -options.cullIfAccuracyDropsByPoints;

  switch (seed.stage) {
    case SeedLifecycleStage.SEED_STAGE_GERMINATED:
      return act('germinated', 'germinated', SeedOperation.SEED_OP_START_TRAINING);
    case SeedLifecycleStage.SEED_STAGE_TRAINING:
      if (accuracyDropped) return act('training_cull', 'accuracy_dropped', SeedOperation.SEED_OP_CULL);
      if (seed.epochsInStage >= options.trainingEpochsBeforeGrafting) {
        return act('training_graft', 'training_complete', SeedOperation.SEED_OP_START_GRAFTING);
      }
      return wait('training_wait', 'training_in_progress');
    case SeedLifecycleStage.SEED_STAGE_BLENDING:
      if (accuracyDropped) return act('blending_cull', 'accuracy_dropped', SeedOperation.SEED_OP_CULL);
      if ((seed.alpha ?? 0) >= ALPHA_COMPLETE) return act('blending_complete', 'alpha_reached_1', SeedOperation.SEED_OP_STABILIZE);
      return wait('blending_wait', 'blending_in_progress');
    case SeedLifecycleStage.SEED_STAGE_SHADOWING:
      return act('shadowing', 'shadowing', SeedOperation.SEED_OP_EVALUATE);
    case SeedLifecycleStage.SEED_STAGE_PROBATIONARY:
      return probationary(seed, options, act);
    default:
      // isLive admits only the five stages above.
      return wait('epoch_step', 'not_managed');
  }
}

function probationary(
  seed: SeedSignals,
  options: HeuristicOptions,
  act: (rule: HeuristicRule, reason: string, operation: SeedOperation, confidence?: number) => HeuristicDecision,
): HeuristicDecision {
  const c = seed.counterfactualContributionPoints;
  const t = seed.totalImprovementPoints ?? 0;
  if (c !== undefined && c > options.hostageContributionPoints && t < 0) {
    return act('probationary_hostage', 'hostage', SeedOperation.SEED_OP_CULL);
  }
  const improvement = c ?? t;
  if (improvement > options.minImprovementToFossilizePoints) {
    return act(
      'probationary_fossilize',
      'improved',
      SeedOperation.SEED_OP_FOSSILIZE,
      Math.min(1, improvement / options.fossilizeConfidencePoints),
    );
  }
  return act('probationary_cull', 'insufficient_improvement', SeedOperation.SEED_OP_CULL);
}
