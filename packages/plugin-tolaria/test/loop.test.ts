// The epoch loop through its public surface, on Gaussian blobs, with the in-test executor and
// controllers of fixtures.ts.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, type EsperEvents, type LifecycleEmitter, type Telemetry } from '@esper/core';
import { CommandType, type TelemetryPacket } from '@esper/core/leyline';
import { describe, expect, it } from 'vitest';
import {
  COUNTERFACTUAL_METRIC, TolariaTrainer, prepareTask, readCheckpoint, trainingOptionsSchema, type TolariaTrainerDeps, type TolariaTrainerSettings,
  type TrainingTask,
} from '../src/index.js';
import { ScriptedController, TestExecutor, germinate, hangingController, wait } from './fixtures.js';

const blobsTask = (seed = 3): TrainingTask =>
  prepareTask({ dataset: { name: 'blobs', validationSize: 256, trainSize: 1024, normalise: true }, host: { hidden: [32, 32] } }, seed);

function settings(over: Partial<TolariaTrainerSettings> = {}): TolariaTrainerSettings {
  return {
    maxEpochs: 3,
    training: trainingOptionsSchema.parse({ batchSize: 32, stepsPerRun: 8, learningRate: 0.01, intraOpThreads: 1 }),
    lr: { policy: 'off', warmupSteps: 0, cosineTMaxSteps: 10_000, stepSizeEpochs: 10, stepGamma: 0.5 },
    controllerTimeoutMs: 2_000,
    checkpointDir: mkdtempSync(join(tmpdir(), 'tolaria-test-')),
    ...over,
  };
}

/** Records every event the trainer sends, in order. */
function recorder() {
  const log: { event: string; payload: unknown }[] = [];
  const telemetry: TelemetryPacket[] = [];
  const lifecycle: LifecycleEmitter = {
    async emit(event, payload) {
      log.push({ event, payload });
    },
  };
  const events = {
    emit<E extends keyof EsperEvents>(event: E, payload: EsperEvents[E]) {
      log.push({ event, payload });
    },
  };
  const sink: Telemetry = {
    async emit(packet) {
      telemetry.push(packet);
    },
    async flush() {},
  };
  return { log, telemetry, deps: { lifecycle, events, telemetry: sink } };
}

