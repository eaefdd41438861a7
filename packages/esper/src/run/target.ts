import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { RunTargetNotFoundError } from '../errors.js';

/** File names `esper run <folder>` looks for, in this order. */
export const CONFIG_FILE_NAMES = [
  'esper.config.ts',
  'esper.config.mts',
  'esper.config.js',
  'esper.config.mjs',
  'esper.config.json',
] as const;

/**
 * The config file a run target names: the file itself, or the first of
 * {@link CONFIG_FILE_NAMES} in a folder (an example folder such as `examples/quickstart`).
 * Relative targets are resolved against `cwd`.
 *
 * @throws {@link RunTargetNotFoundError} when the path does not exist or the folder holds no config.
 */
export function resolveRunTarget(target: string, cwd: string): string {
  const path = isAbsolute(target) ? target : resolve(cwd, target);
  if (!existsSync(path)) {
    throw new RunTargetNotFoundError(
      target,
      `${target} does not exist. Pass a config file (esper.config.ts) or a folder holding one (examples/quickstart).`,
    );
  }
  if (!statSync(path).isDirectory()) return path;
  for (const name of CONFIG_FILE_NAMES) {
    const file = join(path, name);
    if (existsSync(file)) return file;
  }
  throw new RunTargetNotFoundError(
    target,
    `${target} is a folder without a config: expected one of ${CONFIG_FILE_NAMES.join(', ')} in it.`,
  );
}
