import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
    await mkdir(dir, { recursive: true });
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
