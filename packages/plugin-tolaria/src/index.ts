/**
 * `@esper/plugin-tolaria`: Tolaria, the trainer. The `tolaria()` plugin provides the core
 * `Trainer` port: an MLP host with seed slots trained on real MNIST digits (or Gaussian blobs),
 * the epoch loop that calls the controller under a deadline and hands its command to the seed
 * executor, epoch checkpoints; plus the typed settings.
 *
 * @packageDocumentation
 */
export { tolaria, tolariaPluginSchema, type TolariaInput, type TolariaOptions } from './plugin.js';
/** The plugin factory as the default export, so a JSON config can name the package alone: `"plugins": ["@esper/plugin-tolaria"]`. */
export { tolaria as default } from './plugin.js';
export {
  TolariaTrainer,
  CONTROLLER_ERROR_EVENT,
  CONTROLLER_TIMEOUT_EVENT,
  type NotificationSink,
  type TolariaTrainerDeps,
  type TolariaTrainerSettings,
} from './loop/tolaria-trainer.js';
export {
  TOLARIA_DATASETS,
  TOLARIA_OPTIMIZERS,
  datasetOptionsSchema,
  hostOptionsSchema,
  loopOptionsShape,
  trainingOptionsSchema,
  type DatasetOptions,
  type HostOptions,
  type TolariaDatasetName,
  type TolariaOptimizerName,
  type TrainingOptions,
} from './loop/options.js';
export { BLOBS_DEFAULT_TRAIN_SIZE, prepareTask, type TrainingTask } from './loop/task.js';
export { COUNTERFACTUAL_METRIC, buildStatePacket, type EpochFigures, type StatePacketInput } from './loop/packet.js';
export { waitCommand, type WaitReason } from './loop/wait-command.js';
export { withDeadline, type DeadlineOutcome } from './loop/deadline.js';
export { learningRateAt, type LrSchedule } from './loop/lr-schedule.js';
export { CompiledModel, HOST_GROUP, seedGroup, type CompileOptions } from './loop/compiled-model.js';
export { evaluate, type Evaluation } from './loop/evaluate.js';
export { mlpHost, type MlpHostOptions } from './hosts/mlp.js';
export type { ClassifierHost } from './hosts/classifier.js';
export { checkDataset, selectSamples, type Dataset } from './data/dataset.js';
export { MNIST_FEATURES, MNIST_SIDE, loadMnist } from './data/mnist.js';
export {
  fitNormalisation,
  normalise,
  shuffledIndices,
  splitDataset,
  type DataSplit,
  type Normalisation,
  type SplitOptions,
} from './data/split.js';
export { BatchPlan, evaluationBatches, type BatchFeeds, type BatchPlanOptions, type Chunk } from './data/batches.js';
export { gaussianBlobs, type BlobsOptions } from './data/synthetic.js';
export {
  epochCheckpointPath,
  readCheckpoint,
  writeCheckpoint,
  type CheckpointInfo,
  type LoadedCheckpoint,
} from './checkpoint/epoch-checkpoint.js';
export { CheckpointError, DatasetError, TrainerUsageError } from './errors.js';
export {
  TOLARIA_AGGREGATION_MODES,
  TOLARIA_AGGREGATION_SCHEMES,
  TOLARIA_ATTRIBUTIONS,
  TOLARIA_LR_POLICIES,
  parseRebuildFence,
  tolariaConfigSchema,
  type TolariaAggregationMode,
  type TolariaAttribution,
  type TolariaConfig,
  type TolariaConfigInput,
  type TolariaLrPolicy,
} from './config.js';
