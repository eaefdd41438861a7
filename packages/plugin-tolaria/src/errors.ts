import { EsperError } from '@esper/core';

/**
 * Training data cannot be used: the `mnist` package is missing or damaged, a split asks for more
 * samples than there are, or arrays and labels do not fit. Nothing was trained.
 */
export class DatasetError extends EsperError<'ESPER_TOLARIA_DATASET'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_TOLARIA_DATASET', message, options);
  }
}

/**
 * The trainer was used in a way it does not allow: `run()` while another `run()` of the same
 * trainer is still iterating, or a host whose data inputs the loop cannot feed.
 */
export class TrainerUsageError extends EsperError<'ESPER_TOLARIA_USAGE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_TOLARIA_USAGE', message, options);
  }
}

/** An epoch checkpoint could not be written or read; the message names the file. */
export class CheckpointError extends EsperError<'ESPER_TOLARIA_CHECKPOINT'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_TOLARIA_CHECKPOINT', message, options);
  }
}
