import { describe, expect, test } from 'vitest';
import { HEURISTIC_REFERENCE_NAMES, heuristicOptionsSchema } from './options.js';

/** The reference defaults (tamiyo-heuristic.md), by reference name. */
const REFERENCE_DEFAULTS: Readonly<Record<string, number>> = {
  plateau_threshold_pct: 0.5,
  plateau_epochs_to_germinate: 3,
  stabilization_threshold: 0.03,
  stabilization_epochs: 3,
  min_epochs_before_germinate: 5,
  embargo_epochs_after_cull: 5,
  cull_after_epochs_without_improvement: 5,
  cull_if_accuracy_drops_by: 2.0,
  min_improvement_to_fossilize: 0.5,
  blueprint_penalty_on_cull: 2.0,
  blueprint_penalty_decay: 0.5,
  blueprint_penalty_threshold: 3.0,
};

describe('heuristicOptionsSchema', () => {
  const defaults = heuristicOptionsSchema.parse(undefined);

  test.each(Object.entries(REFERENCE_DEFAULTS))('%s defaults to %d under its camelCase name', (name, value) => {
    const option = HEURISTIC_REFERENCE_NAMES[name];
    expect(option).toBeDefined();
    expect(defaults[option!]).toBe(value);
  });

  test('every reference threshold is mapped; the hard-coded ones keep the reference values', () => {
    expect(Object.keys(HEURISTIC_REFERENCE_NAMES).sort()).toStrictEqual(Object.keys(REFERENCE_DEFAULTS).sort());
    expect(defaults).toMatchObject({
      blueprintRotation: [],
      germinateConfidencePlateauEpochs: 5, // confidence min(1, plateau_epochs / 5)
      fossilizeConfidencePoints: 5, // confidence min(1, i / 5)
      hostageContributionPoints: 0.1, // c > 0.1 and t < 0
      blueprintPenaltyFloor: 0.1, // penalties dropped below 0.1
      trainingEpochsBeforeGrafting: 1, // graft at the first decision in TRAINING
    });
  });

  test('unknown keys and out-of-range values are rejected, naming the option', () => {
    const issues = heuristicOptionsSchema.safeParse({ plateauThresholdPct: 1, blueprintPenaltyDecayRatio: 1.5, stabilizationEpochs: -1 }).error?.issues;
    expect(issues?.map((i) => i.path.join('.') || i.message).sort()).toStrictEqual([
      'Unrecognized key: "plateauThresholdPct"',
      'blueprintPenaltyDecayRatio',
      'stabilizationEpochs',
    ]);
  });

  test('blueprint ids are trimmed and may not be empty', () => {
    expect(heuristicOptionsSchema.parse({ blueprintRotation: [' BP001 '] }).blueprintRotation).toStrictEqual(['BP001']);
    expect(heuristicOptionsSchema.safeParse({ blueprintRotation: [' '] }).success).toBe(false);
  });
});
