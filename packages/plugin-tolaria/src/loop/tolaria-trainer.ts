import { join } from 'node:path';
import { clone } from '@bufbuild/protobuf';
import {
  RunStoppedError, SystemClock, buildTelemetryPacket, priorityForPacket, type Clock, type CommandSigner, type Controller,
  type EsperEvents, type EventInput, type LifecycleEmitter, type Logger, type MetricInput, type NotificationEventName, type SeedExecutor,
  type Telemetry, type TrainOptions, type Trainer,
} from '@esper/core';
import { SystemStatePacketSchema, TelemetryLevel, type AdaptationCommand, type SystemStatePacket } from '@esper/core/leyline';
import { OnnxRuntime, type OptimizerSpec, type TensorData } from '@esper/onnx';
import { epochCheckpointPath, readCheckpoint, writeCheckpoint } from '../checkpoint/epoch-checkpoint.js';
import { BatchPlan } from '../data/batches.js';
import { TrainerUsageError } from '../errors.js';
import { CompiledModel, HOST_GROUP, parameterCount, seedGroup } from './compiled-model.js';
import { withDeadline } from './deadline.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { learningRateAt, type LrSchedule } from './lr-schedule.js';
import type { TrainingOptions } from './options.js';
import { buildStatePacket, type EpochFigures } from './packet.js';
import type { TrainingTask } from './task.js';
import { waitCommand, type WaitReason } from './wait-command.js';

/** Settings of a {@link TolariaTrainer}. */
export interface TolariaTrainerSettings {
  /** Epochs `run()` trains in total (a later `run()` continues until this many are done). */
  readonly maxEpochs: number;
  readonly training: TrainingOptions;
  /** The learning-rate schedule without its base (the base is `training.learningRate`). */
  readonly lr: Omit<LrSchedule, 'base'>;
  /** Deadline of each controller decision, ms; a late or failing controller gives WAIT. */
  readonly controllerTimeoutMs: number;
  /** Folder of the epoch checkpoints (`epoch-<n>.ckpt`). */
  readonly checkpointDir: string;
}

/** The notification bus, as far as the trainer uses it. */
export interface NotificationSink {
  emit<E extends NotificationEventName>(event: E, payload: EsperEvents[E]): void;
}

/** What a {@link TolariaTrainer} works with: the run, the ports it calls, and its task. */
export interface TolariaTrainerDeps {
  readonly run: { readonly runId: string; readonly name: string; readonly seed: number };
  readonly executor: SeedExecutor;
  readonly controller: Controller;
  /** The host and data, or a function that prepares them (called once, at the first `run()`). */
  readonly task: TrainingTask | (() => TrainingTask | Promise<TrainingTask>);
  readonly clock?: Clock | undefined;
  /** `step:end`, `command:issued`, `command:applied`, `command:rejected` go here. */
  readonly events?: NotificationSink | undefined;
  /** `epoch:start`, `epoch:end` and `run:end` are fired here and awaited. */
  readonly lifecycle?: LifecycleEmitter | undefined;
  /** One telemetry packet per epoch goes here. */
  readonly telemetry?: Telemetry | undefined;
  /** Signs the trainer's own WAIT decisions, so an executor that verifies commands accepts them. */
  readonly signer?: Pick<CommandSigner, 'sign'> | undefined;
  readonly logger?: Logger | undefined;
}

/** Telemetry event when the controller missed its deadline. */
export const CONTROLLER_TIMEOUT_EVENT = 'controller_timeout';
/** Telemetry event when the controller threw or rejected. */
export const CONTROLLER_ERROR_EVENT = 'controller_error';

/**
 * Tolaria's epoch loop, the core `Trainer` port. Each epoch it trains the composed model in
 * `stepMany` runs of K steps (the executor's `controlFeeds()` fed once per run, `observeSteps`
 * after each), recompiles and carries values and optimizer state by parameter name when the
 * executor's topology version changed, evaluates on the validation split, measures each blended
 * seed's counterfactual contribution (its α forced to 0), assembles the `SystemStatePacket`,
 * fires `epoch:end`, asks the controller for a decision under a deadline (a late or failing
 * controller gives the no-op WAIT decision and a `controller_timeout`/`controller_error`
 * telemetry event, never a hung run), hands the command to the executor, writes
 * `epoch-<n>.ckpt`, and yields the packet.
 *
 * The trainer owns an ONNX Runtime (threads from `training.intraOpThreads`); call
 * {@link TolariaTrainer.dispose} when done.
 */
