import type { Dataset } from '../data/dataset.js';
import { loadMnist } from '../data/mnist.js';
import { fitNormalisation, normalise, splitDataset } from '../data/split.js';
import { gaussianBlobs } from '../data/synthetic.js';
import type { ClassifierHost } from '../hosts/classifier.js';
import { mlpHost } from '../hosts/mlp.js';
import type { DatasetOptions, HostOptions } from './options.js';

/** What the epoch loop trains: a host and its training and validation data. */
export interface TrainingTask {
  readonly host: ClassifierHost;
  readonly train: Dataset;
  readonly validation: Dataset;
}

/** Training samples of the `blobs` data set when `trainSize` is unset. */
export const BLOBS_DEFAULT_TRAIN_SIZE = 2_048;

/**
 * Builds the task the options describe, deterministically for `seed`: loads the data set
 * (MNIST from the installed `mnist` package, or Gaussian blobs), splits it with a seeded
 * shuffle, standardises the inputs with the training split's statistics, and makes the MLP host
 * with one seed slot per hidden layer.
 *
 * @throws DatasetError when the data cannot be loaded or split as asked.
 */
export function prepareTask(options: { readonly dataset: DatasetOptions; readonly host: HostOptions }, seed: number): TrainingTask {
  const { dataset } = options;
  const all =
    dataset.name === 'mnist'
      ? loadMnist()
      : gaussianBlobs({ size: (dataset.trainSize ?? BLOBS_DEFAULT_TRAIN_SIZE) + dataset.validationSize, seed });
  let { train, validation } = splitDataset(all, { validationSize: dataset.validationSize, trainSize: dataset.trainSize, seed });
  if (dataset.normalise) {
    const n = fitNormalisation(train);
    train = normalise(train, n);
    validation = normalise(validation, n);
  }
  const host = mlpHost({ features: all.features, classes: all.classes, hidden: options.host.hidden, seed });
  return { host, train, validation };
}
