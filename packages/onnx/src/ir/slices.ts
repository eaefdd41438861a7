/** Options of {@link drainInSlices}. */
export interface SliceOptions {
  /** Work (in the units the steps report, bytes here) done between two yields. Default 2 MiB. */
  readonly chunkBytes?: number;
  /** Awaited between slices. Default: one `setImmediate` turn, so timers and I/O run in between. */
  readonly yieldControl?: () => Promise<void>;
}

/**
 * Runs a generator that yields how much work each step did (bytes of weights, say) to its end,
 * awaiting `yieldControl` each time about `chunkBytes` has been done, and returns its result.
 * The steps are the same as running it in one go, so both give the same result; this only
 * keeps a long synchronous job from holding the event loop in one stretch.
 */
export async function drainInSlices<T>(steps: Generator<number, T, void>, options: SliceOptions = {}): Promise<T> {
  const chunkBytes = options.chunkBytes ?? 2 * 1024 * 1024;
  const pause = options.yieldControl ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  let pending = 0;
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    pending += step.value;
    if (pending >= chunkBytes) {
      pending = 0;
      await pause();
    }
  }
}

/** Runs such a generator in one go. */
export function drainAtOnce<T>(steps: Generator<number, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}
