import { Prng, parameterSeed } from '@esper/onnx';
import { checkDataset, type Dataset } from './dataset.js';

/** Options of {@link gaussianBlobs}. */
export interface BlobsOptions {
  /** Samples to draw. */
  readonly size: number;
  /** Values per sample. Default 16. */
  readonly features?: number;
  /** Classes (one blob each). Default 4. */
  readonly classes?: number;
  /** Standard deviation of each blob around its centre (centres are standard normal). Default 0.6. */
  readonly spread?: number;
  readonly seed: number;
}

/**
 * A small synthetic classification task for fast tests: one Gaussian blob per class around a
 * random centre. Classes are drawn uniformly; the same options give the same samples. With the
 * default spread a small MLP separates them well within a few hundred steps.
 */
export function gaussianBlobs(options: BlobsOptions): Dataset {
  const { size, features = 16, classes = 4, spread = 0.6, seed } = options;
  const centres = new Prng(parameterSeed(seed, 'blobs/centres'));
  const centre = Array.from({ length: classes }, () => Array.from({ length: features }, () => centres.normal()));
  const prng = new Prng(parameterSeed(seed, 'blobs/samples'));
  const inputs = new Float32Array(size * features);
  const labels = new BigInt64Array(size);
  for (let i = 0; i < size; i++) {
    const c = prng.int(classes);
    labels[i] = BigInt(c);
    const mu = centre[c] as number[];
    for (let f = 0; f < features; f++) inputs[i * features + f] = (mu[f] as number) + spread * prng.normal();
  }
  return checkDataset({ name: 'blobs', features, classes, size, inputs, labels });
}
