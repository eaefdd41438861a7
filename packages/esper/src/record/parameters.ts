import { SeedLifecycleStage as S, type SeedState } from '@esper/core/leyline';

/** Stages in which a seed's kernel is part of the composed model: grafted at GERMINATED, removed by a cull. */
const GRAFTED: ReadonlySet<S> = new Set([
  S.SEED_STAGE_GERMINATED,
  S.SEED_STAGE_TRAINING,
  S.SEED_STAGE_BLENDING,
  S.SEED_STAGE_SHADOWING,
  S.SEED_STAGE_PROBATIONARY,
  S.SEED_STAGE_FOSSILIZED,
]);

/**
 * Parameter count of the model as the run leaves it: the host's initial count plus the
 * `parameters` metric of every seed still grafted in the executor's final states. The trainer's
 * own gauge is counted when it last composed the model, so a seed culled by the last decision
 * would still be in it. Falls back to `gauge` when the seeds do not report their counts.
 */
export function finalParameterCount(
  initial: number | undefined,
  gauge: number | undefined,
  finalSeeds: readonly SeedState[],
): number | undefined {
  if (initial === undefined || finalSeeds.length === 0) return gauge;
  let total = initial;
  for (const seed of finalSeeds) {
    if (!GRAFTED.has(seed.stage)) continue;
    const count = seed.metrics.parameters;
    if (count === undefined) return gauge;
    total += count;
  }
  return total;
}
