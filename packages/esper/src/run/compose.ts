import { relative, resolve } from 'node:path';
import { createEsper, loadConfigFile, resolveConfig, Tokens, type Env, type Esper, type Logger, type ResolvedConfig } from '@esper/core';
import { EpochsNotSupportedError, NoTrainerError } from '../errors.js';
import { checkOverrides, type RunOverrides } from './overrides.js';
import { resolveRunTarget } from './target.js';

/** A config composed for `esper run`, with the command line's overrides applied. */
export interface ComposedRun {
  /** The composed Esper (validated config and boot plan); `start()` makes the run. */
  readonly esper: Esper;
  /** Absolute path of the config file. */
  readonly configFile: string;
  /** The config file as the user would name it (relative to the working directory when inside it). */
  readonly source: string;
  /** The plugin that provides the `Trainer` port. */
  readonly trainer: { readonly name: string; readonly configKey: string };
  /** Epochs the trainer will run, when its options say (`maxEpochs`). */
  readonly maxEpochs: number | undefined;
  /** Absolute folder the run directory is created in (`run.dir`, or `--out`). */
  readonly runsDir: string;
}

/** Where {@link composeRun} reads the environment and resolves relative paths. */
export interface ComposeOptions {
  readonly env: Env;
  readonly cwd: string;
  /** Makes the run's logger from the resolved config (default: the kernel's JSON logger on stderr). */
  readonly logger?: (config: ResolvedConfig) => Logger;
}

/**
 * Loads the config a run target names, validates it, checks that some plugin provides the
 * `Trainer` port, and applies the overrides: `epochs` → `<trainer section>.maxEpochs`,
 * `seed` → `run.seed`, `out` → `run.dir`. An override wins over the environment variable bound
 * to the same option. `run.dir` is made absolute against `cwd`.
 *
 * @throws `InvalidOptionError`, `RunTargetNotFoundError`, `ConfigLoadError`, `ConfigValidationError`,
 *   the kernel's plan errors (`MissingProviderError`, …), {@link NoTrainerError}, {@link EpochsNotSupportedError}.
 */
export async function composeRun(target: string, overrides: RunOverrides, options: ComposeOptions): Promise<ComposedRun> {
  checkOverrides(overrides);
  const configFile = resolveRunTarget(target, options.cwd);
  const inside = relative(options.cwd, configFile);
  const source = inside.startsWith('..') || inside === '' ? configFile : inside;
  const raw = await loadConfigFile(configFile);
  const plain = createEsper(raw, { env: options.env, source });

  const entry = plain.config.plugins.find(({ plugin }) => (plugin.provides ?? []).includes(Tokens.Trainer));
  if (entry === undefined) throw new NoTrainerError(source);
  const trainer = { name: entry.plugin.name, configKey: entry.plugin.configKey };
  if (overrides.epochs !== undefined && !('maxEpochs' in entry.options)) {
    throw new EpochsNotSupportedError(trainer.name, trainer.configKey);
  }

  const edits: Array<readonly [section: string, key: string, value: unknown]> = [
    ['run', 'dir', resolve(options.cwd, overrides.out ?? plain.config.core.run.dir)],
  ];
  if (overrides.seed !== undefined) edits.push(['run', 'seed', overrides.seed]);
  if (overrides.epochs !== undefined) edits.push([trainer.configKey, 'maxEpochs', overrides.epochs]);

  const patched: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const shadowed = new Set<string>();
  for (const [section, key, value] of edits) {
    const current = patched[section];
    patched[section] = { ...(typeof current === 'object' && current !== null ? current : {}), [key]: value };
    const fromEnv = plain.config.envOverrides[`${section}.${key}`];
    if (fromEnv !== undefined) shadowed.add(fromEnv);
  }
  const env: Env = Object.fromEntries(Object.entries(options.env).filter(([name]) => !shadowed.has(name)));
  const resolved = resolveConfig(patched, { env, source });
  const logger = options.logger?.(resolved);
  const esper = createEsper(resolved, { source, ...(logger !== undefined ? { logger } : {}) });
  const maxEpochs = esper.config.optionsOf(trainer.configKey)?.maxEpochs;
  return {
    esper,
    configFile,
    source,
    trainer,
    maxEpochs: typeof maxEpochs === 'number' ? maxEpochs : undefined,
    runsDir: esper.config.core.run.dir,
  };
}