export class TolariaTrainer implements Trainer {
  private readonly clock: Clock;
  private readonly runtime: OnnxRuntime;
  private readonly optimizer: OptimizerSpec;
  private task: TrainingTask | undefined;
  private plan: BatchPlan | undefined;
  private model: CompiledModel | undefined;
  private running = false;
  private disposed = false;
  private epochsDone = 0;
  private initialParameters = 0;
  private lastCheckpoint: string | undefined;
  private pending: EventInput[] = [];
  private readonly counters = { rebuilds: 0, controllerTimeouts: 0, controllerErrors: 0, commandsApplied: 0, commandsRejected: 0, checkpoints: 0 };
  private last: { figures?: EpochFigures; compileMs: number } = { compileMs: 0 };
  /** Kept apart from the compiled model, so they outlive {@link TolariaTrainer.dispose}. */
  private readonly gauges = { globalStep: 0, parameters: 0, topologyVersion: 0 };

  constructor(
    private readonly settings: TolariaTrainerSettings,
    private readonly deps: TolariaTrainerDeps,
  ) {
    this.clock = deps.clock ?? new SystemClock();
    this.runtime = new OnnxRuntime({ clock: this.clock, defaults: { intraOpThreads: settings.training.intraOpThreads } });
    const t = settings.training;
    this.optimizer =
      t.optimizer === 'sgd'
        ? { kind: 'sgd', momentum: t.momentum, weightDecay: t.weightDecay }
        : { kind: t.optimizer, weightDecay: t.weightDecay };
  }

  /**
   * Trains until `maxEpochs` epochs are done, yielding each epoch's packet. A later call goes on
   * where an earlier one stopped. Aborting `options.signal` stops at the next chunk boundary,
   * after a checkpoint (`epoch-<n>-step-<global step>.ckpt`), and ends the iteration.
   *
   * @throws TrainerUsageError when another `run()` of this trainer is still iterating.
   */
  async *run(options: TrainOptions = {}): AsyncGenerator<SystemStatePacket, void, undefined> {
    if (this.running) throw new TrainerUsageError('run() was called while an earlier run() of this trainer is still iterating; finish or abort it first');
    if (this.disposed) throw new TrainerUsageError('run() was called on a disposed trainer; create a new one');
    this.running = true;
    const { signal } = options;
    let outcome: EsperEvents['run:end']['outcome'] = 'completed';
    let failure: unknown;
    try {
      await this.start();
      while (this.epochsDone < this.settings.maxEpochs) {
        // Aborted at an epoch boundary: the epoch's checkpoint is written already.
        if (signal?.aborted) {
          outcome = 'stopped';
          return;
        }
        const packet = await this.trainEpoch(this.epochsDone, signal);
        if (packet === undefined) {
          outcome = 'stopped';
          return;
        }
        yield packet;
      }
    } catch (error) {
      if (error instanceof RunStoppedError) {
        outcome = 'stopped';
        return;
      }
      outcome = 'failed';
      failure = error;
      throw error;
    } finally {
      this.running = false;
      if (outcome === 'completed' && this.epochsDone < this.settings.maxEpochs) outcome = 'stopped';
      await this.fire('run:end', { runId: this.deps.run.runId, epochs: this.epochsDone, outcome, ...(failure === undefined ? {} : { error: failure }) });
    }
  }

  /**
   * Restores the last epoch-end checkpoint this trainer wrote, when it belongs to the current
   * composition (same topology version): parameters, optimizer state and step count, and the
   * epoch counter moves back to the epoch after it. Resolves false when there is none, it is
   * unreadable, or the topology changed since.
   */
  async rollbackToLastCheckpoint(): Promise<boolean> {
    if (this.lastCheckpoint === undefined || this.model === undefined || this.task === undefined || this.running) return false;
    let loaded;
    try {
      loaded = await readCheckpoint(this.lastCheckpoint);
    } catch (error) {
      this.deps.logger?.warn('tolaria: rollback could not read the last checkpoint', { path: this.lastCheckpoint, error: (error as Error).message });
      return false;
    }
    if (loaded.info.topologyVersion !== this.model.topologyVersion) return false;
    const restored = await CompiledModel.build(this.runtime, this.model.composed, this.task.host, this.compileOptions(), loaded.state);
    await this.model.dispose();
    this.model = restored;
    this.gauges.globalStep = restored.trainer.stepCount;
    this.epochsDone = loaded.info.epoch + 1;
    return true;
  }

