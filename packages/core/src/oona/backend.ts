/**
 * The narrow stream-backend port that {@link OonaClient} talks to. Every Oona rule (routing,
 * breakers, signatures, retries, guards, metrics) lives in the client; a backend only stores
 * entries, tracks consumer groups and pending entries, and trims. `@esper/plugin-oona-redis`
 * implements it with Redis Stream commands, {@link MemoryStreamBackend} in process.
 *
 * Errors: a missing group is {@link OonaNoGroupError}, a duplicate group
 * {@link OonaBusyGroupError}; an append that was sent but whose reply was lost with the
 * connection is an {@link OonaOutcomeUnknownError} (it may be stored: the client reports the
 * publish as `'unknown'` and does not send it again); everything else a backend cannot do is an
 * {@link OonaBackendError} (or any thrown error), which the client counts as a failure and, for
 * appends, retries.
 *
 * Ids are `<ms>-<seq>` strings of two unsigned 64-bit integers; compare them with
 * `compareStreamIds` (never as numbers).
 */

/** Fields of one entry. Oona writes `payload` (envelope bytes) and, when signing, `signature`. */
export type EntryFields = Readonly<Record<string, Uint8Array>>;

/** One stream entry. */
export interface StreamEntry {
  readonly id: string;
  readonly fields: EntryFields;
}

/** One entry handed out by {@link StreamBackend.autoClaim}, with how often it has been delivered. */
export interface ClaimedEntry extends StreamEntry {
  /** Delivery count after this claim (≥ 2 for an entry that was read before). */
  readonly deliveries: number;
}

/** Result of one {@link StreamBackend.autoClaim} step. */
export interface AutoClaimResult {
  /** Cursor for the next call; `0-0` when the scan of the pending list is complete. */
  readonly next: string;
  readonly entries: readonly ClaimedEntry[];
  /** Pending ids whose entries no longer exist (trimmed); the backend removed them from the pending list. */
  readonly deletedIds: readonly string[];
}

/** State of one consumer group on a stream. */
export interface GroupInfo {
  readonly name: string;
  /** Entries delivered to the group and not yet acknowledged. */
  readonly pending: number;
  /** Id of the last entry delivered to the group. */
  readonly lastDeliveredId: string;
  /**
   * Entries in the stream not yet delivered to the group, or `undefined` when the backend
   * cannot tell (Redis reports no lag after some trims/deletions).
   */
  readonly lag: number | undefined;
}

/** Options of {@link StreamBackend.append}. */
export interface AppendOptions {
  /** Explicit id; must be greater than the stream's last id. Default: auto id. */
  readonly id?: string;
}

/**
 * One append handed to {@link StreamBackend.submitAppend}: the backend reads `stream` and
 * `fields` and calls `settle` exactly once, after `submitAppend` has returned — with
 * `undefined` once the entry is stored, or with the Error that kept it out. The caller's
 * object is the request itself, so a hot publish path allocates no promise or closure for the
 * append. The new id is not reported (use {@link StreamBackend.append} when it is needed).
 */
export interface AppendRequest {
  readonly stream: string;
  readonly fields: EntryFields;
  settle(error: Error | undefined): void;
}

/** Options of {@link StreamBackend.readGroup}. */
export interface ReadGroupOptions {
  readonly count: number;
  /**
   * Milliseconds to wait for new entries when none are available. `undefined` does not wait;
   * `0` waits until an entry arrives or `signal` aborts (like Redis `BLOCK 0`).
   */
  readonly blockMs?: number;
  /** Cancels a blocking wait (the read then resolves with no entries or rejects with OonaReadCancelledError). */
  readonly signal?: AbortSignal;
}

