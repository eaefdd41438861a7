import { z } from 'zod';
import { kasminaConfigSchema } from './config.js';
import type { ExecutorSettings } from './executor/settings.js';

// The growth options of the executor, added to the reference's settings (config.ts). Units are
// in the names: optimizer steps for the α ramp, epoch boundaries for the embargo.
const growthShape = {
  blendingOptimizerSteps: z.number().int().nonnegative().default(200).meta({
    env: 'KASMINA_BLENDING_OPTIMIZER_STEPS',
    description: 'α goes from 0 to 1 over this many optimizer steps of BLENDING (advanced by the trainer’s observeSteps); 0 = α is 1 at once.',
  }),
  alphaRamp: z.enum(['linear', 'sigmoid']).default('linear').meta({
    description: 'Shape of the α ramp: `linear`, or `sigmoid` (the reference’s logistic curve, steepness alphaSchedule.temperature / alphaSchedule.totalSteps, rescaled to reach exactly 1).',
    reference: 'kasmina §9.1',
  }),
  embargoEpochs: z.number().int().nonnegative().default(2).meta({
    env: 'KASMINA_EMBARGO_EPOCHS',
    description: 'Epoch boundaries a culled seed stays EMBARGOED before RESETTING → DORMANT frees its slot (0: at the next boundary). Replaces embargoMs in this executor.',
  }),
  maxLossRatio: z.number().min(1).default(1.5).meta({
    description: 'G4: largest accepted training loss, relative to the loss when the seed entered BLENDING.',
  }),
};

/**
 * The `kasmina` section as the plugin reads it: the reference's settings (`kasminaConfigSchema`)
 * plus the growth options of this executor.
 */
export const kasminaPluginSchema = kasminaConfigSchema.extend(growthShape);

/** Validated options of the `kasmina()` plugin. */
export type KasminaPluginOptions = z.output<typeof kasminaPluginSchema>;
/** What the `kasmina` config section may hold. */
export type KasminaPluginInput = z.input<typeof kasminaPluginSchema>;

/** The reference's τ / T (2 / 20), used when `alphaSchedule.totalSteps` ≤ 0. */
const REFERENCE_TEMPERATURE_RATIO = 0.1;

/** The executor's settings from the plugin's options. */
export function executorSettingsFrom(options: KasminaPluginOptions): ExecutorSettings {
  const { totalSteps, temperature } = options.alphaSchedule;
  return {
    blendingOptimizerSteps: options.blendingOptimizerSteps,
    alphaRamp: options.alphaRamp,
    sigmoidTemperatureRatio: totalSteps > 0 ? temperature / totalSteps : REFERENCE_TEMPERATURE_RATIO,
    embargoEpochs: options.embargoEpochs,
    latencyBudgetMs: options.latencyBudgetMs,
    maxLossRatio: options.maxLossRatio,
    confidenceGate: { ...options.confidenceGate },
  };
}
