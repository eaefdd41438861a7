import { SeedLifecycleStage } from '@esper/core/leyline';
import { IllegalTransitionError } from '../errors.js';

const S = SeedLifecycleStage;

/**
 * The seed lifecycle (reference kasmina §4.2), as data: every stage and the stages it may move to.
 * The happy path is DORMANT → GERMINATED → TRAINING → BLENDING → SHADOWING → PROBATIONARY →
 * FOSSILIZED (→ TERMINATED); the failure loop is any active stage → CULLED → EMBARGOED →
 * RESETTING → DORMANT, which frees the slot for the next seed.
 */
export const SEED_TRANSITIONS: ReadonlyMap<SeedLifecycleStage, readonly SeedLifecycleStage[]> = new Map([
  [S.SEED_STAGE_UNKNOWN, [S.SEED_STAGE_DORMANT]],
  [S.SEED_STAGE_DORMANT, [S.SEED_STAGE_GERMINATED, S.SEED_STAGE_TERMINATED]],
  [S.SEED_STAGE_GERMINATED, [S.SEED_STAGE_TRAINING, S.SEED_STAGE_CULLED]],
  [S.SEED_STAGE_TRAINING, [S.SEED_STAGE_BLENDING, S.SEED_STAGE_CULLED]],
  [S.SEED_STAGE_BLENDING, [S.SEED_STAGE_SHADOWING, S.SEED_STAGE_CULLED]],
  [S.SEED_STAGE_SHADOWING, [S.SEED_STAGE_PROBATIONARY, S.SEED_STAGE_CULLED]],
  [S.SEED_STAGE_PROBATIONARY, [S.SEED_STAGE_FOSSILIZED, S.SEED_STAGE_CULLED]],
  [S.SEED_STAGE_FOSSILIZED, [S.SEED_STAGE_TERMINATED]],
  [S.SEED_STAGE_CULLED, [S.SEED_STAGE_EMBARGOED]],
  [S.SEED_STAGE_EMBARGOED, [S.SEED_STAGE_RESETTING]],
  [S.SEED_STAGE_RESETTING, [S.SEED_STAGE_DORMANT]],
  [S.SEED_STAGE_TERMINATED, []],
]);

/** The stages `from` may move to (empty for TERMINATED and for numbers the enum lacks). */
export function allowedTransitions(from: SeedLifecycleStage): readonly SeedLifecycleStage[] {
  return SEED_TRANSITIONS.get(from) ?? [];
}

/** Whether the lifecycle table allows `from` → `to`. */
export function canTransition(from: SeedLifecycleStage, to: SeedLifecycleStage): boolean {
  return allowedTransitions(from).includes(to);
}

/** Anything that has a lifecycle stage (a seed context, a test double). */
export interface HasStage {
  stage: SeedLifecycleStage;
}

/**
 * Applies the lifecycle table: moves `seed` to `to` and returns the stage it left.
 *
 * @throws {@link IllegalTransitionError} when the table does not allow the move; `seed` is then
 *   left exactly as it was.
 */
export function transition(seed: HasStage, to: SeedLifecycleStage): SeedLifecycleStage {
  const from = seed.stage;
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to, allowedTransitions(from));
  seed.stage = to;
  return from;
}

/** Stages in which a seed's blueprint is spliced into the composed graph. */
export const GRAFTED_STAGES: ReadonlySet<SeedLifecycleStage> = new Set([
  S.SEED_STAGE_GERMINATED,
  S.SEED_STAGE_TRAINING,
  S.SEED_STAGE_BLENDING,
  S.SEED_STAGE_SHADOWING,
  S.SEED_STAGE_PROBATIONARY,
  S.SEED_STAGE_FOSSILIZED,
]);

/** Whether a seed in `stage` is part of the composed graph. */
export function isGrafted(stage: SeedLifecycleStage): boolean {
  return GRAFTED_STAGES.has(stage);
}
