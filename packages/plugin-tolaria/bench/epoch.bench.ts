// Milliseconds per epoch of the default MNIST host (784-128-128-10, 8 000 training and 2 000
// validation digits, batch 64, Adam) through Tolaria's epoch loop, for several K (steps per
// stepMany run), with a host-only executor and a controller that always waits. Prints each K's
// epoch time (training, evaluation), samples/s and validation accuracy, and the ratio to K = 1.
//
// Run: pnpm bench epoch [-- --epochs 3 --k 1,5,25,125 --threads 2 --progress --nice 10]
//   --progress  print every epoch's time and samples/s as it ends (the decision benchmark's trainer)
//   --nice N    lower this process's CPU priority first, as `run.nice: N` does for `esper run`
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { lowerProcessPriority, type CommandOutcome, type ComposedModel, type Controller, type HostModel, type SeedExecutor } from '@esper/core';
import { AdaptationCommandSchema, CommandType, type AdaptationCommand } from '@esper/core/leyline';
import { TolariaTrainer, prepareTask, trainingOptionsSchema } from '../src/index.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const epochs = Number(arg('epochs', '3'));
const ks = arg('k', '1,5,25,125').split(',').map(Number);
const threads = Number(arg('threads', '2'));
const progress = process.argv.includes('--progress');
const nice = Number(arg('nice', '0'));
if (nice > 0) {
  const r = lowerProcessPriority(nice);
  console.log(`run.nice ${nice}: ${r.lowered} thread(s) lowered${r.failed.length > 0 ? `, ${r.failed.length} failed (${r.failed.map((f) => f.reason).join(', ')})` : ''}`);
}

/** Attaches the host and never grafts: the loop's cost without seeds. */
class HostOnly implements SeedExecutor {
  private host: HostModel | undefined;
  readonly topologyVersion = 0;
  async applyCommand(c: AdaptationCommand): Promise<CommandOutcome> {
    return { applied: true, commandId: c.commandId };
  }
  exportSeedStates() {
    return [];
  }
  advanceAlpha() {}
  finalizeStep() {}
  updateEpoch() {}
  attachHost(host: HostModel) {
    this.host = host;
  }
  compose(): ComposedModel {
    return { graph: (this.host as HostModel).graph, topologyVersion: 0, controlInputs: [], seedParameters: {} };
  }
  controlFeeds() {
    return {};
  }
  observeSteps() {}
}

const waitController: Controller = {
  evaluateStep: async () => create(AdaptationCommandSchema, { commandType: CommandType.COMMAND_PAUSE }),
  evaluateEpoch: async () => create(AdaptationCommandSchema, { commandType: CommandType.COMMAND_PAUSE, annotations: { decision: 'wait' } }),
  ingestPolicyUpdate: async () => ({ accepted: false, reason: 'bench' }),
  flush: async () => true,
};

const t0 = performance.now();
const task = prepareTask({ dataset: { name: 'mnist', validationSize: 2_000, normalise: true }, host: { hidden: [128, 128] } }, 42);
console.log(`MNIST loaded, split and normalised in ${(performance.now() - t0).toFixed(0)} ms (${task.train.size} train, ${task.validation.size} validation)`);
console.log(`${epochs} epochs per K, ${threads} intra-op threads, batch 64, Adam lr 1e-3; epoch 0 includes compiling`);

let baseline: number | undefined;
for (const k of ks) {
  const trainer = new TolariaTrainer(
    {
      maxEpochs: epochs,
      training: trainingOptionsSchema.parse({ stepsPerRun: k, intraOpThreads: threads }),
      lr: { policy: 'off', warmupSteps: 0, cosineTMaxSteps: 10_000, stepSizeEpochs: 10, stepGamma: 0.5 },
      controllerTimeoutMs: 2_000,
      checkpointDir: mkdtempSync(join(tmpdir(), 'tolaria-bench-')),
    },
    { run: { runId: `bench-k${k}`, name: 'bench', seed: 42 }, executor: new HostOnly(), controller: waitController, task },
  );
  const walls: number[] = [];
  let accuracy = 0;
  let samplesPerS = 0;
  for await (const p of trainer.run()) {
    walls.push(p.trainingMetrics.epoch_wall_ms!);
    accuracy = p.validationAccuracy;
    samplesPerS = p.trainingMetrics.samples_per_s!;
    if (progress) console.log(`epoch ${walls.length - 1}: ${walls.at(-1)!.toFixed(0)} ms, ${samplesPerS.toFixed(0)} samples/s`);
  }
  await trainer.dispose();
  const steady = walls.length > 1 ? walls.slice(1) : walls;
  const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
  baseline ??= mean;
  console.log(
    `K=${String(k).padStart(4)}: ${mean.toFixed(0).padStart(5)} ms/epoch after the first (first ${walls[0]!.toFixed(0)} ms), ` +
      `${samplesPerS.toFixed(0)} samples/s, validation ${accuracy.toFixed(2)} %, ${(baseline / mean).toFixed(2)}x K=${ks[0]}`,
  );
}
