// Decision latency of Tamiyo's GNN controller at the reference's model size (13 953 971
// parameters): graph build + packing + inference + decoding + signing, i.e. what
// `evaluateStep` costs, for 1, 4 and 16 seeds, p50 and p99, next to the 5 ms step budget
// (TAMIYO_STEP_TIMEOUT_MS). Also the inference alone and the builder + packing alone.
//
// Run: pnpm bench decision [-- --runs 300 --threads 1 --no-worker --trainer --devices webgpu,cpu]
//   --threads N          ONNX Runtime intra-op threads of the policy (default 1)
//   --no-worker          run inference on the main thread instead of the worker (no abandonable deadline)
//   --trainer            run Tolaria's epoch benchmark (MNIST MLP training) in a child process meanwhile
//   --trainer-threads N  intra-op threads of that trainer (default 1)
//   --trainer-nice N     that trainer lowers its CPU priority to niceness N first, as `run.nice: N`
//                        does for `esper run` (every thread of it; default 0; decision 0067)
//   --devices LIST       the policy's device fallback order (default cpu; P7: webgpu, cuda)
//   --realtime           SCHED_FIFO for the inference worker and this (main) thread, as
//                        tamiyo.gnn.realtime does for `esper serve` (Linux; CAP_SYS_NICE)
//   --precision LIST     policy precisions to measure, one table each (default fp32,int8: the
//                        reference's float32 and tamiyo.gnn.precision int8; decision 0067)
// On the GPU machine: bash packages/plugin-tamiyo/bench/device-bundle.sh here, then carry
// .device/node and run `bash .device/node/run-tamiyo.sh && taskset -c 0,1 /tmp/node/node
// .device/node/decision.mjs --trainer` (taskset: the 2-core figure of the issue's goal).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { LeylineSigner, SystemClock, setThreadRealtime } from '@esper/core';
import { SeedStateSchema, SystemStatePacketSchema, type SystemStatePacket } from '@esper/core/leyline';
import { OnnxPolicyBackend, GnnController, PackScratch, type PolicyDevice, PolicyGraphBuilder, hmacCommandSigning, initPolicyWeights, packGraph, policyParameterCount, POLICY_PRECISIONS, type PolicyPrecision, warmUpGraph } from '../src/index.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const runs = Number(arg('runs', '300'));
const threads = Number(arg('threads', '1'));
const worker = !process.argv.includes('--no-worker');
const withTrainer = process.argv.includes('--trainer');
const trainerThreads = arg('trainer-threads', '1');
const trainerNice = Number(arg('trainer-nice', '0'));
const devices = arg('devices', 'cpu').split(',') as PolicyDevice[];
const realtime = process.argv.includes('--realtime');
const precisions = arg('precision', 'fp32,int8').split(',') as PolicyPrecision[];
for (const p of precisions) if (!(POLICY_PRECISIONS as readonly string[]).includes(p)) throw new Error(`--precision takes ${POLICY_PRECISIONS.join(', ')} (comma-separated), got ${p}`);
const BUDGET_MS = 5;