  /**
   * Counters and gauges: `tolaria.epoch` (epochs done), `tolaria.global_step`,
   * `tolaria.parameters` (now), `tolaria.parameters_initial` (the host's),
   * `tolaria.topology_version`, `tolaria.rebuilds_total`, `tolaria.controller.timeouts_total`,
   * `tolaria.controller.errors_total`, `tolaria.commands.applied_total`,
   * `tolaria.commands.rejected_total`, `tolaria.checkpoints_total`, and after the first epoch the
   * last epoch's `tolaria.training.loss`, `tolaria.training.accuracy`, `tolaria.validation.loss`,
   * `tolaria.validation.accuracy` (percent) and `tolaria.epoch.latency_ms`.
   */
  metricsSnapshot(): Readonly<Record<string, number>> {
    const f = this.last.figures;
    return {
      'tolaria.epoch': this.epochsDone,
      'tolaria.epochs.total': this.epochsDone,
      'tolaria.global_step': this.gauges.globalStep,
      'tolaria.parameters': this.gauges.parameters,
      'tolaria.parameters_initial': this.initialParameters,
      'tolaria.topology_version': this.gauges.topologyVersion,
      'tolaria.rebuilds_total': this.counters.rebuilds,
      'tolaria.controller.timeouts_total': this.counters.controllerTimeouts,
      'tolaria.controller.errors_total': this.counters.controllerErrors,
      'tolaria.commands.applied_total': this.counters.commandsApplied,
      'tolaria.commands.rejected_total': this.counters.commandsRejected,
      'tolaria.checkpoints_total': this.counters.checkpoints,
      ...(f === undefined
        ? {}
        : {
            'tolaria.training.loss': f.trainLoss,
            'tolaria.training.accuracy': f.trainAccuracyPct,
            'tolaria.validation.loss': f.valLoss,
            'tolaria.validation.accuracy': f.valAccuracyPct,
            'tolaria.epoch.latency_ms': f.epochWallMs,
          }),
    };
  }

  /** Releases the sessions and the runtime. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.model?.dispose();
    this.model = undefined;
    await this.runtime.dispose();
  }

  /** Prepares the task, hands the host to the executor and compiles the first composition (once). */
  private async start(): Promise<void> {
    if (this.task !== undefined) return;
    const task = typeof this.deps.task === 'function' ? await this.deps.task() : this.deps.task;
    if (task.train.features !== task.host.features || task.validation.features !== task.host.features) {
      throw new TrainerUsageError(`the host takes ${task.host.features} values per sample, the data has ${task.train.features}`);
    }
    this.plan = new BatchPlan(task.train, { batchSize: this.settings.training.batchSize, seed: this.deps.run.seed });
    this.deps.executor.attachHost(task.host);
    this.task = task;
    await this.syncTopology();
    this.initialParameters = task.host.parameters.reduce((n, name) => n + (this.model as CompiledModel).trainer.parameters.get(name).data.length, 0);
  }

