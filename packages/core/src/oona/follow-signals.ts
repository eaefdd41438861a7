/** A signal that follows others until {@link FollowedSignal.unlink}. */
export interface FollowedSignal {
  /** Aborts (with the source's reason) when the first source aborts. */
  readonly signal: AbortSignal;
  /** Stops following the sources, so that they no longer reference this signal. Idempotent. */
  unlink(): void;
}

/**
 * `AbortSignal.any(sources)` with an explicit end. Node 20's `AbortSignal.any` keeps a composite
 * that ever had an `abort` listener alive for as long as its sources live, even after the
 * listener is removed (nodejs/node#48419, #54614, #64476): every Oona subscription and every
 * consume with its own signal leaked its client and, through the client, the whole in-memory
 * stream. A listener on each source that is removed by `unlink()` leaves nothing behind.
 */
export function followSignals(sources: ReadonlyArray<AbortSignal | undefined>): FollowedSignal {
  const controller = new AbortController();
  const live = sources.filter((s): s is AbortSignal => s !== undefined);
  const already = live.find((s) => s.aborted);
  if (already !== undefined) {
    controller.abort(already.reason);
    return { signal: controller.signal, unlink: () => undefined };
  }
  const unlink = (): void => {
    for (const s of live) s.removeEventListener('abort', onAbort);
  };
  function onAbort(this: AbortSignal): void {
    unlink();
    controller.abort(this.reason);
  }
  for (const s of live) s.addEventListener('abort', onAbort, { once: true });
  return { signal: controller.signal, unlink };
}
