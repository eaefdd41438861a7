import { describe, expect, test } from 'vitest';
import { heuristicOptionsSchema } from './options.js';
import { decayPenalties, penalise, pickBlueprint } from './rotation.js';

const options = heuristicOptionsSchema.parse({});
const rotation = ['BP001', 'BP002', 'BP003'];

describe('pickBlueprint', () => {
  test('walks the rotation round-robin from the cursor', () => {
    expect(pickBlueprint(rotation, 0, {}, options)).toStrictEqual({ blueprintId: 'BP001', nextCursor: 1, fallback: false });
    expect(pickBlueprint(rotation, 2, {}, options)).toStrictEqual({ blueprintId: 'BP003', nextCursor: 0, fallback: false });
  });

  test('skips a blueprint whose penalty is at or above the threshold (3.0), not one just below', () => {
    expect(pickBlueprint(rotation, 0, { BP001: 3, BP002: 2.99 }, options)).toStrictEqual({ blueprintId: 'BP002', nextCursor: 2, fallback: false });
    expect(pickBlueprint(rotation, 0, { BP001: 3.5, BP002: 3, BP003: 4 }, options)).toMatchObject({ blueprintId: 'BP002', fallback: true });
  });

  test('the least-penalised fallback takes the first in walking order on ties', () => {
    expect(pickBlueprint(rotation, 1, { BP001: 3, BP002: 3, BP003: 3 }, options)).toStrictEqual({ blueprintId: 'BP002', nextCursor: 2, fallback: true });
  });

  test('an empty rotation is a programming error', () => {
    expect(() => pickBlueprint([], 0, {}, options)).toThrow(RangeError);
  });
});

describe('penalties', () => {
  test('a cull adds blueprintPenaltyOnCull; each epoch multiplies by the decay and drops what falls below the floor', () => {
    let penalties = penalise({}, 'BP001', options);
    expect(penalties).toStrictEqual({ BP001: 2 });
    penalties = penalise(penalties, 'BP001', options);
    expect(penalties).toStrictEqual({ BP001: 4 });
    const trail: Record<string, number>[] = [];
    for (let epoch = 0; epoch < 6; epoch++) trail.push((penalties = decayPenalties(penalties, options)));
    expect(trail).toStrictEqual([{ BP001: 2 }, { BP001: 1 }, { BP001: 0.5 }, { BP001: 0.25 }, { BP001: 0.125 }, {}]);
  });

  test('inputs are not modified', () => {
    const penalties = Object.freeze({ BP001: 1 });
    expect(penalise(penalties, 'BP002', options)).toStrictEqual({ BP001: 1, BP002: 2 });
    expect(decayPenalties(penalties, options)).toStrictEqual({ BP001: 0.5 });
  });
});