  /** Trains, evaluates and decides one epoch; undefined when aborted part-way. */
  private async trainEpoch(epoch: number, signal: AbortSignal | undefined): Promise<SystemStatePacket | undefined> {
    const { runId } = this.deps.run;
    const task = this.task as TrainingTask;
    const plan = this.plan as BatchPlan;
    const executor = this.deps.executor;
    await this.fire('epoch:start', { runId, epoch });
    // Executors may announce stage changes (embargoes ending) asynchronously: wait for them.
    await executor.updateEpoch(epoch);
    const started = this.clock.monotonicMs();
    let lossSum = 0;
    let correct = 0;
    let samples = 0;
    let lr = this.settings.training.learningRate;
    let gradNorm = 0;
    let compileMs = 0;

    // Each chunk is trained on before the next is asked for, so one pair of arrays serves them all.
    for (const chunk of plan.chunks(epoch, this.settings.training.stepsPerRun, { reuse: true })) {
      if (signal?.aborted) {
        await this.checkpoint(join(this.settings.checkpointDir, `epoch-${epoch}-step-${this.gauges.globalStep}.ckpt`), epoch, false);
        return undefined;
      }
      compileMs += await this.syncTopology();
      const model = this.model as CompiledModel;
      const trainer = model.trainer;
      const rates = Array.from({ length: chunk.steps }, (_, i) => learningRateAt({ ...this.settings.lr, base: this.settings.training.learningRate }, trainer.stepCount + i, epoch));
      const results = await trainer.stepMany(
        { [task.host.inputs.features]: chunk.inputs, [task.host.inputs.labels]: chunk.labels },
        rates,
        this.controls(model),
      );
      const batchLoss = results.reduce((s, r) => s + r.loss, 0);
      lossSum += batchLoss * plan.batchSize;
      for (const r of results) correct += (r.metrics[task.host.correct] as TensorData).data[0] as number;
      samples += chunk.samples;
      const lastStep = results[results.length - 1];
      lr = rates[rates.length - 1] as number;
      gradNorm = lastStep?.gradNorms[HOST_GROUP] ?? 0;
      const seedGradNorms: Record<string, number> = {};
      const frozen = new Set(model.composed.frozenParameters ?? []);
      for (const [id, names] of Object.entries(model.composed.seedParameters)) {
        // A seed whose parameters are all frozen (paused) takes no step: it has no norm to report.
        if (names.some((n) => !frozen.has(n))) seedGradNorms[id] = lastStep?.gradNorms[seedGroup(id)] ?? Number.NaN;
      }
      const meanLoss = batchLoss / results.length;
      executor.observeSteps({ steps: results.length, globalStep: trainer.stepCount, epoch, loss: meanLoss, hostGradNorm: gradNorm, seedGradNorms });
      executor.finalizeStep(trainer.stepCount);
      this.gauges.globalStep = trainer.stepCount;
      this.deps.events?.emit('step:end', { runId, epoch, globalStep: trainer.stepCount, loss: meanLoss });
    }
    // Recompiling after a graft is not training: samples/s counts only the steps.
    const trainMs = this.clock.monotonicMs() - started - compileMs;

    // observeSteps may have grafted or removed a seed; evaluate what the next epoch trains.
    await this.syncTopology();
    const model = this.model as CompiledModel;
    const params = model.trainer.parameters;
    const batch = this.settings.training.evalBatchSize;
    const val = await evaluate(model.evaluation, task.host, params, this.controls(model), task.validation, batch);
    const seedStates = executor.exportSeedStates();
    const counterfactuals = new Map<string, number>();
    for (const s of seedStates) {
      if (!((s.metrics.alpha ?? 0) > 0)) continue;
      const without: Evaluation = await evaluate(model.evaluation, task.host, params, this.controls(model, s.seedId), task.validation, batch);
      counterfactuals.set(s.seedId, val.accuracyPct - without.accuracyPct);
    }
    const figures: EpochFigures = {
      trainLoss: samples > 0 ? lossSum / samples : 0,
      trainAccuracyPct: samples > 0 ? (100 * correct) / samples : 0,
      valLoss: val.loss,
      valAccuracyPct: val.accuracyPct,
      epochWallMs: this.clock.monotonicMs() - started,
      samplesPerS: trainMs > 0 ? (1000 * samples) / trainMs : 0,
      parameters: params.numel,
      lr,
      gradNorm,
    };
    this.last.figures = figures;
    const packet = buildStatePacket({
      runId,
      experimentName: this.deps.run.name,
      epoch,
      globalStep: model.trainer.stepCount,
      figures,
      seedStates,
      counterfactuals,
      nowMs: this.clock.nowMs(),
    });
    await this.fire('epoch:end', { runId, epoch, packet });

    const command = await this.decide(packet, epoch, signal);
    this.deps.events?.emit('command:issued', { command });
    await this.apply(command);
    this.epochsDone = epoch + 1;
    await this.checkpoint(epochCheckpointPath(this.settings.checkpointDir, epoch), epoch, true);
    await this.emitTelemetry(packet, figures);
    return packet;
  }

