import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliUsageError, TrainingFailedError } from '../errors.js';
import { JsonLinesProgress } from '../progress/json-lines.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { TtyProgress } from '../progress/tty.js';
import { formatSummary } from '../record/format.js';
import type { RunSummary } from '../record/summary.js';
import { parseEpochs, parseOut, parseSeed } from '../run/overrides.js';
import { runEsper } from '../run/run.js';
import { serveEsper } from '../serve/serve.js';
import { configReport, composeConfig, pluginsReport, validateReport } from './inspect.js';
import { withDotEnv, type CliIo } from './io.js';
import { addPolicyCommands, loadPolicyTools } from './policy.js';
import { esperCode, formatCliError } from './report.js';

/**
 * Exit codes of the `esper` command.
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | success (for `run`: training completed) |
 * | 1 | bad input found before training: the config is invalid or cannot be loaded, a port has no provider, a plugin failed to start (an unknown controller or blueprint), the target or `--out` folder is unusable |
 * | 2 | usage: unknown command or option, missing or extra argument, an option value out of range (`--epochs 0`) |
 * | 3 | `run`: training started and failed; the run directory holds what was written, `summary.json` included |
 * | 130 | `run`: stopped by SIGINT/SIGTERM at a step boundary; the summary covers the epochs done |
 *
 * `serve` exits 0 when SIGINT/SIGTERM stopped it and every plugin stopped cleanly.
 */
export const EXIT_CODES = { ok: 0, badInput: 1, usage: 2, trainingFailed: 3, interrupted: 130 } as const;

const EXIT_HELP = `
Exit codes:
  0    success (run: training completed)
  1    bad input found before training (invalid config, missing plugin or port, a plugin that
       fails to start, such as an unknown controller or blueprint, an unusable target or --out)
  2    usage error (unknown command or option, --epochs 0, a missing argument)
  3    run: training started and failed (the run directory keeps what was written)
  130  run: interrupted (Ctrl-C); the summary covers the epochs done
  serve exits 0 once Ctrl-C (SIGINT/SIGTERM) has drained and stopped its plugins.

Environment overrides use the reference setting names (TAMIYO_STEP_TIMEOUT_MS, ESPER_LEYLINE_SECRET, ...).
A .env file in the working directory is read too; variables already set win.
`;

