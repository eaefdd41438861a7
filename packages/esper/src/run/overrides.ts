import { InvalidOptionError } from '../errors.js';

/**
 * What `esper run` flags override in the config. Each wins over the config file and over the
 * environment variable bound to the same option.
 */
export interface RunOverrides {
  /** Epochs to train: the trainer's `maxEpochs` (`tolaria.maxEpochs`). A whole number ≥ 1. */
  readonly epochs?: number;
  /** `run.seed`: seed of every random generator of the run. A whole number ≥ 0. */
  readonly seed?: number;
  /** `run.dir`: folder the run directory `<out>/<runId>/` is created in (relative to the working directory). */
  readonly out?: string;
}

const WHOLE = /^\s*\d+\s*$/;

/** Parses `--epochs`: a whole number ≥ 1. @throws {@link InvalidOptionError} */
export function parseEpochs(value: string): number {
  const n = WHOLE.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidOptionError('--epochs', `--epochs must be a whole number of epochs ≥ 1, got "${value}".`);
  }
  return n;
}

/** Parses `--seed`: a whole number ≥ 0. @throws {@link InvalidOptionError} */
export function parseSeed(value: string): number {
  const n = WHOLE.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidOptionError('--seed', `--seed must be a whole number ≥ 0, got "${value}".`);
  }
  return n;
}

/** Parses `--out`: a non-empty path. @throws {@link InvalidOptionError} */
export function parseOut(value: string): string {
  if (value.trim() === '') throw new InvalidOptionError('--out', '--out must name a folder, got an empty string.');
  return value;
}

/**
 * Checks overrides given programmatically (the command line parses them with the functions
 * above). @throws {@link InvalidOptionError} naming the first bad one.
 */
export function checkOverrides(overrides: RunOverrides): void {
  if (overrides.epochs !== undefined) parseEpochs(String(overrides.epochs));
  if (overrides.seed !== undefined) parseSeed(String(overrides.seed));
  if (overrides.out !== undefined) parseOut(overrides.out);
}