  /** The controller's decision under the deadline, or WAIT (signed when a signer is given). */
  private async decide(packet: SystemStatePacket, epoch: number, signal: AbortSignal | undefined): Promise<AdaptationCommand> {
    const view = clone(SystemStatePacketSchema, packet);
    const timeoutMs = this.settings.controllerTimeoutMs;
    const outcome = await withDeadline((s) => this.deps.controller.evaluateEpoch(view, { signal: s }), timeoutMs, signal, () => this.clock.monotonicMs());
    if (outcome.status === 'ok') return outcome.value;
    let reason: WaitReason;
    let detail: string | undefined;
    if (outcome.status === 'timeout') {
      reason = 'controller_timeout';
      this.counters.controllerTimeouts++;
      this.pending.push({ description: CONTROLLER_TIMEOUT_EVENT, level: TelemetryLevel.WARNING, attributes: { epoch: String(epoch), timeout_ms: String(timeoutMs) } });
      this.deps.logger?.warn('tolaria: the controller missed its deadline; deciding WAIT', { epoch, timeoutMs });
    } else {
      reason = 'controller_error';
      detail = outcome.error instanceof Error ? `${outcome.error.name}: ${outcome.error.message}` : String(outcome.error);
      this.counters.controllerErrors++;
      this.pending.push({ description: CONTROLLER_ERROR_EVENT, level: TelemetryLevel.WARNING, attributes: { epoch: String(epoch), error: detail.slice(0, 200) } });
      this.deps.logger?.warn('tolaria: the controller failed; deciding WAIT', { epoch, error: detail });
    }
    const wait = waitCommand(reason, this.clock.nowMs(), detail);
    return this.deps.signer ? this.deps.signer.sign(wait) : wait;
  }

  /** Hands a command to the executor and announces the outcome. */
  private async apply(command: AdaptationCommand): Promise<void> {
    let result;
    try {
      result = await this.deps.executor.applyCommand(command);
    } catch (error) {
      result = { applied: false as const, commandId: command.commandId, reason: `executor_error: ${(error as Error).message}` };
      this.pending.push({ description: 'executor_error', level: TelemetryLevel.ERROR, attributes: { command_id: command.commandId, error: (error as Error).message.slice(0, 200) } });
      this.deps.logger?.error('tolaria: the executor threw while applying a command', { commandId: command.commandId, error: (error as Error).message });
    }
    if (result.applied) {
      this.counters.commandsApplied++;
      this.deps.events?.emit('command:applied', { command });
    } else {
      this.counters.commandsRejected++;
      this.deps.events?.emit('command:rejected', { command, reason: result.reason });
    }
    // A graft or cull recompiles only when the next epoch trains; the gauge counts the model now.
    const executor = this.deps.executor;
    if (this.model !== undefined && this.model.topologyVersion !== executor.topologyVersion) {
      this.gauges.parameters = parameterCount(executor.compose());
    }
  }

  /** Recompiles when the executor's topology version differs from the compiled one; returns the ms it took (0: nothing to do). */
  private async syncTopology(): Promise<number> {
    const executor = this.deps.executor;
    if (this.model !== undefined && this.model.topologyVersion === executor.topologyVersion) return 0;
    const composed = executor.compose();
    const t0 = this.clock.monotonicMs();
    const previous = this.model;
    const next = await CompiledModel.build(this.runtime, composed, (this.task as TrainingTask).host, this.compileOptions(), previous?.trainer.snapshot());
    this.last.compileMs = this.clock.monotonicMs() - t0;
    this.model = next;
    this.gauges.parameters = next.trainer.parameters.numel;
    this.gauges.topologyVersion = next.topologyVersion;
    this.gauges.globalStep = next.trainer.stepCount;
    if (previous !== undefined) {
      this.counters.rebuilds++;
      await previous.dispose();
      this.pending.push({
        description: 'topology_rebuilt',
        attributes: {
          topology_version: String(next.topologyVersion),
          carried: String(next.carried.length),
          fresh: String(next.fresh.length),
          dropped: String(next.dropped.length),
          compile_ms: this.last.compileMs.toFixed(1),
        },
      });
    }
    return this.last.compileMs;
  }

