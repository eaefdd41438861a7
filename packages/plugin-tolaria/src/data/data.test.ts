import { Prng } from '@esper/onnx';
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../errors.js';
import { BatchPlan, evaluationBatches } from './batches.js';
import { loadMnist, MNIST_FEATURES } from './mnist.js';
import { fitNormalisation, normalise, shuffledIndices, splitDataset } from './split.js';
import { gaussianBlobs } from './synthetic.js';

const bytes = (a: Float32Array | BigInt64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
/** Byte equality of two typed arrays (deep equality of millions of elements is slow in vitest). */
const same = (a: Float32Array | BigInt64Array, b: Float32Array | BigInt64Array) => bytes(a).equals(bytes(b));

describe('MNIST from the installed `mnist` package', () => {
  const mnist = loadMnist();

  it('holds the 10 000 real digits it ships: 28×28 grey levels in [0, 1], every class present', () => {
    expect(mnist.size).toBe(10_000);
    expect(mnist.features).toBe(MNIST_FEATURES);
    expect(mnist.inputs.length).toBe(10_000 * 784);
    let min = Infinity;
    let max = -Infinity;
    for (const v of mnist.inputs) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    const perClass = new Array<number>(10).fill(0);
    for (const y of mnist.labels) perClass[Number(y)]! += 1;
    expect(perClass).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    // A digit is mostly background with a stroke: about a fifth of the pixels are lit.
    const lit = mnist.inputs.subarray(0, 784).filter((v) => v > 0.5).length;
    expect(lit).toBeGreaterThan(50);
    expect(lit).toBeLessThan(400);
    expect(loadMnist()).toBe(mnist);
  });

  it('splits with a seeded shuffle: disjoint, deterministic per seed, different across seeds', () => {
    const a = splitDataset(mnist, { validationSize: 2_000, seed: 1 });
    const b = splitDataset(mnist, { validationSize: 2_000, seed: 1 });
    const c = splitDataset(mnist, { validationSize: 2_000, seed: 2 });
    expect([a.train.size, a.validation.size]).toEqual([8_000, 2_000]);
    expect(same(a.train.inputs, b.train.inputs)).toBe(true);
    expect(same(a.validation.labels, b.validation.labels)).toBe(true);
    expect(same(a.validation.labels, c.validation.labels)).toBe(false);
    // Shuffled, not in the package's class order: the first 100 validation labels mix classes.
    expect(new Set(Array.from(a.validation.labels.subarray(0, 100))).size).toBe(10);
    // No sample is in both (images compared by content; MNIST has a few duplicate images).
    const key = (d: typeof mnist, i: number) => bytes(d.inputs.subarray(i * 784, (i + 1) * 784)).toString('base64');
    const seen = new Set(Array.from({ length: a.train.size }, (_, i) => key(a.train, i)));
    let shared = 0;
    for (let i = 0; i < a.validation.size; i++) if (seen.has(key(a.validation, i))) shared++;
    expect(shared).toBeLessThan(5);
    expect(() => splitDataset(mnist, { validationSize: 2_000, trainSize: 9_000, seed: 1 })).toThrow(DatasetError);
  });

  it('normalises with the training split statistics: mean 0, standard deviation 1', () => {
    const { train, validation } = splitDataset(mnist, { validationSize: 1_000, trainSize: 3_000, seed: 4 });
    const n = fitNormalisation(train);
    expect(n.mean).toBeGreaterThan(0.1);
    expect(n.mean).toBeLessThan(0.15);
    expect(n.std).toBeGreaterThan(0.28);
    expect(n.std).toBeLessThan(0.34);
    const z = fitNormalisation(normalise(train, n));
    expect(z.mean).toBeCloseTo(0, 4);
    expect(z.std).toBeCloseTo(1, 4);
    expect(normalise(validation, n).inputs[0]).toBeCloseTo((validation.inputs[0]! - n.mean) / n.std, 5);
  });
});

describe('batches', () => {
  const data = gaussianBlobs({ size: 100, features: 3, classes: 2, seed: 9 });

  it('cuts each epoch into seeded chunks of K stacked batches, dropping the partial batch', () => {
    const plan = new BatchPlan(data, { batchSize: 8, seed: 5 });
    expect(plan.stepsPerEpoch).toBe(12);
    const chunks = [...plan.chunks(0, 5)];
    expect(chunks.map((c) => c.steps)).toEqual([5, 5, 2]);
    expect(chunks[0]!.inputs.dims).toEqual([5, 8, 3]);
    expect(chunks[0]!.labels.dims).toEqual([5, 8]);
    expect(chunks.reduce((n, c) => n + c.samples, 0)).toBe(96);
    // The first stacked sample is the first sample of the epoch's permutation.
    const first = plan.order(0)[0]!;
    expect(Array.from(chunks[0]!.inputs.data.subarray(0, 3))).toEqual(Array.from(data.inputs.subarray(first * 3, first * 3 + 3)));
    expect(chunks[0]!.labels.data[0]).toBe(data.labels[first]);
    // Same seed and epoch: same batches; another epoch: another order.
    expect(same([...new BatchPlan(data, { batchSize: 8, seed: 5 }).chunks(0, 5)][1]!.inputs.data, chunks[1]!.inputs.data)).toBe(true);
    expect(plan.order(1)).not.toEqual(plan.order(0));
    expect([...plan.order(1)].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(() => new BatchPlan(data, { batchSize: 101, seed: 5 })).toThrow(DatasetError);
  });

  it('with reuse, writes every chunk into the same arrays, with the same contents as fresh chunks', () => {
    const plan = new BatchPlan(data, { batchSize: 8, seed: 5 });
    const fresh = [...new BatchPlan(data, { batchSize: 8, seed: 5 }).chunks(1, 5)];
    const buffers = new Set<ArrayBufferLike>();
    let i = 0;
    for (const chunk of plan.chunks(1, 5, { reuse: true })) {
      // Read each chunk before asking for the next, as the loop does.
      const want = fresh[i++]!;
      expect(chunk.steps).toBe(want.steps);
      expect(chunk.inputs.dims).toEqual(want.inputs.dims);
      expect(chunk.inputs.data.length).toBe(want.inputs.data.length); // the last (2-step) chunk is a view of its size
      expect(same(chunk.inputs.data, want.inputs.data)).toBe(true);
      expect(Array.from(chunk.labels.data)).toEqual(Array.from(want.labels.data));
      buffers.add(chunk.inputs.data.buffer);
    }
    expect(i).toBe(3);
    expect(buffers.size).toBe(1);
    // The next epoch reuses them too.
    const next = plan.chunks(2, 5, { reuse: true }).next().value!;
    expect(buffers.has(next.inputs.data.buffer)).toBe(true);
  });

  it('evaluates in consecutive batches that cover every sample', () => {
    const batches = [...evaluationBatches(data, 32)];
    expect(batches.map((b) => b.samples)).toEqual([32, 32, 32, 4]);
    expect(batches[3]!.inputs.dims).toEqual([4, 3]);
  });

  it('shuffles with a seeded Fisher–Yates permutation', () => {
    const p = shuffledIndices(10, new Prng(1));
    expect([...p].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffledIndices(10, new Prng(1))).toEqual(p);
  });

  it('draws the same blobs for the same seed', () => {
    expect(same(gaussianBlobs({ size: 100, features: 3, classes: 2, seed: 9 }).inputs, data.inputs)).toBe(true);
    expect(new Set(Array.from(data.labels)).size).toBe(2);
  });
});