function packet(seeds: number, step: number): SystemStatePacket {
  return create(SystemStatePacketSchema, {
    version: 1,
    currentEpoch: 3 + (step % 5),
    globalStep: BigInt(1000 + step),
    validationLoss: 0.3 + 0.01 * (step % 7),
    trainingLoss: 0.35,
    trainingRunId: 'bench',
    packetId: `bench-step-${step}`,
    trainingMetrics: { val_loss: 0.3, train_loss: 0.35, grad_norm: 1.2, samples_per_s: 40_000, epochs_total: 10 },
    seedStates: Array.from({ length: seeds }, (_, i) =>
      create(SeedStateSchema, { seedId: `slot${i}`, stage: 1 + ((i + step) % 6), layerDepth: 1 + (i % 3), learningRate: 1e-3, gradientNorm: 0.5, ageEpochs: i }),
    ),
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
const fmt = (v: number) => v.toFixed(2).padStart(7);

async function main(): Promise<void> {
  let trainer: ReturnType<typeof spawn> | undefined;
  let trainerLines = '';
  if (withTrainer) {
    // From source (pnpm bench) the trainer is the tsx-run epoch benchmark; from the device bundle, epoch.mjs beside this file.
    const bundled = !import.meta.url.endsWith('.ts');
    const args = ['--epochs', '200', '--k', '25', '--threads', trainerThreads, '--progress', ...(trainerNice !== 0 ? ['--nice', String(trainerNice)] : [])];
    const command = bundled
      ? [process.execPath, join(import.meta.dirname, 'epoch.mjs'), ...args]
      : [process.execPath, '--conditions=@esper/source', '--import', 'tsx', 'packages/plugin-tolaria/bench/epoch.bench.ts', ...args];
    const [file, ...rest] = command;
    trainer = spawn(file as string, rest, { cwd: join(import.meta.dirname, '..', '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    trainer.stdout?.on('data', (chunk: Buffer) => (trainerLines += chunk.toString()));
    // Let it load MNIST and start training: its first epoch line says it is.
    for (let i = 0; i < 600 && !trainerLines.includes('epoch 0:'); i++) await new Promise((r) => setTimeout(r, 100));
    const niceLine = trainerLines.split('\n').find((l) => l.startsWith('run.nice'));
    if (niceLine !== undefined) console.log(`trainer: ${niceLine}`);
  }
  const weights = initPolicyWeights(42);
  if (realtime) {
    const rt = setThreadRealtime(1);
    console.log(`main thread: ${rt.applied ? 'SCHED_FIFO' : `normal priority (${rt.reason})`}`);
  }
  for (const precision of precisions) await measure(weights, precision);
  if (trainer !== undefined) {
    trainer.kill();
    const lines = trainerLines.trim().split('\n');
    const epochsDone = lines.filter((l) => l.startsWith('epoch ')).length;
    console.log(`\ntrainer beside it: ${epochsDone} epochs done; last: ${lines.at(-1) ?? ''}`);
  }
}

/** One table: the controller at `precision`, 1, 4 and 16 seeds. */
async function measure(weights: ReturnType<typeof initPolicyWeights>, precision: PolicyPrecision): Promise<void> {
  const t0 = performance.now();
  const backend = new OnnxPolicyBackend({ devices, threads, worker, warmUpFeeds: packGraph(warmUpGraph()), ...(realtime ? { realtimePriority: 1 } : {}) });
  const controller = await GnnController.create({
    weights,
    precision,
    backend,
    signer: hmacCommandSigning(new LeylineSigner('bench-secret'), new SystemClock()),
    blueprints: ['BP001'],
    stepTimeoutMs: 0,
  });
  console.log(
    `\nGNN policy: ${policyParameterCount().toLocaleString('en')} parameters, loaded in ${(performance.now() - t0).toFixed(0)} ms ` +
      `(warm-up ${controller.session.warmUpMs.toFixed(1)} ms) on ${controller.session.device} (asked: ${devices.join(', ')}), ${precision}, ${threads} ORT thread(s), ${worker ? 'worker thread' : 'main thread'}${withTrainer ? `, Tolaria training beside it (${trainerThreads} thread(s)${trainerNice !== 0 ? `, nice ${trainerNice}` : ''})` : ''}`,
  );
  if (realtime) console.log(`inference worker: ${controller.session.realtime?.applied === true ? 'SCHED_FIFO' : `normal priority (${controller.session.realtime?.applied === false ? controller.session.realtime.reason : 'in-thread runner'})`}`);
  console.log(`budget ${BUDGET_MS} ms (TAMIYO_STEP_TIMEOUT_MS default); ${runs} decisions per row after 20 warm-up decisions`);
  console.log('seeds | decision p50    p99 |  inference p50    p99 | build+pack p50    p99 | p99 ≤ budget');
  for (const seeds of [1, 4, 16]) {
    const decision: number[] = [];
    const inference: number[] = [];
    const build: number[] = [];
    const builder = new PolicyGraphBuilder();
    // Reused feed buffers, as the controller's (each run below settles before the next pack).
    const scratch = new PackScratch();
    for (let i = 0; i < runs + 20; i++) {
      const p = packet(seeds, i);
      let s = performance.now();
      await controller.evaluateStep(p);
      const d = performance.now() - s;
      s = performance.now();
      const feeds = packGraph(builder.build(p, 'BP001'), undefined, scratch);
      const b = performance.now() - s;
      s = performance.now();
      await controller.session.runFeeds(feeds);
      const n = performance.now() - s;
      if (i >= 20) {
        decision.push(d);
        build.push(b);
        inference.push(n);
      }
    }
    for (const a of [decision, inference, build]) a.sort((x, y) => x - y);
    const p99 = quantile(decision, 0.99);
    console.log(
      `${String(seeds).padStart(5)} | ${fmt(quantile(decision, 0.5))} ${fmt(p99)} | ${fmt(quantile(inference, 0.5))} ${fmt(quantile(inference, 0.99))} | ${fmt(quantile(build, 0.5))} ${fmt(quantile(build, 0.99))} | ${p99 <= BUDGET_MS ? 'yes' : `no (${(p99 / BUDGET_MS).toFixed(1)}×)`}`,
    );
  }
  await controller.dispose();
}

await main();