function trainer(s: TolariaTrainerSettings, deps: Partial<TolariaTrainerDeps> & Pick<TolariaTrainerDeps, 'executor' | 'controller'>) {
  return new TolariaTrainer(s, { run: { runId: 'run-1', name: 'test', seed: 3 }, task: blobsTask(), ...deps });
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('the epoch loop', () => {
  it('trains: validation accuracy rises; one packet per epoch with the fields the controller reads; events, checkpoints, metrics', async () => {
    const executor = new TestExecutor();
    const controller = new ScriptedController();
    const clock = new ManualClock(1_767_225_600_000);
    const rec = recorder();
    const s = settings();
    const t = trainer(s, { executor, controller, clock, ...rec.deps });
    const packets = await collect(t.run());
    await t.dispose();

    expect(packets.map((p) => p.currentEpoch)).toEqual([0, 1, 2]);
    const acc = packets.map((p) => p.validationAccuracy);
    expect(acc[2]!).toBeGreaterThan(90);
    expect(acc[2]!).toBeGreaterThanOrEqual(acc[0]!);
    const last = packets[2]!;
    expect(last.packetId).toBe('run-1-epoch-2');
    expect(last.trainingRunId).toBe('run-1');
    expect(last.experimentName).toBe('test');
    expect(last.sourceSubsystem).toBe('tolaria');
    expect(last.globalStep).toBe(96n); // 1024 / 32 = 32 steps per epoch
    expect(last.timestampNs).toBe(1_767_225_600_000n * 1_000_000n);
    expect(Object.keys(last.trainingMetrics).sort()).toEqual(
      ['epoch_wall_ms', 'grad_norm', 'lr', 'parameters', 'samples_per_s', 'train_accuracy', 'train_loss', 'val_accuracy', 'val_loss'].sort(),
    );
    expect(last.trainingMetrics.val_accuracy).toBe(last.validationAccuracy);
    expect(last.trainingMetrics.lr).toBeCloseTo(0.01, 8);
    expect(last.trainingMetrics.parameters).toBe(16 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4);
    expect(last.trainingLoss).toBeLessThan(packets[0]!.trainingLoss);
    // The executor's seeds, DORMANT ones included, in the packet.
    expect(last.seedStates.map((x) => x.seedId)).toEqual(['hidden1', 'hidden2']);

    // The executor saw the host once, every epoch boundary and every chunk of K = 8 steps.
    expect(executor.epochs).toEqual([0, 1, 2]);
    expect(executor.observations).toHaveLength(12);
    expect(executor.observations.map((o) => o.globalStep).slice(0, 4)).toEqual([8, 16, 24, 32]);
    expect(executor.observations.every((o) => o.steps === 8 && o.hostGradNorm > 0 && Object.keys(o.seedGradNorms).length === 0)).toBe(true);
    expect(executor.commands).toHaveLength(3);

    // Lifecycle and bus, in order, for one epoch.
    const names = rec.log.map((e) => e.event);
    expect(names.slice(0, 9)).toEqual(['epoch:start', 'step:end', 'step:end', 'step:end', 'step:end', 'epoch:end', 'command:issued', 'command:applied', 'epoch:start']);
    expect(names.at(-1)).toBe('run:end');
    expect(rec.log.at(-1)!.payload).toMatchObject({ runId: 'run-1', epochs: 3, outcome: 'completed' });
    expect(rec.log.find((e) => e.event === 'epoch:end')!.payload).toMatchObject({ epoch: 0, packet: packets[0] });
    expect(rec.log.find((e) => e.event === 'step:end')!.payload).toMatchObject({ runId: 'run-1', epoch: 0, globalStep: 8 });

    // A checkpoint per epoch, readable, holding the trainer's state.
    expect(readdirSync(s.checkpointDir).sort()).toEqual(['epoch-0.ckpt', 'epoch-1.ckpt', 'epoch-2.ckpt']);
    const ckpt = await readCheckpoint(join(s.checkpointDir, 'epoch-2.ckpt'));
    expect(ckpt.info).toMatchObject({ runId: 'run-1', epoch: 2, globalStep: 96 });
    expect(ckpt.state.stepCount).toBe(96);
    expect(ckpt.state.parameters.names).toContain('host/fc1.w');
    expect([...ckpt.state.optimizerState.keys()]).toContain('opt/host/fc1.w/m');

    // Telemetry: one packet per epoch; metrics.
    expect(rec.telemetry.map((p) => p.packetId)).toEqual(['run-1-epoch-0', 'run-1-epoch-1', 'run-1-epoch-2']);
    const m = t.metricsSnapshot();
    expect(m['tolaria.epoch']).toBe(3);
    expect(m['tolaria.global_step']).toBe(96);
    expect(m['tolaria.parameters']).toBe(last.trainingMetrics.parameters);
    expect(m['tolaria.parameters_initial']).toBe(last.trainingMetrics.parameters);
    expect(m['tolaria.validation.accuracy']).toBe(last.validationAccuracy);
  });

  it('is deterministic: the same seed gives the same packets', async () => {
    const run = async () => {
      const t = trainer(settings({ maxEpochs: 2 }), { executor: new TestExecutor(), controller: new ScriptedController(), clock: new ManualClock() });
      const p = await collect(t.run());
      await t.dispose();
      return p.map((x) => [x.validationAccuracy, x.validationLoss, x.trainingLoss]);
    };
    expect(await run()).toEqual(await run());
  });

  it('a controller that never answers does not stall training: each epoch ends within its deadline plus a margin, with WAIT and a controller_timeout event', async () => {
    const executor = new TestExecutor();
    const controller = hangingController();
    const rec = recorder();
    const deadline = 300;
    // Time each epoch boundary: from the packet (epoch:end) to the next epoch:start or run:end.
    const marks: { event: string; at: number }[] = [];
    const lifecycle: LifecycleEmitter = {
      async emit(event, payload) {
        marks.push({ event, at: performance.now() });
        await rec.deps.lifecycle.emit(event, payload);
      },
    };
    const t = trainer(settings({ maxEpochs: 2, controllerTimeoutMs: deadline }), { executor, controller, ...rec.deps, lifecycle });
    const packets = await collect(t.run());
    await t.dispose();

    expect(packets).toHaveLength(2);
    expect(marks.map((m) => m.event)).toEqual(['epoch:start', 'epoch:end', 'epoch:start', 'epoch:end', 'run:end']);
    for (const i of [1, 3]) {
      const boundaryMs = marks[i + 1]!.at - marks[i]!.at;
      expect(boundaryMs).toBeGreaterThanOrEqual(deadline - 5);
      expect(boundaryMs).toBeLessThan(deadline + 1_000); // the deadline plus a checkpoint and a telemetry packet
    }
    // The controller's signal was aborted at the deadline.
    expect(controller.signals.every((sig) => sig.aborted)).toBe(true);
    // The no-op decision reached the executor and the bus.
    expect(executor.commands).toHaveLength(2);
    for (const c of executor.commands) {
      expect(c.commandType).toBe(CommandType.COMMAND_PAUSE);
      expect(c.targetSeedId).toBe('');
      expect(c.issuedBy).toBe('tolaria');
      expect(c.annotations).toMatchObject({ decision: 'wait', reason: 'controller_timeout' });
    }
    expect(rec.log.filter((e) => e.event === 'command:issued')).toHaveLength(2);
    expect(rec.telemetry.flatMap((p) => p.events.map((e) => e.description))).toEqual(['controller_timeout', 'controller_timeout']);
    expect(t.metricsSnapshot()['tolaria.controller.timeouts_total']).toBe(2);
  });

  it('a failing controller gives WAIT with reason controller_error and a controller_error event', async () => {
    const executor = new TestExecutor();
    const rec = recorder();
    const t = trainer(settings({ maxEpochs: 1 }), { executor, controller: new ScriptedController(() => Promise.reject(new Error('policy exploded'))), ...rec.deps });
    await collect(t.run());
    await t.dispose();
    expect(executor.commands[0]!.annotations).toMatchObject({ decision: 'wait', reason: 'controller_error' });
    expect(executor.commands[0]!.annotations.detail).toContain('policy exploded');
    const event = rec.telemetry[0]!.events[0]!;
    expect(event.description).toBe('controller_error');
    expect(event.attributes.error).toContain('policy exploded');
  });

  it('a rejected command goes on the bus as command:rejected with its reason', async () => {
    const rec = recorder();
    const t = trainer(settings({ maxEpochs: 1 }), { executor: new TestExecutor({ reject: true }), controller: new ScriptedController(), ...rec.deps });
    await collect(t.run());
    await t.dispose();
    expect(rec.log.find((e) => e.event === 'command:rejected')!.payload).toMatchObject({ reason: 'test_rejects' });
  });

  it('tolaria.parameters counts a graft applied after the last epoch, before any rebuild', async () => {
    const t = trainer(settings({ maxEpochs: 1 }), { executor: new TestExecutor(), controller: new ScriptedController(() => germinate('hidden1')) });
    const [packet] = await collect(t.run());
    await t.dispose();
    const m = t.metricsSnapshot();
    expect(m['tolaria.rebuilds_total']).toBe(0);
    expect(packet!.trainingMetrics.parameters).toBe(m['tolaria.parameters_initial']);
    expect(m['tolaria.parameters']).toBe(m['tolaria.parameters_initial']! + 2 * 32 * 4);
  });

  it('a graft rebuilds the trainer and carries optimizer state: the host trains exactly as without the seed', async () => {
    // Run A grafts an adapter (α = 0, zero-initialised output) after epoch 0; run B never grafts.
    const withSeed = new TestExecutor();
    const a = trainer(settings(), { executor: withSeed, controller: new ScriptedController((p) => (p.currentEpoch === 0 ? germinate('hidden1') : wait())) });
    const b = trainer(settings(), { executor: new TestExecutor(), controller: new ScriptedController() });
    const pa = await collect(a.run());
    const pb = await collect(b.run());

    expect(a.metricsSnapshot()['tolaria.rebuilds_total']).toBe(1);
    expect(a.metricsSnapshot()['tolaria.topology_version']).toBe(1);
    // Seed parameters joined (4·32·2 adapter weights) and their gradients are observed per seed.
    expect(a.metricsSnapshot()['tolaria.parameters']).toBe(a.metricsSnapshot()['tolaria.parameters_initial']! + 2 * 32 * 4);
    expect(Object.keys(withSeed.observations.at(-1)!.seedGradNorms)).toEqual(['hidden1']);
    // Same losses and accuracies, epoch by epoch: host values and Adam moments carried bit for bit.
    expect(pa.map((p) => [p.trainingLoss, p.validationLoss, p.validationAccuracy])).toEqual(pb.map((p) => [p.trainingLoss, p.validationLoss, p.validationAccuracy]));
    const ca = await readCheckpoint(join((a as unknown as { settings: TolariaTrainerSettings }).settings.checkpointDir, 'epoch-2.ckpt'));
    const cb = await readCheckpoint(join((b as unknown as { settings: TolariaTrainerSettings }).settings.checkpointDir, 'epoch-2.ckpt'));
    for (const name of cb.state.parameters.names) expect(Array.from(ca.state.parameters.get(name).data)).toEqual(Array.from(cb.state.parameters.get(name).data));
    expect(Array.from(ca.state.optimizerState.get('opt/host/fc1.w/t')!.data)).toEqual([96]);
    // The seed's own Adam count started at the graft.
    expect(Array.from(ca.state.optimizerState.get('opt/seed/hidden1/up/t')!.data)).toEqual([64]);
    await a.dispose();
    await b.dispose();
  });

  it("measures a blended seed's counterfactual contribution (its α forced to 0)", async () => {
    const executor = new TestExecutor();
    const t = trainer(settings({ maxEpochs: 2 }), { executor, controller: new ScriptedController() });
    executor.graftSeed('hidden2', 0.5);
    const packets = await collect(t.run());
    await t.dispose();
    const seed = packets[1]!.seedStates.find((s) => s.seedId === 'hidden2')!;
    expect(seed.metrics.alpha).toBe(0.5);
    expect(typeof seed.metrics[COUNTERFACTUAL_METRIC]).toBe('number');
    expect(Number.isFinite(seed.metrics[COUNTERFACTUAL_METRIC])).toBe(true);
    expect(packets[1]!.seedStates.find((s) => s.seedId === 'hidden1')!.metrics[COUNTERFACTUAL_METRIC]).toBeUndefined();
  });

  it('keeps frozen parameters (a paused seed) fixed: no update, no optimizer state, no gradient norm reported', async () => {
    const executor = new TestExecutor();
    const t = trainer(settings({ maxEpochs: 2 }), { executor, controller: new ScriptedController() });
    executor.graftSeed('hidden2', 0.5);
    executor.freezeSeed('hidden2');
    await collect(t.run());
    await t.dispose();
    const dir = (t as unknown as { settings: TolariaTrainerSettings }).settings.checkpointDir;
    const [e0, e1] = await Promise.all([readCheckpoint(join(dir, 'epoch-0.ckpt')), readCheckpoint(join(dir, 'epoch-1.ckpt'))]);
    for (const name of ['seed/hidden2/down', 'seed/hidden2/up']) {
      expect(Array.from(e1.state.parameters.get(name).data), name).toEqual(Array.from(e0.state.parameters.get(name).data));
      expect([...e1.state.optimizerState.keys()].some((k) => k.includes(name)), name).toBe(false);
    }
    // The host still trains.
    expect(Array.from(e1.state.parameters.get('host/fc1.w').data)).not.toEqual(Array.from(e0.state.parameters.get('host/fc1.w').data));
    expect(executor.observations.every((o) => !('hidden2' in o.seedGradNorms))).toBe(true);
  });

  it('stops at the next chunk after an abort, with a checkpoint, and a later run() goes on', async () => {
    const executor = new TestExecutor();
    const rec = recorder();
    const s = settings({ maxEpochs: 2 });
    const t = trainer(s, { executor, controller: new ScriptedController(), ...rec.deps });
    const abort = new AbortController();
    rec.deps.events.emit = ((event: string, payload: unknown) => {
      rec.log.push({ event, payload });
      if (event === 'step:end') abort.abort();
    }) as typeof rec.deps.events.emit;
    expect(await collect(t.run({ signal: abort.signal }))).toEqual([]);
    expect(rec.log.filter((e) => e.event === 'step:end')).toHaveLength(1);
    expect(rec.log.at(-1)!.payload).toMatchObject({ outcome: 'stopped', epochs: 0 });
    expect(existsSync(join(s.checkpointDir, 'epoch-0-step-8.ckpt'))).toBe(true);
    const rest = await collect(t.run());
    expect(rest.map((p) => p.currentEpoch)).toEqual([0, 1]);
    await t.dispose();

    // Aborted while the controller decides: the epoch completes (WAIT), then the run stops before the next one.
    const stop = new AbortController();
    const late = trainer(settings({ maxEpochs: 3 }), { executor: new TestExecutor(), controller: new ScriptedController(() => (stop.abort(), new Promise(() => {}))) });
    const done = await collect(late.run({ signal: stop.signal }));
    expect(done.map((p) => p.currentEpoch)).toEqual([0]);
    expect(late.metricsSnapshot()['tolaria.epoch']).toBe(1);
    await late.dispose();
  });

  it('rolls back to the last epoch checkpoint: values, optimizer state and step count, then trains on from there', async () => {
    const executor = new TestExecutor();
    const t = trainer(settings(), { executor, controller: new ScriptedController() });
    expect(await t.rollbackToLastCheckpoint()).toBe(false);
    const first: number[] = [];
    for await (const p of t.run()) {
      first.push(p.currentEpoch);
      if (p.currentEpoch === 1) break;
    }
    expect(first).toEqual([0, 1]);
    const s = (t as unknown as { settings: TolariaTrainerSettings }).settings;
    const saved = await readCheckpoint(join(s.checkpointDir, 'epoch-1.ckpt'));
    // Part of epoch 2, then abort: the parameters move on from the checkpoint.
    const abort = new AbortController();
    const origin = executor.observeSteps.bind(executor);
    executor.observeSteps = (o) => {
      origin(o);
      abort.abort();
    };
    expect(await collect(t.run({ signal: abort.signal }))).toEqual([]);
    expect(t.metricsSnapshot()['tolaria.global_step']).toBe(72);
    executor.observeSteps = origin;

    expect(await t.rollbackToLastCheckpoint()).toBe(true);
    expect(t.metricsSnapshot()['tolaria.global_step']).toBe(64);
    expect(t.metricsSnapshot()['tolaria.epoch']).toBe(2);
    const packets = await collect(t.run());
    expect(packets.map((p) => [p.currentEpoch, p.globalStep])).toEqual([[2, 96n]]);
    // The rolled-back trainer started from exactly the checkpointed values.
    const again = new TolariaTrainer(settings(), { run: { runId: 'run-1', name: 'test', seed: 3 }, task: blobsTask(), executor: new TestExecutor(), controller: new ScriptedController() });
    const straight = await collect(again.run());
    expect(packets[0]!.validationLoss).toBe(straight[2]!.validationLoss);
    expect(saved.state.stepCount).toBe(64);
    await t.dispose();
    await again.dispose();
  });
});
