import { relative, resolve } from 'node:path';
import { createEsper, JsonLogger, loadConfigFile, resolveConfig, type Env } from '@esper/core';
import { resolveRunTarget } from '../run/target.js';

/** Options of {@link serveEsper}. */
export interface ServeEsperOptions {
  /** A config file, or a folder holding `esper.config.ts` (or `.mts`, `.js`, `.mjs`, `.json`). */
  readonly target: string;
  /** Stopping it drains and stops the plugins; `serveEsper` resolves after that. */
  readonly signal: AbortSignal;
  /** Environment for config overrides (default `process.env`). */
  readonly env?: Env;
  /** Resolves the target, `out` and a relative `run.dir` (default `process.cwd()`). */
  readonly cwd?: string;
  /** Folder for the run directory, instead of `run.dir` (where the plugins keep their files: Tamiyo's field reports). */
  readonly out?: string;
  /** Where the plugins' log lines (JSON, one per line) go (default stderr). */
  readonly log?: (line: string) => void;
  /** Called once every plugin has started, with the config as named and the plugin names. */
  readonly onReady?: (info: { readonly config: string; readonly runId: string; readonly plugins: readonly string[] }) => void;
}

/**
 * `esper serve`: boots the plugins of a config (`init`, `start`) and keeps them running until
 * `signal` aborts, then stops them (`stop`, `dispose`, in reverse order), so a plugin that serves
 * (the Tamiyo service of `tamiyo.service.enabled`, decision 0061) drains what it has taken.
 * Nothing is trained: a `Trainer` in the config is only constructed if a plugin resolves it.
 *
 * @throws the config and kernel errors `esper validate` reports, or a plugin's failing start,
 *   before serving; the kernel's `TeardownError` when stopping fails.
 */
export async function serveEsper(options: ServeEsperOptions): Promise<{ readonly runId: string }> {
  const cwd = options.cwd ?? process.cwd();
  const configFile = resolveRunTarget(options.target, cwd);
  const inside = relative(cwd, configFile);
  const source = inside.startsWith('..') || inside === '' ? configFile : inside;
  const raw = (await loadConfigFile(configFile)) as Record<string, unknown>;
  const env = options.env ?? process.env;
  const runSection = typeof raw.run === 'object' && raw.run !== null ? (raw.run as Record<string, unknown>) : {};
  const dir = options.out ?? (typeof runSection.dir === 'string' ? runSection.dir : undefined);
  // As `esper run`: the run directory is resolved against the working directory given.
  const patched = dir !== undefined ? { ...raw, run: { ...runSection, dir: resolve(cwd, dir) } } : raw;
  const resolved = resolveConfig(patched, { env, source });
  const logger = new JsonLogger({ level: resolved.core.log.level, secrets: resolved.secretValues(), ...(options.log !== undefined ? { write: options.log } : {}) });
  const esper = createEsper(resolved, { source, logger });
  const run = await esper.start();
  try {
    options.onReady?.({ config: source, runId: run.info.runId, plugins: esper.config.plugins.map(({ plugin }) => plugin.name) });
    if (!options.signal.aborted) await new Promise<void>((resolve) => options.signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    await run.stop();
  }
  return { runId: run.info.runId };
}
