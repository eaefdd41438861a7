import { Prng, parameterSeed } from '@esper/onnx';
import { DatasetError } from '../errors.js';
import { selectSamples, type Dataset } from './dataset.js';

/**
 * A seeded random permutation of `0 … n−1` (Fisher–Yates with `@esper/onnx`'s `Prng`): the same
 * seed gives the same order on every machine.
 */
export function shuffledIndices(n: number, prng: Prng): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return order;
}

/** Options of {@link splitDataset}. */
export interface SplitOptions {
  /** Samples held out for validation. */
  readonly validationSize: number;
  /** Samples kept for training; default: all the others. */
  readonly trainSize?: number | undefined;
  /** Seed of the shuffle that decides which samples go where. */
  readonly seed: number;
}

/** A training and a validation set with no sample in common. */
export interface DataSplit {
  readonly train: Dataset;
  readonly validation: Dataset;
}

/**
 * Shuffles `d` with a seeded permutation and cuts it into a validation set (the first
 * `validationSize` samples of the permutation) and a training set (the next `trainSize`).
 *
 * @throws DatasetError when the two sizes add up to more samples than `d` has, or one is < 1.
 */
export function splitDataset(d: Dataset, options: SplitOptions): DataSplit {
  const validation = options.validationSize;
  const train = options.trainSize ?? d.size - validation;
  if (!Number.isInteger(validation) || validation < 1 || !Number.isInteger(train) || train < 1 || validation + train > d.size) {
    throw new DatasetError(`cannot split ${d.size} samples of "${d.name}" into ${train} for training and ${validation} for validation: lower trainSize or validationSize`);
  }
  const order = shuffledIndices(d.size, new Prng(parameterSeed(options.seed, 'tolaria/split')));
  return {
    validation: selectSamples(d, order.subarray(0, validation), `${d.name}/validation`),
    train: selectSamples(d, order.subarray(validation, validation + train), `${d.name}/train`),
  };
}

/** Mean and standard deviation of all input values, to standardise inputs. */
export interface Normalisation {
  readonly mean: number;
  readonly std: number;
}

/** The mean and standard deviation of every input value of `d` (fit on the training set only). */
export function fitNormalisation(d: Dataset): Normalisation {
  let sum = 0;
  let sq = 0;
  for (const v of d.inputs) {
    sum += v;
    sq += v * v;
  }
  const n = d.inputs.length;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sq / n - mean * mean));
  return { mean, std: std > 0 ? std : 1 };
}

/** A copy of `d` with every input value standardised: `(x − mean) / std`. */
export function normalise(d: Dataset, n: Normalisation): Dataset {
  const inputs = new Float32Array(d.inputs.length);
  const scale = 1 / n.std;
  for (let i = 0; i < inputs.length; i++) inputs[i] = ((d.inputs[i] as number) - n.mean) * scale;
  return { ...d, inputs };
}
