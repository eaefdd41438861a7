import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { OutNotWritableError } from '../errors.js';

/** Files `esper run` writes in the run directory `<out>/<runId>/` (the trainer adds `checkpoints/`). */
export const RUN_FILES = {
  /** The resolved config, secrets masked. */
  config: 'config.json',
  /** One JSON line per command the controller issued, with its outcome. */
  commands: 'commands.ndjson',
  /** The run's summary (what the table at the end shows), as JSON. */
  summary: 'summary.json',
} as const;

/**
 * Checks that runs can be written under `dir`: creates it (and its parents) and writes and
 * removes a probe file. Called before the run starts, so a bad `--out` costs no training.
 *
 * @throws {@link OutNotWritableError} with the system's reason (`EACCES`, `ENOTDIR`, `EROFS`, …).
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  const probe = join(dir, `.esper-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await makeDirs(dir);
    await writeFile(probe, '');
  } catch (error) {
    throw new OutNotWritableError(dir, error);
  }
  await rm(probe, { force: true });
}

/** Writes `value` as indented JSON with a final newline. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

/**
 * `mkdir -p`, one level at a time. Node's `mkdir(…, { recursive: true })` never returns for a
 * path under `/proc` that does not exist (it retries the parent forever), and `--out` is user input.
 */
async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let current = resolve(dir); ; ) {
    try {
      if (!(await stat(current)).isDirectory()) {
        throw Object.assign(new Error(`${current} is not a folder`), { code: 'ENOTDIR' });
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      missing.push(current);
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }
  for (const folder of missing.reverse()) {
    try {
      await mkdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
