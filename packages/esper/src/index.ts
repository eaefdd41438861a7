/**
 * `esper`: the command line and the main job of Esper. `esper run` composes a run from an
 * `esper.config.ts` through `@esper/core`'s kernel, trains it through the `Trainer` port while
 * showing progress, writes the run directory and prints a summary; `esper validate|config|plugins`
 * inspect a config. Plugin authors depend on `@esper/core`, not on this package.
 *
 * @packageDocumentation
 */
export { runCli, exitCodeFor, EXIT_CODES } from './cli/program.js';
export { withDotEnv, type CliIo } from './cli/io.js';
export { formatCliError } from './cli/report.js';
export { runEsper, type RunEsperOptions, type RunResult } from './run/run.js';
export { composeRun, type ComposedRun, type ComposeOptions } from './run/compose.js';
export { checkOverrides, parseEpochs, parseOut, parseSeed, type RunOverrides } from './run/overrides.js';
export { CONFIG_FILE_NAMES, resolveRunTarget } from './run/target.js';
export { serveEsper, type ServeEsperOptions } from './serve/serve.js';
export { ensureWritableDir, RUN_FILES } from './run/run-dir.js';
export { CommandLog, type CommandCounts, type CommandLogLine, type CommandOutcomeName } from './record/command-log.js';
export { RunRecorder } from './record/recorder.js';
export { RunLog, type LogEcho } from './record/run-log.js';
export { formatSummary } from './record/format.js';
export type { EpochSummary, RunOutcome, RunSummary, SeedFate, SeedLife, SeedStep } from './record/summary.js';
export type { ProgressReporter, RunStartInfo, SeedStageInfo, StepInfo } from './progress/reporter.js';
export { JsonLinesProgress, type ProgressLine, type ProgressTransition } from './progress/json-lines.js';
export { TtyProgress } from './progress/tty.js';
export {
  CliUsageError,
  EpochsNotSupportedError,
  InvalidOptionError,
  NoTrainerError,
  OutNotWritableError,
  RunTargetNotFoundError,
  TrainingFailedError,
} from './errors.js';
