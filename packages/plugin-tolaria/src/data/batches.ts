import { Prng, parameterSeed, tensor, type TensorData } from '@esper/onnx';
import { DatasetError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { shuffledIndices } from './split.js';

/** One batch, or K batches stacked on a leading axis, as feeds of a host graph. */
export interface BatchFeeds {
  /** `[batch, features]` float32, or `[K, batch, features]` when stacked. */
  readonly inputs: TensorData<'float32'>;
  /** `[batch]` int64, or `[K, batch]` when stacked. */
  readonly labels: TensorData<'int64'>;
}

/** K stacked batches for one `stepMany` run. */
export interface Chunk extends BatchFeeds {
  /** Number of batches (optimizer steps) in the chunk. */
  readonly steps: number;
  /** Samples in the chunk (`steps × batchSize`). */
  readonly samples: number;
}

/** Options of {@link BatchPlan}. */
export interface BatchPlanOptions {
  /** Samples per batch. */
  readonly batchSize: number;
  /** Seed of the per-epoch shuffles. */
  readonly seed: number;
}

/**
 * The training batches of every epoch: epoch `e` visits the samples in a seeded permutation
 * that depends only on the seed and `e` (so a resumed run sees the same order), in batches of
 * `batchSize`; a last partial batch is left out, so every step has the same shape.
 */
export class BatchPlan {
  readonly batchSize: number;
  private readonly seed: number;
  /** The arrays `chunks(…, { reuse: true })` writes into. */
  private reused: { inputs: Float32Array; labels: BigInt64Array } | undefined;

  constructor(
    readonly dataset: Dataset,
    options: BatchPlanOptions,
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new DatasetError(`batch size must be an integer >= 1, got ${options.batchSize}`);
    if (options.batchSize > dataset.size) throw new DatasetError(`batch size ${options.batchSize} is larger than the ${dataset.size} samples of "${dataset.name}": lower it or train on more samples`);
    this.batchSize = options.batchSize;
    this.seed = options.seed;
  }

  /** Optimizer steps (whole batches) per epoch. */
  get stepsPerEpoch(): number {
    return Math.floor(this.dataset.size / this.batchSize);
  }

  /** Sample order of epoch `epoch`. */
  order(epoch: number): Uint32Array {
    return shuffledIndices(this.dataset.size, new Prng(parameterSeed(this.seed, `tolaria/epoch-${epoch}`)));
  }

  /**
   * Epoch `epoch`'s batches in chunks of up to `k` stacked batches (the last chunk holds the
   * rest), written straight into the stacked buffers `stepMany` takes.
   *
   * With `reuse`, every chunk of the epoch is written into the same two arrays (the plan's own,
   * kept for the next epoch too), so an epoch allocates nothing: a chunk's `inputs` and `labels`
   * are then valid only until the next chunk is asked for. Tolaria's loop trains on each chunk
   * before asking for the next; without `reuse` (the default) each chunk has arrays of its own.
   */
  *chunks(epoch: number, k: number, options: { readonly reuse?: boolean } = {}): Generator<Chunk> {
    if (!Number.isInteger(k) || k < 1) throw new DatasetError(`steps per chunk must be an integer >= 1, got ${k}`);
    const order = this.order(epoch);
    const steps = this.stepsPerEpoch;
    for (let first = 0; first < steps; first += k) {
      const count = Math.min(k, steps - first);
      const { inputs, labels } = this.gather(order.subarray(first * this.batchSize, (first + count) * this.batchSize), options.reuse === true ? k : undefined);
      yield {
        inputs: tensor('float32', [count, this.batchSize, this.dataset.features], inputs),
        labels: tensor('int64', [count, this.batchSize], labels),
        steps: count,
        samples: count * this.batchSize,
      };
    }
  }

  /** Gathers `indices` into fresh arrays, or into the reused ones sized for `reuseSteps` batches. */
  private gather(indices: Uint32Array, reuseSteps?: number): { inputs: Float32Array; labels: BigInt64Array } {
    const f = this.dataset.features;
    let inputs: Float32Array;
    let labels: BigInt64Array;
    if (reuseSteps === undefined) {
      inputs = new Float32Array(indices.length * f);
      labels = new BigInt64Array(indices.length);
    } else {
      const rows = reuseSteps * this.batchSize;
      if (this.reused === undefined || this.reused.labels.length < rows) this.reused = { inputs: new Float32Array(rows * f), labels: new BigInt64Array(rows) };
      inputs = this.reused.inputs.subarray(0, indices.length * f);
      labels = this.reused.labels.subarray(0, indices.length);
    }
    for (let i = 0; i < indices.length; i++) {
      const j = indices[i] as number;
      inputs.set(this.dataset.inputs.subarray(j * f, (j + 1) * f), i * f);
      labels[i] = this.dataset.labels[j] as bigint;
    }
    return { inputs, labels };
  }
}

/**
 * A data set in consecutive batches of up to `batchSize` (the last one may be smaller), for
 * evaluation: the arrays are views, nothing is copied.
 */
export function* evaluationBatches(d: Dataset, batchSize: number): Generator<BatchFeeds & { readonly samples: number }> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DatasetError(`evaluation batch size must be an integer >= 1, got ${batchSize}`);
  for (let start = 0; start < d.size; start += batchSize) {
    const n = Math.min(batchSize, d.size - start);
    yield {
      inputs: tensor('float32', [n, d.features], d.inputs.subarray(start * d.features, (start + n) * d.features)),
      labels: tensor('int64', [n], d.labels.subarray(start, start + n)),
      samples: n,
    };
  }
}
