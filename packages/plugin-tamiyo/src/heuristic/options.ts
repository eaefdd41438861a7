import { z } from 'zod';

const REFERENCE = 'tamiyo-heuristic';

/**
 * Thresholds of the heuristic controller (`tamiyo.heuristic` config section). Every threshold of
 * the reference is here under a camelCase name that carries its unit: `…Points` are percentage
 * points of validation accuracy (0–100), `…Epochs` count epoch boundaries, `…Ratio` is a unitless
 * fraction. {@link HEURISTIC_REFERENCE_NAMES} maps the reference's snake_case names to these.
 * Defaults are the reference's. Decision 0052.
 */
export const heuristicOptionsSchema = z
  .strictObject({
    blueprintRotation: z
      .array(z.string().trim().min(1))
      .default([])
      .meta({
        reference: REFERENCE,
        description:
          'Blueprint ids germinated round-robin. Empty: every blueprint of the BlueprintCatalog, in catalogue order. Ids are checked against the catalogue at start.',
      }),
    plateauThresholdPoints: z
      .number()
      .nonnegative()
      .default(0.5)
      .meta({ reference: REFERENCE, description: 'An epoch whose validation-accuracy gain is below this (points) counts towards the plateau.' }),
    plateauEpochsToGerminate: z
      .number()
      .int()
      .min(1)
      .default(3)
      .meta({ reference: REFERENCE, description: 'Plateau epochs after which a seed germinates (when no seed is live).' }),
    germinateConfidencePlateauEpochs: z
      .number()
      .int()
      .min(1)
      .default(5)
      .meta({ reference: REFERENCE, description: 'Plateau length at which a germination has confidence 1 (confidence = min(1, plateau / this)).' }),
    stabilizationThresholdRatio: z
      .number()
      .nonnegative()
      .default(0.03)
      .meta({
        reference: REFERENCE,
        description: 'An epoch is stable when the validation loss did not rise and its relative improvement (prev − cur) / prev is below this.',
      }),
    stabilizationEpochs: z
      .number()
      .int()
      .nonnegative()
      .default(3)
      .meta({ reference: REFERENCE, description: 'Consecutive stable epochs that latch "host stabilized"; 0 disables the gate.' }),
    minEpochsBeforeGerminate: z
      .number()
      .int()
      .nonnegative()
      .default(5)
      .meta({ reference: REFERENCE, description: 'No germination while the packet epoch is below this.' }),
    embargoEpochsAfterCull: z
      .number()
      .int()
      .nonnegative()
      .default(5)
      .meta({ reference: REFERENCE, description: 'Epochs after a cull during which no seed germinates.' }),
    trainingEpochsBeforeGrafting: z
      .number()
      .int()
      .min(1)
      .default(1)
      .meta({
        reference: `${REFERENCE} (port addition)`,
        description: 'Epochs a seed stays in TRAINING before START_GRAFTING; 1 is the reference (graft at the first decision in TRAINING).',
      }),
    cullAfterEpochsWithoutImprovement: z
      .number()
      .int()
      .min(1)
      .default(5)
      .meta({ reference: REFERENCE, description: 'Epochs in TRAINING or BLENDING after which the accuracy-drop cull test applies.' }),
    cullIfAccuracyDropsByPoints: z
      .number()
      .nonnegative()
      .default(2)
      .meta({ reference: REFERENCE, description: 'Cull a TRAINING or BLENDING seed when accuracy fell by more than this (points) since its stage began.' }),
    minImprovementToFossilizePoints: z
      .number()
      .default(0.5)
      .meta({ reference: REFERENCE, description: 'A PROBATIONARY seed fossilizes when its contribution (points) is above this, else it is culled.' }),
    fossilizeConfidencePoints: z
      .number()
      .positive()
      .default(5)
      .meta({ reference: REFERENCE, description: 'Contribution (points) at which a fossilization has confidence 1 (confidence = min(1, i / this)).' }),
    hostageContributionPoints: z
      .number()
      .default(0.1)
      .meta({
        reference: REFERENCE,
        description: 'A PROBATIONARY seed whose counterfactual contribution is above this while the total improvement is negative holds the host hostage: cull.',
      }),
    blueprintPenaltyOnCull: z
      .number()
      .nonnegative()
      .default(2)
      .meta({ reference: REFERENCE, description: "Penalty added to a blueprint's score when a seed of it is culled." }),
    blueprintPenaltyDecayRatio: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .meta({ reference: REFERENCE, description: 'Factor every penalty is multiplied by once per epoch.' }),
    blueprintPenaltyFloor: z
      .number()
      .nonnegative()
      .default(0.1)
      .meta({ reference: REFERENCE, description: 'Penalties that decay below this are dropped.' }),
    blueprintPenaltyThreshold: z
      .number()
      .positive()
      .default(3)
      .meta({
        reference: REFERENCE,
        description: 'The rotation skips a blueprint whose penalty is at or above this; when all are, the least-penalised one is chosen.',
      }),
  })
  .prefault({});

/** Validated heuristic thresholds (every default applied). */
export type HeuristicOptions = z.output<typeof heuristicOptionsSchema>;
/** What a user may write in `tamiyo.heuristic` (all optional). */
export type HeuristicOptionsInput = z.input<typeof heuristicOptionsSchema>;

/**
 * The reference's snake_case names (tamiyo-heuristic.md) → the option that replaces each. Options
 * not listed are thresholds the reference hard-codes (confidence scales, the hostage bound, the
 * penalty floor) or port additions (`trainingEpochsBeforeGrafting`, `blueprintRotation`).
 */
export const HEURISTIC_REFERENCE_NAMES: Readonly<Record<string, keyof HeuristicOptions>> = Object.freeze({
  plateau_threshold_pct: 'plateauThresholdPoints',
  plateau_epochs_to_germinate: 'plateauEpochsToGerminate',
  stabilization_threshold: 'stabilizationThresholdRatio',
  stabilization_epochs: 'stabilizationEpochs',
  min_epochs_before_germinate: 'minEpochsBeforeGerminate',
  embargo_epochs_after_cull: 'embargoEpochsAfterCull',
  cull_after_epochs_without_improvement: 'cullAfterEpochsWithoutImprovement',
  cull_if_accuracy_drops_by: 'cullIfAccuracyDropsByPoints',
  min_improvement_to_fossilize: 'minImprovementToFossilizePoints',
  blueprint_penalty_on_cull: 'blueprintPenaltyOnCull',
  blueprint_penalty_decay: 'blueprintPenaltyDecayRatio',
  blueprint_penalty_threshold: 'blueprintPenaltyThreshold',
});