/**
 * Runs the `esper` command line and resolves to its exit code ({@link EXIT_CODES}). Never calls
 * `process.exit`; every error is printed to `io.stderr` with its code and without a stack trace
 * (except for unexpected, non-Esper errors).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const env = io.env ?? withDotEnv(process.env, cwd);
  let exitCode: number = EXIT_CODES.ok;
  let configForErrors: string | undefined;

  const program = new Command('esper')
    .description('Esper: train, grow and summarise a network under a controller, composed from an esper.config.ts.')
    .version(readVersion(), '-v, --version', 'show the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    // Options after a command are that command's: `esper policy publish … --version <v>` is not `esper --version`.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    .addHelpText('after', EXIT_HELP);

  program
    .command('run')
    .description('train, grow and summarise the run a config (or an example folder with esper.config.ts) composes')
    .argument('<config>', 'esper.config.ts / .json, or a folder holding one (examples/quickstart)')
    .option('--epochs <n>', "epochs to train (overrides the trainer's maxEpochs)", parseEpochs)
    .option('--seed <n>', 'seed of every random generator (overrides run.seed)', parseSeed)
    .option('--out <dir>', 'folder the run directory <dir>/<runId>/ is created in (overrides run.dir)', parseOut)
    .option('--json', 'machine-readable output: JSON lines only (one per epoch, then the summary)')
    .action(async (target: string, opts: { epochs?: number; seed?: number; out?: string; json?: boolean }) => {
      configForErrors = target;
      exitCode = await runCommand(target, opts, io, env, cwd);
    });

  program
    .command('serve')
    .description("start a config's plugins and keep them serving (the Tamiyo service of tamiyo.service.enabled) until SIGINT/SIGTERM, then drain and stop")
    .argument('<config>', 'esper.config.ts / .json, or a folder holding one')
    .option('--out <dir>', "folder the service's run directory <dir>/<runId>/ is created in (overrides run.dir)", parseOut)
    .action(async (target: string, opts: { out?: string }) => {
      configForErrors = target;
      const signal = io.signal ?? new AbortController().signal;
      await serveEsper({
        target,
        signal,
        env,
        cwd,
        ...(opts.out !== undefined ? { out: opts.out } : {}),
        log: io.stderr,
        onReady: ({ config, plugins }) => io.stdout(`serving ${config} (${plugins.join(', ')}); Ctrl-C drains and stops\n`),
      });
      io.stdout('stopped\n');
    });

  addPolicyCommands(program, { io, env, cwd, loader: io.policyTools ?? loadPolicyTools, onConfig: (config) => (configForErrors = config) });

  program
    .command('validate')
    .description('check a config: options, env overrides, plugins and ports (exit 1 with path-precise errors)')
    .argument('<config>', 'esper.config.ts or esper.config.json')
    .action(async (configPath: string) => {
      configForErrors = configPath;
      io.stdout(validateReport(await composeConfig(configPath, env, cwd), configPath));
    });

  program
    .command('config')
    .description('print the resolved config (env overrides applied, secrets masked) and the provider of each port')
    .argument('<config>', 'esper.config.ts or esper.config.json')
    .option('--json', 'machine-readable output')
    .action(async (configPath: string, opts: { json?: boolean }) => {
      configForErrors = configPath;
      io.stdout(configReport(await composeConfig(configPath, env, cwd), configPath, opts.json === true));
    });

  program
    .command('plugins')
    .description('list the composed plugins in boot order with the ports they provide and require')
    .argument('<config>', 'esper.config.ts or esper.config.json')
    .option('--json', 'machine-readable output')
    .action(async (configPath: string, opts: { json?: boolean }) => {
      configForErrors = configPath;
      io.stdout(pluginsReport(await composeConfig(configPath, env, cwd), opts.json === true));
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_CODES.ok;
      if (error.code === 'commander.help') return EXIT_CODES.usage; // `esper` alone: help went to stderr
      const usage = new CliUsageError(`${error.message.replace(/^error: /, '')}. Run \`esper --help\` for usage.`);
      io.stderr(formatCliError(usage));
      return EXIT_CODES.usage;
    }
    io.stderr(formatCliError(error, configForErrors !== undefined ? { config: configForErrors } : {}));
    return exitCodeFor(error);
  }
}

/** The exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  const code = esperCode(error);
  if (code === 'ESPER_CLI_USAGE' || code === 'ESPER_CLI_INVALID_OPTION') return EXIT_CODES.usage;
  if (code === 'ESPER_RUN_FAILED' || code === 'ESPER_KERNEL_TEARDOWN') return EXIT_CODES.trainingFailed;
  return EXIT_CODES.badInput;
}

async function runCommand(
  target: string,
  opts: { epochs?: number; seed?: number; out?: string; json?: boolean },
  io: CliIo,
  env: NonNullable<CliIo['env']>,
  cwd: string,
): Promise<number> {
  const json = opts.json === true;
  const tty = !json && io.progressStream?.isTTY === true ? new TtyProgress(io.progressStream) : undefined;
  const progress: ProgressReporter = tty ?? new JsonLinesProgress(io.stdout);
  const note = (line: string): void => (tty !== undefined ? tty.note(line) : io.stderr(line));
  const printSummary = (summary: RunSummary): void =>
    io.stdout(json ? `${JSON.stringify({ event: 'summary', ...summary })}\n` : `\n${formatSummary(summary, cwd)}`);
  try {
    const { summary } = await runEsper({
      target,
      env,
      cwd,
      progress,
      ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.out !== undefined ? { out: opts.out } : {}),
      ...(io.signal !== undefined ? { signal: io.signal } : {}),
      onLog: (level, message, fields) => {
        const plugin = typeof fields.plugin === 'string' ? ` [${fields.plugin}]` : '';
        note(`${level === 'error' ? '✗' : '!'} ${message}${plugin}\n`);
      },
    });
    printSummary(summary);
    return summary.outcome === 'stopped' ? EXIT_CODES.interrupted : EXIT_CODES.ok;
  } catch (error) {
    // A failed run still has a summary of the epochs it trained: show it above the error.
    if (error instanceof TrainingFailedError && error.summary !== undefined) printSummary(error.summary);
    throw error;
  }
}

function readVersion(): string {
  // src/cli/program.ts in the source tree, dist/src/cli/program.js when built.
  for (const candidate of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'esper') return pkg.version ?? '0.0.0';
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}
