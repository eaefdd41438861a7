// Trains a 2-32-3 MLP on three Gaussian blobs with @esper/onnx, the way Tolaria drives a model
// between controller decisions: a training graph built from the forward graph, `stepMany`
// taking one epoch's batches in a single session.run, a forward-only evaluation graph that
// shares the trained parameters, and a checksummed checkpoint.
//
// Run: pnpm --filter @esper/example-train-mlp start   (options: --epochs N --seed N)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GraphBuilder, OnnxRuntime, Prng, Trainer, buildTrainingGraph, evaluationGraph, f32, i64, initParameters, loadCheckpoint, saveCheckpoint,
  softmaxCrossEntropy, stackBatches, toNumbers, type ParameterSet, type TensorData,
} from '@esper/onnx';

/** Options of {@link trainBlobs}. */
export interface TrainBlobsOptions {
  readonly epochs?: number;
  readonly batchesPerEpoch?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  /** Where the checkpoint goes (default: a fresh temporary folder). */
  readonly dir?: string;
  readonly log?: (line: string) => void;
}

/** What {@link trainBlobs} measured. */
export interface TrainBlobsResult {
  /** Mean training loss of each epoch. */
  readonly epochLosses: number[];
  /** Accuracy on held-out points, through the evaluation graph. */
  readonly accuracy: number;
  readonly checkpoint: string;
}

const CENTRES = [[2, 0], [-1, 1.7], [-1, -1.7]] as const;

function blobs(prng: Prng, n: number): { x: TensorData; labels: TensorData } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = Math.floor(prng.next() * 3);
    const [cx, cy] = CENTRES[c]!;
    xs.push(cx + 0.9 * prng.normal(), cy + 0.9 * prng.normal());
    ys.push(c);
  }
  return { x: f32([n, 2], xs), labels: i64([n], ys) };
}

function forward(params: ParameterSet) {
  const g = new GraphBuilder('blobs-mlp');
  const x = g.input('x', 'float32', ['batch', 2]);
  const labels = g.input('labels', 'int64', ['batch']);
  const p = (name: string) => g.param(name, params.get(name));
  const h = x.matmul(p('fc1.w')).add(p('fc1.b')).relu();
  const logits = h.matmul(p('fc2.w')).add(p('fc2.b'));
  g.output(logits, 'logits');
  g.output(softmaxCrossEntropy(logits, labels), 'loss');
  return g.build();
}

/** Trains the MLP and returns per-epoch losses, held-out accuracy and the checkpoint path. */
export async function trainBlobs(options: TrainBlobsOptions = {}): Promise<TrainBlobsResult> {
  const { epochs = 8, batchesPerEpoch = 16, batchSize = 32, seed = 7, log = () => {} } = options;
  const prng = new Prng(seed);
  const params = initParameters([
    { name: 'fc1.w', dims: [2, 32], init: { kind: 'kaiming' } },
    { name: 'fc1.b', dims: [32], init: { kind: 'zeros' } },
    { name: 'fc2.w', dims: [32, 3], init: { kind: 'xavier' } },
    { name: 'fc2.b', dims: [3], init: { kind: 'zeros' } },
  ], seed);
  const graph = forward(params);
  const spec = buildTrainingGraph(graph, { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 0.01 }, clipGradNorm: 5 });
  const runtime = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
  try {
    const trainer = await Trainer.create(runtime, spec, params);
    const epochLosses: number[] = [];
    for (let epoch = 0; epoch < epochs; epoch++) {
      // One epoch = one session.run: the batches are stacked on a leading axis.
      const batches = Array.from({ length: batchesPerEpoch }, () => blobs(prng, batchSize));
      const lr = 0.01 * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)); // cosine schedule, per epoch
      const steps = await trainer.stepMany(stackBatches(batches), lr);
      const mean = steps.reduce((s, r) => s + r.loss, 0) / steps.length;
      epochLosses.push(mean);
      log(`epoch ${epoch + 1}: ${steps.length} steps in one run, mean loss ${mean.toFixed(4)}, last grad norm ${steps.at(-1)!.gradNorms.global!.toFixed(3)}`);
    }

    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'esper-train-mlp-'));
    const checkpoint = join(dir, 'blobs-mlp.ckpt');
    await saveCheckpoint(checkpoint, trainer.parameters, { epochs: String(epochs) });
    await trainer.dispose();

    // Evaluate the checkpointed parameters through the forward-only graph.
    const restored = (await loadCheckpoint(checkpoint)).parameters;
    const evalSession = await runtime.createSession(evaluationGraph(graph));
    const test = blobs(prng, 300);
    const out = await evalSession.run({ ...test, ...restored.toFeeds() });
    const logits = toNumbers(out.logits!);
    const labels = toNumbers(test.labels);
    const correct = labels.filter((c, i) => {
      const row = logits.slice(3 * i, 3 * i + 3);
      return row.indexOf(Math.max(...row)) === c;
    }).length;
    const accuracy = correct / labels.length;
    log(`held-out accuracy ${(100 * accuracy).toFixed(1)} %, checkpoint ${checkpoint}`);
    return { epochLosses, accuracy, checkpoint };
  } finally {
    await runtime.dispose();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const epochs = arg('--epochs');
  const seed = arg('--seed');
  await trainBlobs({ ...(epochs === undefined ? {} : { epochs }), ...(seed === undefined ? {} : { seed }), log: console.log });
}
