/** How a call under a deadline ended. */
export type DeadlineOutcome<T> =
  | { readonly status: 'ok'; readonly value: T; readonly ms: number }
  | { readonly status: 'timeout'; readonly ms: number }
  | { readonly status: 'error'; readonly error: unknown; readonly ms: number };

/**
 * Calls `fn` with an `AbortSignal` and waits for it at most `timeoutMs`. When the deadline
 * passes first, the signal is aborted and the outcome is `timeout` at once: the wait is really
 * bounded (unlike the reference, which classified a late call as a timeout but still waited for
 * it), and whatever the call later returns or throws is discarded. An `outer` signal that aborts
 * (the run is stopping) aborts the call too and ends the wait as a timeout.
 *
 * JavaScript cannot pre-empt synchronous work: a callee that blocks the event loop delays the
 * timer until it yields.
 */
export async function withDeadline<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  outer?: AbortSignal,
  now: () => number = () => performance.now(),
): Promise<DeadlineOutcome<T>> {
  const started = now();
  const elapsed = () => now() - started;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onOuter: (() => void) | undefined;
  const late = new Promise<DeadlineOutcome<T>>((resolve) => {
    const expire = () => {
      controller.abort(new Error(`deadline of ${timeoutMs} ms passed`));
      resolve({ status: 'timeout', ms: elapsed() });
    };
    timer = setTimeout(expire, timeoutMs);
    if (outer) {
      onOuter = expire;
      if (outer.aborted) expire();
      else outer.addEventListener('abort', onOuter, { once: true });
    }
  });
  let call: Promise<T>;
  try {
    call = fn(controller.signal);
  } catch (error) {
    call = Promise.reject(error);
  }
  const settled = call.then(
    (value): DeadlineOutcome<T> => ({ status: 'ok', value, ms: elapsed() }),
    (error: unknown): DeadlineOutcome<T> => ({ status: 'error', error, ms: elapsed() }),
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
    if (outer && onOuter) outer.removeEventListener('abort', onOuter);
  }
}
