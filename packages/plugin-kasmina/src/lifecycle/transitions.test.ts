import { SeedLifecycleStage, SeedLifecycleStageSchema } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { IllegalTransitionError } from '../errors.js';
import { SEED_TRANSITIONS, canTransition, transition } from './transitions.js';

const S = SeedLifecycleStage;
const STAGES = SeedLifecycleStageSchema.values.map((v) => v.number as SeedLifecycleStage);
const name = (s: SeedLifecycleStage) => SeedLifecycleStageSchema.value[s]!.name;

/** The reference's table (kasmina §4.2), written out independently of the implementation. */
const EXPECTED: Record<string, string[]> = {
  SEED_STAGE_UNKNOWN: ['SEED_STAGE_DORMANT'],
  SEED_STAGE_DORMANT: ['SEED_STAGE_GERMINATED', 'SEED_STAGE_TERMINATED'],
  SEED_STAGE_GERMINATED: ['SEED_STAGE_TRAINING', 'SEED_STAGE_CULLED'],
  SEED_STAGE_TRAINING: ['SEED_STAGE_BLENDING', 'SEED_STAGE_CULLED'],
  SEED_STAGE_BLENDING: ['SEED_STAGE_SHADOWING', 'SEED_STAGE_CULLED'],
  SEED_STAGE_SHADOWING: ['SEED_STAGE_PROBATIONARY', 'SEED_STAGE_CULLED'],
  SEED_STAGE_PROBATIONARY: ['SEED_STAGE_FOSSILIZED', 'SEED_STAGE_CULLED'],
  SEED_STAGE_FOSSILIZED: ['SEED_STAGE_TERMINATED'],
  SEED_STAGE_CULLED: ['SEED_STAGE_EMBARGOED'],
  SEED_STAGE_EMBARGOED: ['SEED_STAGE_RESETTING'],
  SEED_STAGE_RESETTING: ['SEED_STAGE_DORMANT'],
  SEED_STAGE_TERMINATED: [],
};

const PAIRS = STAGES.flatMap((from) => STAGES.map((to) => [from, to] as const));

describe('the seed lifecycle table', () => {
  test('has a row for each of the 12 Leyline stages and matches the reference', () => {
    expect(STAGES).toHaveLength(12);
    const table = Object.fromEntries([...SEED_TRANSITIONS].map(([from, tos]) => [name(from), tos.map(name)]));
    expect(table).toStrictEqual(EXPECTED);
  });

  test.each(PAIRS.map(([from, to]) => [name(from), name(to), from, to] as const))('%s → %s', (_f, _t, from, to) => {
    const seed = { stage: from };
    if (EXPECTED[name(from)]!.includes(name(to))) {
      expect(canTransition(from, to)).toBe(true);
      expect(transition(seed, to)).toBe(from);
      expect(seed.stage).toBe(to);
    } else {
      expect(canTransition(from, to)).toBe(false);
      let error: unknown;
      try {
        transition(seed, to);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect(error).toMatchObject({ code: 'ESPER_KASMINA_ILLEGAL_TRANSITION', from, to });
      expect(seed.stage).toBe(from);
    }
  });

  test('the happy path and the failure loop walk through', () => {
    const seed = { stage: S.SEED_STAGE_DORMANT };
    for (const to of [S.SEED_STAGE_GERMINATED, S.SEED_STAGE_TRAINING, S.SEED_STAGE_BLENDING, S.SEED_STAGE_SHADOWING, S.SEED_STAGE_PROBATIONARY, S.SEED_STAGE_FOSSILIZED, S.SEED_STAGE_TERMINATED]) {
      transition(seed, to);
    }
    expect(seed.stage).toBe(S.SEED_STAGE_TERMINATED);
    const other = { stage: S.SEED_STAGE_TRAINING };
    for (const to of [S.SEED_STAGE_CULLED, S.SEED_STAGE_EMBARGOED, S.SEED_STAGE_RESETTING, S.SEED_STAGE_DORMANT]) transition(other, to);
    expect(other.stage).toBe(S.SEED_STAGE_DORMANT);
  });

  test('the error says where the seed may go instead', () => {
    expect(() => transition({ stage: S.SEED_STAGE_DORMANT }, S.SEED_STAGE_SHADOWING)).toThrow(
      /SEED_STAGE_DORMANT cannot move to SEED_STAGE_SHADOWING.*SEED_STAGE_GERMINATED, SEED_STAGE_TERMINATED/,
    );
  });
});