  /** The executor's control feeds for the compiled model's inputs (α of `counterfactual` forced to 0). */
  private controls(model: CompiledModel, counterfactual?: string): Record<string, TensorData> {
    const feeds = this.deps.executor.controlFeeds(counterfactual === undefined ? undefined : { counterfactual });
    const wanted = new Set(model.spec.dataInputs);
    return Object.fromEntries(Object.entries(feeds).filter(([name]) => wanted.has(name)));
  }

  private compileOptions() {
    return { optimizer: this.optimizer, gradClipNorm: this.settings.training.gradClipNorm, session: { intraOpThreads: this.settings.training.intraOpThreads } };
  }

  /** Writes a checkpoint; one at an epoch's end becomes the one {@link rollbackToLastCheckpoint} restores. */
  private async checkpoint(path: string, epoch: number, epochEnd: boolean): Promise<void> {
    const model = this.model;
    if (model === undefined) return;
    await writeCheckpoint(path, this.settings.checkpointDir, model.trainer.snapshot(), {
      runId: this.deps.run.runId,
      epoch,
      globalStep: model.trainer.stepCount,
      topologyVersion: model.topologyVersion,
    });
    if (epochEnd) this.lastCheckpoint = path;
    this.counters.checkpoints++;
  }

  /** One telemetry packet per epoch: the epoch's figures, the counters and the pending events. */
  private async emitTelemetry(packet: SystemStatePacket, f: EpochFigures): Promise<void> {
    const events = this.pending;
    this.pending = [];
    const telemetry = this.deps.telemetry;
    if (telemetry === undefined) return;
    const metrics: MetricInput[] = [
      { name: 'tolaria.training.loss', value: f.trainLoss, unit: 'loss' },
      { name: 'tolaria.training.accuracy', value: f.trainAccuracyPct, unit: 'pct' },
      { name: 'tolaria.validation.loss', value: f.valLoss, unit: 'loss' },
      { name: 'tolaria.validation.accuracy', value: f.valAccuracyPct, unit: 'pct' },
      { name: 'tolaria.training.latency_ms', value: f.epochWallMs, unit: 'ms' },
      { name: 'tolaria.training.samples_per_s', value: f.samplesPerS, unit: 'samples/s' },
      { name: 'tolaria.parameters', value: f.parameters, unit: 'count' },
      { name: 'tolaria.parameters_initial', value: this.initialParameters, unit: 'count' },
      { name: 'tolaria.lr', value: f.lr, unit: 'lr' },
      { name: 'tolaria.grad_norm', value: f.gradNorm, unit: 'grad' },
      { name: 'tolaria.seeds.active', value: packet.seedStates.length, unit: 'count' },
      { name: 'tolaria.topology_version', value: this.gauges.topologyVersion, unit: 'version' },
      { name: 'tolaria.rebuilds_total', value: this.counters.rebuilds, unit: 'count' },
      { name: 'tolaria.controller.timeouts_total', value: this.counters.controllerTimeouts, unit: 'count' },
      { name: 'tolaria.controller.errors_total', value: this.counters.controllerErrors, unit: 'count' },
    ];
    const telemetryPacket = buildTelemetryPacket(
      { packetId: packet.packetId, source: 'tolaria', metrics, events, health: { indicators: { epoch: String(packet.currentEpoch) } } },
      { clock: this.clock },
    );
    await telemetry.emit(telemetryPacket, priorityForPacket(telemetryPacket));
  }

  /** Fires an awaited lifecycle event, when a lifecycle emitter is wired. */
  private async fire<E extends 'epoch:start' | 'epoch:end' | 'run:end'>(event: E, payload: EsperEvents[E]): Promise<void> {
    if (this.deps.lifecycle === undefined) return;
    if (event === 'run:end') {
      // The run may be stopping already: the loop's end is reported where it can be, never thrown.
      try {
        await this.deps.lifecycle.emit(event, payload);
      } catch (error) {
        if (!(error instanceof RunStoppedError)) this.deps.logger?.warn('tolaria: a run:end hook failed', { error: (error as Error).message });
      }
      return;
    }
    await this.deps.lifecycle.emit(event, payload);
  }
}
