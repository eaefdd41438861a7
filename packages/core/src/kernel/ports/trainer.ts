import type { SystemStatePacket } from '../../leyline/index.js';

/** Options for a training run. */
export interface TrainOptions {
  /** Aborting stops the run at the next step boundary, after a checkpoint. */
  readonly signal?: AbortSignal;
}

/**
 * The trainer port (Tolaria): runs the epoch loop, calls the `Controller` and the
 * `SeedExecutor` inside the epoch-boundary budget, checkpoints, rolls back, and raises
 * emergency signals. `run()` yields one `SystemStatePacket` per epoch.
 */
export interface Trainer {
  run(options?: TrainOptions): AsyncIterable<SystemStatePacket>;
  /** Restores the last good checkpoint; resolves false when none could be restored. */
  rollbackToLastCheckpoint(): Promise<boolean>;
  /** Current counters and gauges (`tolaria.*`), for telemetry and tests. */
  metricsSnapshot(): Readonly<Record<string, number>>;
}
