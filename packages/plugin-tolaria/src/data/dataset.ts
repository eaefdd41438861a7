import { DatasetError } from '../errors.js';

/**
 * A classification data set held in memory: `size` samples of `features` float32 values each
 * (row-major in {@link Dataset.inputs}) and one class index per sample (int64, as the host's
 * softmax cross-entropy wants it).
 */
export interface Dataset {
  /** Where the samples come from (`mnist`, `blobs`), for logs and telemetry. */
  readonly name: string;
  /** Values per sample (784 for MNIST). */
  readonly features: number;
  /** Number of classes; labels are in `[0, classes)`. */
  readonly classes: number;
  /** Number of samples. */
  readonly size: number;
  /** `size × features` values, sample after sample. */
  readonly inputs: Float32Array;
  /** `size` class indices. */
  readonly labels: BigInt64Array;
}

/**
 * Checks that a data set is consistent (array lengths, label range) and returns it.
 *
 * @throws DatasetError (`ESPER_TOLARIA_DATASET`) naming what does not fit.
 */
export function checkDataset(d: Dataset): Dataset {
  if (!Number.isInteger(d.features) || d.features < 1) throw new DatasetError(`data set "${d.name}" has ${d.features} features per sample; it needs at least 1`);
  if (!Number.isInteger(d.classes) || d.classes < 2) throw new DatasetError(`data set "${d.name}" has ${d.classes} classes; a classifier needs at least 2`);
  if (d.inputs.length !== d.size * d.features) throw new DatasetError(`data set "${d.name}" holds ${d.inputs.length} input values for ${d.size} samples of ${d.features}`);
  if (d.labels.length !== d.size) throw new DatasetError(`data set "${d.name}" holds ${d.labels.length} labels for ${d.size} samples`);
  for (const y of d.labels) {
    if (y < 0n || y >= BigInt(d.classes)) throw new DatasetError(`data set "${d.name}" has label ${y}, outside [0, ${d.classes})`);
  }
  return d;
}

/** The samples at `indices`, in that order, copied into a new data set. */
export function selectSamples(d: Dataset, indices: ArrayLike<number>, name = d.name): Dataset {
  const n = indices.length;
  const inputs = new Float32Array(n * d.features);
  const labels = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i] as number;
    if (!(j >= 0 && j < d.size)) throw new DatasetError(`sample index ${j} is outside data set "${d.name}" of ${d.size} samples`);
    inputs.set(d.inputs.subarray(j * d.features, (j + 1) * d.features), i * d.features);
    labels[i] = d.labels[j] as bigint;
  }
  return { name, features: d.features, classes: d.classes, size: n, inputs, labels };
}
