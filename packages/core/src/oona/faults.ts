import { appendEntries, submitAppend, type AppendRequest, type StreamBackend } from './backend.js';
import { OonaBackendError, OonaOutcomeUnknownError } from './errors.js';

/** Backend operations that {@link FaultInjectingBackend} can fail. */
export type FaultOp = Exclude<keyof StreamBackend, 'close' | 'submitAppend' | 'onConnectionRestored'>;

/**
 * Wraps any {@link StreamBackend} so tests can make operations fail ("the next append throws",
 * "every read throws until healed") without touching the real store. Used by the contract
 * suite for breaker and conservative-mode scenarios on every backend.
 */
export class FaultInjectingBackend implements StreamBackend {
  private readonly failNextCount = new Map<FaultOp, number>();
  private readonly failing = new Set<FaultOp>();
  private readonly restoredListeners = new Set<() => void>();
  /** Appends still to be stored with their reply lost. */
  private lostReplies = 0;

  constructor(readonly inner: StreamBackend) {
    inner.onConnectionRestored?.(() => this.restoreConnection());
  }

  /** Reports a restored connection to the listeners, as a backend whose connection came back does. */
  restoreConnection(): void {
    for (const listener of [...this.restoredListeners]) listener();
  }

  onConnectionRestored(listener: () => void): () => void {
    this.restoredListeners.add(listener);
    return () => this.restoredListeners.delete(listener);
  }


  /** The next `times` calls of `op` throw an OonaBackendError. */
  failNext(op: FaultOp, times = 1): void {
    this.failNextCount.set(op, (this.failNextCount.get(op) ?? 0) + times);
  }

  /** Every call of `op` throws until {@link FaultInjectingBackend.heal}. */
  failAlways(op: FaultOp): void {
    this.failing.add(op);
  }

  /**
   * The next `times` appends (single, submitted or batch entries) are stored by the inner
   * backend but report an {@link OonaOutcomeUnknownError}, as when the connection is lost after
   * the command was sent and before its reply.
   */
  loseReplyNext(times = 1): void {
    this.lostReplies += times;
  }

  /** Clears every injected fault. */
  heal(): void {
    this.failNextCount.clear();
    this.failing.clear();
    this.lostReplies = 0;
  }

  /** Whether this append's reply is lost (using up one {@link loseReplyNext}). */
  private takeLostReply(): boolean {
    if (this.lostReplies === 0) return false;
    this.lostReplies--;
    return true;
  }

  private lost(): OonaOutcomeUnknownError {
    return new OonaOutcomeUnknownError('injected fault: the reply to this append was lost');
  }

  /** Whether a call of `op` fails now (using up one `failNext`). */
  private takeFault(op: FaultOp): boolean {
    const n = this.failNextCount.get(op) ?? 0;
    if (n > 0) {
      this.failNextCount.set(op, n - 1);
      return true;
    }
    return this.failing.has(op);
  }

  private async guard<T>(op: FaultOp, run: () => Promise<T>): Promise<T> {
    if (this.takeFault(op)) throw new OonaBackendError(`injected fault: ${op}`);
    return run();
  }

  append: StreamBackend['append'] = (...a) =>
    this.guard('append', async () => {
      const lost = this.takeLostReply();
      const id = await this.inner.append(...a);
      if (lost) throw this.lost();
      return id;
    });
  /**
   * Takes the `append` faults (an injected one settles the request with an OonaBackendError,
   * after this returns); otherwise hands the request to the inner backend (its own
   * `submitAppend`, or `append`).
   */
  submitAppend: NonNullable<StreamBackend['submitAppend']> = (request: AppendRequest) => {
    if (this.takeFault('append')) {
      queueMicrotask(() => request.settle(new OonaBackendError('injected fault: append')));
      return;
    }
    if (this.takeLostReply()) {
      submitAppend(this.inner, { stream: request.stream, fields: request.fields, settle: (error) => request.settle(error ?? this.lost()) });
      return;
    }
    submitAppend(this.inner, request);
  };
  /**
   * A batch append rejects as a whole on an `appendMany` fault; otherwise each entry takes the
   * `append` faults in order (`failNext('append', 2)` keeps the first two entries out) and the
   * rest go to the inner backend (its own `appendMany`, or one `append` each).
   */
  appendMany: NonNullable<StreamBackend['appendMany']> = (stream, entries) =>
    this.guard('appendMany', async () => {
      const out = new Array<string | Error>(entries.length);
      const pass: number[] = [];
      for (let i = 0; i < entries.length; i++) {
        if (this.takeFault('append')) out[i] = new OonaBackendError('injected fault: append');
        else pass.push(i);
      }
      if (pass.length > 0) {
        const lost = pass.map(() => this.takeLostReply());
        const ids = await appendEntries(
          this.inner,
          stream,
          pass.map((i) => entries[i]!),
        );
        pass.forEach((i, k) => (out[i] = lost[k] && typeof ids[k] === 'string' ? this.lost() : ids[k]!));
      }
      return out;
    });
  length: StreamBackend['length'] = (...a) => this.guard('length', () => this.inner.length(...a));
  pendingCount: StreamBackend['pendingCount'] = (...a) => this.guard('pendingCount', () => this.inner.pendingCount(...a));
  groups: StreamBackend['groups'] = (...a) => this.guard('groups', () => this.inner.groups(...a));
  oldestPending: StreamBackend['oldestPending'] = (...a) => this.guard('oldestPending', () => this.inner.oldestPending(...a));
  createGroup: StreamBackend['createGroup'] = (...a) => this.guard('createGroup', () => this.inner.createGroup(...a));
  /** The inner backend's `deleteGroup` (rejects with OonaBackendError without it). */
  deleteGroup: NonNullable<StreamBackend['deleteGroup']> = (...a) =>
    this.guard('deleteGroup', () =>
      this.inner.deleteGroup === undefined ? Promise.reject(new OonaBackendError('the wrapped backend cannot delete consumer groups')) : this.inner.deleteGroup(...a),
    );
  readGroup: StreamBackend['readGroup'] = (...a) => this.guard('readGroup', () => this.inner.readGroup(...a));
  ack: StreamBackend['ack'] = (...a) => this.guard('ack', () => this.inner.ack(...a));
  /** The inner backend's `readPending` (none without it: then this resolves no entries). */
  readPending: NonNullable<StreamBackend['readPending']> = (...a) =>
    this.guard('readPending', () => (this.inner.readPending === undefined ? Promise.resolve([]) : this.inner.readPending(...a)));
  autoClaim: StreamBackend['autoClaim'] = (...a) => this.guard('autoClaim', () => this.inner.autoClaim(...a));
  trimMinId: StreamBackend['trimMinId'] = (...a) => this.guard('trimMinId', () => this.inner.trimMinId(...a));
  range: StreamBackend['range'] = (...a) => this.guard('range', () => this.inner.range(...a));
  deleteStream: StreamBackend['deleteStream'] = (...a) => this.guard('deleteStream', () => this.inner.deleteStream(...a));
  close(): Promise<void> {
    return this.inner.close();
  }
}
