import { EsperError } from '@esper/core';
import type { RunSummary } from './record/summary.js';

/**
 * The command line could not be parsed: an unknown command or option, a missing argument, an
 * extra one. `esper <command> --help` shows what the command takes. Exit code 2.
 */
export class CliUsageError extends EsperError<'ESPER_CLI_USAGE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_CLI_USAGE', message, options);
  }
}

/**
 * An option has a value it cannot take (`--epochs 0`, `--seed -1`, `--epochs 2.5`). The message
 * names the option and what it accepts. Exit code 2.
 */
export class InvalidOptionError extends EsperError<'ESPER_CLI_INVALID_OPTION'> {
  constructor(
    /** The option as typed, e.g. `--epochs`. */
    readonly option: string,
    message: string,
  ) {
    super('ESPER_CLI_INVALID_OPTION', message);
  }
}

/**
 * `esper run <target>`: the target is neither a config file nor a folder holding one
 * (`esper.config.ts`, `.mts`, `.js`, `.mjs` or `.json`). Exit code 1.
 */
export class RunTargetNotFoundError extends EsperError<'ESPER_RUN_TARGET_NOT_FOUND'> {
  constructor(
    /** The target as given. */
    readonly target: string,
    message: string,
  ) {
    super('ESPER_RUN_TARGET_NOT_FOUND', message);
  }
}

/**
 * The folder runs are written to (`--out`, else the config's `run.dir`) cannot be created or
 * written. Checked before the run starts, so no training is lost. Exit code 1.
 */
export class OutNotWritableError extends EsperError<'ESPER_RUN_OUT_NOT_WRITABLE'> {
  constructor(
    /** The absolute folder that was checked. */
    readonly dir: string,
    cause: unknown,
  ) {
    const reason = (cause as NodeJS.ErrnoException | undefined)?.code ?? (cause instanceof Error ? cause.message : String(cause));
    super(
      'ESPER_RUN_OUT_NOT_WRITABLE',
      `Cannot write runs to ${dir} (${reason}). Pass --out with a folder you can write, or change run.dir in the config.`,
      { cause },
    );
  }
}

/** The config composes no plugin that provides the `Trainer` port, so there is nothing to run. Exit code 1. */
export class NoTrainerError extends EsperError<'ESPER_RUN_NO_TRAINER'> {
  constructor(source: string) {
    super(
      'ESPER_RUN_NO_TRAINER',
      `${source} has no trainer: no plugin provides the Trainer port. Add one (tolaria() from @esper/plugin-tolaria) to its plugins, ` +
        'or use `esper validate` for configs that only compose services.',
    );
  }
}

/**
 * `--epochs` was given, but the trainer plugin has no `maxEpochs` option to set. Exit code 1.
 */
export class EpochsNotSupportedError extends EsperError<'ESPER_RUN_EPOCHS_UNSUPPORTED'> {
  constructor(trainer: string, section: string) {
    super(
      'ESPER_RUN_EPOCHS_UNSUPPORTED',
      `--epochs sets ${section}.maxEpochs, but the trainer plugin "${trainer}" has no maxEpochs option. Drop --epochs and set its epoch count in the config.`,
    );
  }
}

/**
 * Training started and then failed (the trainer threw). The run was stopped; its directory holds
 * what was written so far, including `summary.json` with `outcome: "failed"`. Exit code 3.
 */
export class TrainingFailedError extends EsperError<'ESPER_RUN_FAILED'> {
  constructor(
    readonly runId: string,
    readonly dir: string,
    cause: unknown,
    /** The summary of what the run did before it failed (also in `summary.json`). */
    readonly summary?: RunSummary,
  ) {
    super(
      'ESPER_RUN_FAILED',
      `Run ${runId} failed during training: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        `What was written so far is in ${dir} (telemetry.jsonl, commands.ndjson, summary.json).`,
      { cause },
    );
  }
}
