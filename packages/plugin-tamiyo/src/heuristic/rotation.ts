import type { HeuristicOptions } from './options.js';

/** Blueprint penalties by id (absent = 0). */
export type BlueprintPenalties = Readonly<Record<string, number>>;

/** Thresholds the rotation reads. */
export type RotationOptions = Pick<
  HeuristicOptions,
  'blueprintPenaltyOnCull' | 'blueprintPenaltyDecayRatio' | 'blueprintPenaltyFloor' | 'blueprintPenaltyThreshold'
>;

/** The blueprint chosen for a germination and where the round-robin continues. */
export interface RotationPick {
  readonly blueprintId: string;
  /** Index into the rotation of the next candidate. */
  readonly nextCursor: number;
  /** True when every blueprint was at or over the threshold and the least-penalised one was taken. */
  readonly fallback: boolean;
}

/**
 * Walks `rotation` round-robin from `cursor` and returns the first blueprint whose penalty is
 * below the threshold; when every one is at or above it, the least-penalised one (the first of
 * them in walking order on ties). `rotation` must not be empty.
 */
export function pickBlueprint(
  rotation: readonly string[],
  cursor: number,
  penalties: BlueprintPenalties,
  options: Pick<RotationOptions, 'blueprintPenaltyThreshold'>,
): RotationPick {
  const n = rotation.length;
  if (n === 0) throw new RangeError('pickBlueprint: the blueprint rotation is empty');
  let least = -1;
  for (let k = 0; k < n; k++) {
    const index = (((cursor + k) % n) + n) % n;
    const penalty = penalties[rotation[index]!] ?? 0;
    if (penalty < options.blueprintPenaltyThreshold) {
      return { blueprintId: rotation[index]!, nextCursor: (index + 1) % n, fallback: false };
    }
    if (least < 0 || penalty < (penalties[rotation[least]!] ?? 0)) least = index;
  }
  return { blueprintId: rotation[least]!, nextCursor: (least + 1) % n, fallback: true };
}

/** Penalties after one epoch: each multiplied by the decay, those below the floor dropped. */
export function decayPenalties(penalties: BlueprintPenalties, options: RotationOptions): Record<string, number> {
  const next: Record<string, number> = {};
  for (const [id, penalty] of Object.entries(penalties)) {
    const decayed = penalty * options.blueprintPenaltyDecayRatio;
    if (decayed >= options.blueprintPenaltyFloor && decayed > 0) next[id] = decayed;
  }
  return next;
}

/** Penalties after a seed of `blueprintId` was culled. */
export function penalise(penalties: BlueprintPenalties, blueprintId: string, options: RotationOptions): Record<string, number> {
  const next = { ...penalties };
  const penalty = (next[blueprintId] ?? 0) + options.blueprintPenaltyOnCull;
  if (penalty > 0) next[blueprintId] = penalty;
  return next;
}
