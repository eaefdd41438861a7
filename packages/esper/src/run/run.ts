import { mkdir, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Tokens, type Env, type EsperEvents, type SeedExecutor, type Trainer } from '@esper/core';
import type { SystemStatePacket } from '@esper/core/leyline';
import { TrainingFailedError } from '../errors.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { CommandLog } from '../record/command-log.js';
import { stageName } from '../record/names.js';
import { RunRecorder } from '../record/recorder.js';
import { RunLog, type LogEcho } from '../record/run-log.js';
import type { RunOutcome, RunSummary } from '../record/summary.js';
import { composeRun } from './compose.js';
import type { RunOverrides } from './overrides.js';
import { ensureWritableDir, RUN_FILES, writeJsonFile } from './run-dir.js';

/** Options of {@link runEsper}: what to run, the command line's overrides, and where to report. */
export interface RunEsperOptions extends RunOverrides {
  /** A config file, or a folder holding `esper.config.ts` (or `.mts`, `.js`, `.mjs`, `.json`). */
  readonly target: string;
  /** Environment for config overrides (default `process.env`). */
  readonly env?: Env;
  /** Resolves relative paths: the target, `--out`, `run.dir` (default `process.cwd()`). */
  readonly cwd?: string;
  /** Shows progress while training (default: none). */
  readonly progress?: ProgressReporter;
  /** Receives warnings and errors logged during the run (they are in `run.log` either way). */
  readonly onLog?: LogEcho;
  /** Aborting stops training at the trainer's next step boundary; the run ends `stopped`. */
  readonly signal?: AbortSignal;
  /** Overrides the generated run id. */
  readonly runId?: string;
}

/** What {@link runEsper} returns when training ran to its end or was stopped. */
export interface RunResult {
  readonly runId: string;
  /** Absolute run directory. */
  readonly dir: string;
  readonly summary: RunSummary;
}

/**
 * The main job: composes the config a target names, checks that runs can be written, starts the
 * run, and drives the `Trainer` port's `run()` to its end while recording progress, commands and
 * seed stages. Writes the run directory `<run.dir>/<runId>/`: `config.json` (resolved, secrets
 * masked), `run.log`, `commands.ndjson`, `summary.json`, and whatever the plugins write there
 * (`telemetry.jsonl` from `telemetryFile()`, `checkpoints/` from the trainer). The run is stopped
 * before this returns, also on failure.
 *
 * Everything that can be checked before training is: bad overrides, a missing target, an invalid
 * config, a missing trainer, an unwritable folder, plugins failing to start (an unknown
 * controller or blueprint) all throw before the first step, and nothing is left running.
 *
 * @throws `InvalidOptionError`, `RunTargetNotFoundError`, `ConfigLoadError`, `ConfigValidationError`,
 *   the kernel's plan and boot errors, `NoTrainerError`, `EpochsNotSupportedError`,
 *   `OutNotWritableError` — all before training; {@link TrainingFailedError} (with `summary`) after.
 */
