import { SeedLifecycleStage } from '@esper/core/leyline';

/**
 * Stages in which a seed is *live*: under management by the heuristic's rules. Every other
 * stage is terminal or a failure path (FOSSILIZED, CULLED, EMBARGOED, RESETTING, TERMINATED),
 * a free slot (DORMANT) or not reported (UNKNOWN).
 */
export const LIVE_STAGES: ReadonlySet<SeedLifecycleStage> = new Set([
  SeedLifecycleStage.SEED_STAGE_GERMINATED,
  SeedLifecycleStage.SEED_STAGE_TRAINING,
  SeedLifecycleStage.SEED_STAGE_BLENDING,
  SeedLifecycleStage.SEED_STAGE_SHADOWING,
  SeedLifecycleStage.SEED_STAGE_PROBATIONARY,
]);

/** Stages a live seed reaches when it is removed rather than kept (the cull path, or a cancel). */
const REMOVED_STAGES: ReadonlySet<SeedLifecycleStage> = new Set([
  SeedLifecycleStage.SEED_STAGE_CULLED,
  SeedLifecycleStage.SEED_STAGE_EMBARGOED,
  SeedLifecycleStage.SEED_STAGE_RESETTING,
  SeedLifecycleStage.SEED_STAGE_DORMANT,
  SeedLifecycleStage.SEED_STAGE_TERMINATED,
]);

/** Whether a seed in `stage` is managed by the rules. */
export function isLive(stage: SeedLifecycleStage): boolean {
  return LIVE_STAGES.has(stage);
}

/** Whether a seed in `stage` is a free slot where a seed may germinate. */
export function isFreeSlot(stage: SeedLifecycleStage): boolean {
  return stage === SeedLifecycleStage.SEED_STAGE_DORMANT;
}

/** Whether `stage` is where a removed seed goes (culled, cancelled, failed a gate), or a free slot again. */
export function isRemovedStage(stage: SeedLifecycleStage): boolean {
  return REMOVED_STAGES.has(stage);
}