/** The stream storage operations Oona needs (Redis Streams semantics). */
export interface StreamBackend {
  /** `XADD stream * field value …`; resolves the new id. */
  append(stream: string, fields: EntryFields, options?: AppendOptions): Promise<string>;
  /**
   * Optional: appends `entries` to one stream with auto ids, in order, in as few round trips as
   * the store allows (one call in memory, one write of pipelined XADDs on Redis). Resolves, per entry
   * and in order, its new id or the Error that kept it out; rejects only when nothing could be
   * attempted (closed backend, lost connection). A backend without it gets
   * {@link appendEntries}'s fallback: one `append` per entry, issued without waiting.
   */
  appendMany?(stream: string, entries: readonly EntryFields[]): Promise<ReadonlyArray<string | Error>>;
  /**
   * Optional: `append` with an auto id that reports to `request.settle` instead of a promise,
   * in call order with every other append and command (as `append` would be). Throws
   * {@link OonaClosedError} (and settles nothing) when the backend is closed. The Oona client
   * prefers it on its publish paths when a backend has it; {@link submitAppend} falls back to
   * `append`.
   */
  submitAppend?(request: AppendRequest): void;
  /** `XLEN`: every entry, acknowledged or not. 0 for a missing stream. */
  length(stream: string): Promise<number>;
  /** `XPENDING stream group` count. Throws OonaNoGroupError. */
  pendingCount(stream: string, group: string): Promise<number>;
  /** Every group of the stream (`XINFO GROUPS`); empty for a missing stream. */
  groups(stream: string): Promise<readonly GroupInfo[]>;
  /** Smallest pending id of the group (`XPENDING` summary), undefined when nothing is pending. Throws OonaNoGroupError. */
  oldestPending(stream: string, group: string): Promise<string | undefined>;
  /**
   * `XGROUP CREATE stream group $ MKSTREAM`: the group gets the entries appended from now on.
   * With `startId`, it gets the entries after that id instead (`XGROUP CREATE stream group
   * <startId> MKSTREAM`; the client passes an id it read as the stream's newest earlier). Throws
   * OonaBusyGroupError when it exists.
   */
  createGroup(stream: string, group: string, startId?: string): Promise<void>;
  /**
   * Optional: `XGROUP DESTROY stream group` — removes the group with its pending entries and
   * consumers; a blocked read of the group ends (with no entries, or OonaNoGroupError). Resolves
   * whether it existed (false for a missing stream). Without it, `Oona.deleteGroup` fails.
   */
  deleteGroup?(stream: string, group: string): Promise<boolean>;
  /** `XREADGROUP GROUP g c COUNT n [BLOCK ms] STREAMS stream >`. Throws OonaNoGroupError. */
  readGroup(stream: string, group: string, consumer: string, options: ReadGroupOptions): Promise<readonly StreamEntry[]>;
  /**
   * Optional: `XREADGROUP GROUP g c COUNT n STREAMS stream <after>` — the entries delivered to
   * this consumer and not yet acknowledged, with ids greater than `after`, in id order (entries
   * trimmed since come back with no fields). The client reads them after a read or an
   * acknowledgement failed, so that entries whose delivery reply was lost with a connection are
   * handled now rather than after `retryIdleMs`. Throws OonaNoGroupError.
   */
  readPending?(stream: string, group: string, consumer: string, after: string, count: number): Promise<readonly StreamEntry[]>;
  /** `XACK`; unknown ids are ignored. Resolves how many were acknowledged. */
  ack(stream: string, group: string, ids: readonly string[]): Promise<number>;
  /** `XAUTOCLAIM stream group consumer minIdleMs cursor COUNT n`, with delivery counts. */
  autoClaim(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    cursor: string,
    count: number,
  ): Promise<AutoClaimResult>;
  /** `XTRIM stream MINID = minId` (exact): removes entries with id < minId; resolves the count removed. */
  trimMinId(stream: string, minId: string): Promise<number>;
  /** `XRANGE`/`XREVRANGE` between two ids (`-`, `+` allowed), at most `count` entries. */
  range(stream: string, start: string, end: string, count: number, reverse?: boolean): Promise<readonly StreamEntry[]>;
  /** `DEL stream` (tests and cleanup). */
  deleteStream(stream: string): Promise<void>;
  /**
   * Optional: calls `listener` whenever a connection of this backend is up again after it was
   * lost (not for the first connect). The client then moves its open breakers to half-open at
   * once and retries its buffered publishes, instead of waiting out the breaker timeout.
   * Returns a function that removes the listener.
   */
  onConnectionRestored?(listener: () => void): () => void;
  /** Releases connections and cancels blocking reads. Idempotent. */
  close(): Promise<void>;
}

/**
 * Hands `request` to {@link StreamBackend.submitAppend} when the backend has it, otherwise to
 * `append` (settling the request from its promise). Throws what `submitAppend` throws; a
 * rejected `append` settles the request with the error.
 */
export function submitAppend(backend: StreamBackend, request: AppendRequest): void {
  if (backend.submitAppend !== undefined) {
    backend.submitAppend(request);
    return;
  }
  let appended: Promise<string>;
  try {
    appended = backend.append(request.stream, request.fields);
  } catch (error) {
    appended = Promise.reject(error as Error);
  }
  appended.then(
    () => request.settle(undefined),
    (error: unknown) => request.settle(error instanceof Error ? error : new Error(String(error))),
  );
}

/**
 * Appends `entries` to `stream` through {@link StreamBackend.appendMany} when the backend has it,
 * otherwise through one `append` per entry, all issued at once in order (as that many
 * concurrent publishes would be). Resolves per entry its id or the Error that kept it out;
 * rejects only when the backend's `appendMany` rejects.
 */
export function appendEntries(backend: StreamBackend, stream: string, entries: readonly EntryFields[]): Promise<ReadonlyArray<string | Error>> {
  if (backend.appendMany !== undefined) return backend.appendMany(stream, entries);
  return Promise.all(
    entries.map((fields) => {
      let appended: Promise<string>;
      try {
        appended = backend.append(stream, fields);
      } catch (error) {
        appended = Promise.reject(error as Error);
      }
      return appended.catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    }),
  );
}