export async function runEsper(options: RunEsperOptions): Promise<RunResult> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let runLog: RunLog | undefined;
  const composed = await composeRun(options.target, options, {
    env,
    cwd,
    logger: (config) => {
      runLog = new RunLog(config.core.log.level, config.secretValues(), options.onLog);
      return runLog.logger();
    },
  });
  await ensureWritableDir(composed.runsDir);

  const startedAt = Date.now();
  // Not `await using`: the run is stopped before the summary lists the run directory (stopping
  // flushes the telemetry file), and a failing stop must reach the caller as the kernel's
  // TeardownError, not wrapped in a SuppressedError by a second disposal. `finally` stops it on
  // every other path; stop() is idempotent.
  const run = await composed.esper.start(options.runId !== undefined ? { runId: options.runId } : {});
  try {
    const trainer: Trainer = run.resolve(Tokens.Trainer);
    const executor: SeedExecutor | undefined = run.tryResolve(Tokens.SeedExecutor);
    const { dir, runId, seed } = run.info;
    await mkdir(dir, { recursive: true });
    runLog?.open(join(dir, 'run.log'));
    await writeJsonFile(join(dir, RUN_FILES.config), composed.esper.config.masked());

    const recorder = new RunRecorder();
    recorder.noteSeeds(safely(() => executor?.exportSeedStates() ?? [], []));
    const commands = new CommandLog(join(dir, RUN_FILES.commands)).attach(run.events);
    const progress = options.progress;
    let sawEpochEnd = false;
    let sawRunEnd = false;
    const offs = [
      run.events.on('epoch:start', ({ epoch }) => {
        recorder.epochStarted(epoch);
        progress?.epochStart(epoch);
      }),
      run.events.on('step:end', (e) => progress?.step(e)),
      run.events.on('seed:stage-changed', (e: EsperEvents['seed:stage-changed']) => {
        recorder.stageChanged(e);
        progress?.seedStage({
          seedId: e.seedId,
          from: stageName(e.from),
          to: stageName(e.to),
          ...(e.epoch !== undefined || recorder.currentEpoch !== undefined ? { epoch: e.epoch ?? recorder.currentEpoch } : {}),
          ...(e.blueprintId !== undefined ? { blueprintId: e.blueprintId } : {}),
          ...(e.reason !== undefined ? { reason: e.reason } : {}),
        });
      }),
      run.events.on('epoch:end', ({ packet }) => {
        sawEpochEnd = true;
        progress?.epoch(recorder.recordEpoch(packet));
      }),
      run.events.on('command:applied', ({ command }) => recorder.commandApplied(command)),
      run.events.on('run:end', () => void (sawRunEnd = true)),
    ];

    const initialSeeds = Object.fromEntries(
      safely(() => executor?.exportSeedStates() ?? [], []).map((s) => [s.seedId, stageName(s.stage)]),
    );
    progress?.start({
      runId,
      dir,
      config: composed.source,
      seed,
      ...(composed.maxEpochs !== undefined ? { maxEpochs: composed.maxEpochs } : {}),
      seeds: initialSeeds,
    });

    let outcome: RunOutcome = 'completed';
    let failure: unknown;
    try {
      const yielded: SystemStatePacket[] = [];
      for await (const packet of trainer.run(options.signal !== undefined ? { signal: options.signal } : {})) {
        yielded.push(packet);
      }
      // A trainer that fires no `epoch:end` still yields its packets: record those instead.
      if (!sawEpochEnd) for (const packet of yielded) progress?.epoch(recorder.recordEpoch(packet));
      if (options.signal?.aborted === true) outcome = 'stopped';
    } catch (error) {
      if (options.signal?.aborted === true && isAbort(error, options.signal)) {
        outcome = 'stopped';
      } else {
        outcome = 'failed';
        failure = error;
      }
    } finally {
      for (const off of offs) off();
      progress?.stop(outcome);
    }
    if (!sawRunEnd) {
      try {
        await run.lifecycle.emit('run:end', {
          runId,
          epochs: recorder.epochList().length,
          outcome,
          ...(failure !== undefined ? { error: failure } : {}),
        });
      } catch (error) {
        if (failure === undefined) {
          outcome = 'failed';
          failure = error;
        }
      }
    }
    commands.close();

    const metrics = safely(() => trainer.metricsSnapshot(), {} as Readonly<Record<string, number>>);
    const epochs = recorder.epochList();
    const withAccuracy = epochs.filter((e) => e.valAccuracy !== undefined);
    const best = withAccuracy.reduce<(typeof withAccuracy)[number] | undefined>(
      (a, e) => (a === undefined || e.valAccuracy! > a.valAccuracy! ? e : a),
      undefined,
    );
    const initialParams = metrics['tolaria.parameters_initial'] ?? epochs[0]?.parameters;
    const finalParams = metrics['tolaria.parameters'] ?? epochs.at(-1)?.parameters;
    const blueprintOf = executorBlueprints(executor);
    const seeds = recorder.seedLives(blueprintOf);

    await run.stop();
    const files = await listFiles(dir);
    if (!files.includes(RUN_FILES.summary)) files.push(RUN_FILES.summary);
    files.sort();
    const summary: RunSummary = {
      runId,
      name: run.info.name,
      dir,
      config: composed.source,
      trainer: composed.trainer.name,
      seed,
      ...(composed.maxEpochs !== undefined ? { maxEpochs: composed.maxEpochs } : {}),
      outcome,
      ...(failure !== undefined ? { error: describeFailure(failure) } : {}),
      startedAt: new Date(startedAt).toISOString(),
      wallMs: Date.now() - startedAt,
      epochs,
      ...(withAccuracy.length > 0 ? { finalValAccuracy: withAccuracy.at(-1)!.valAccuracy! } : {}),
      ...(best !== undefined ? { bestValAccuracy: { epoch: best.epoch, value: best.valAccuracy! } } : {}),
      parameters: {
        ...(initialParams !== undefined ? { initial: initialParams } : {}),
        ...(finalParams !== undefined ? { final: finalParams } : {}),
      },
      seeds,
      freeSlots: recorder.freeSlots(),
      commands: commands.totals,
      files,
    };
    await writeJsonFile(join(dir, RUN_FILES.summary), summary);
    if (failure !== undefined) {
      throw new TrainingFailedError(runId, dir, failure, summary);
    }
    return { runId, dir, summary };
  } finally {
    await run.stop();
  }
}

/** `blueprintOf(seedId)` when the executor has it (Kasmina does; it is not part of the port). */
function executorBlueprints(executor: SeedExecutor | undefined): ((seedId: string) => string | undefined) | undefined {
  const candidate = (executor as { blueprintOf?: unknown } | undefined)?.blueprintOf;
  if (typeof candidate !== 'function') return undefined;
  return (seedId) => safely(() => (candidate as (id: string) => string | undefined).call(executor, seedId), undefined);
}

function isAbort(error: unknown, signal: AbortSignal): boolean {
  return error === signal.reason || (error instanceof Error && error.name === 'AbortError');
}

function describeFailure(error: unknown): { code?: string; message: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    message: error instanceof Error ? error.message : String(error),
  };
}

function safely<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}
