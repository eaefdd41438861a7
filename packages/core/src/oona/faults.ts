import { appendEntries, submitAppend, type AppendRequest, type StreamBackend } from './backend.js';
import { OonaBackendError } from './errors.js';

/** Backend operations that {@link FaultInjectingBackend} can fail. */
export type FaultOp = Exclude<keyof StreamBackend, 'close' | 'submitAppend'>;

/**
 * Wraps any {@link StreamBackend} so tests can make operations fail ("the next append throws",
 * "every read throws until healed") without touching the real store. Used by the contract
 * suite for breaker and conservative-mode scenarios on every backend.
 */
export class FaultInjectingBackend implements StreamBackend {
  private readonly failNextCount = new Map<FaultOp, number>();
  private readonly failing = new Set<FaultOp>();

  constructor(readonly inner: StreamBackend) {}

  /** The next `times` calls of `op` throw an OonaBackendError. */
  failNext(op: FaultOp, times = 1): void {
    this.failNextCount.set(op, (this.failNextCount.get(op) ?? 0) + times);
  }

  /** Every call of `op` throws until {@link FaultInjectingBackend.heal}. */
  failAlways(op: FaultOp): void {
    this.failing.add(op);
  }

  /** Clears every injected fault. */
  heal(): void {
    this.failNextCount.clear();
    this.failing.clear();
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

  append: StreamBackend['append'] = (...a) => this.guard('append', () => this.inner.append(...a));
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
        const ids = await appendEntries(
          this.inner,
          stream,
          pass.map((i) => entries[i]!),
        );
        pass.forEach((i, k) => (out[i] = ids[k]!));
      }
      return out;
    });
  length: StreamBackend['length'] = (...a) => this.guard('length', () => this.inner.length(...a));
  pendingCount: StreamBackend['pendingCount'] = (...a) => this.guard('pendingCount', () => this.inner.pendingCount(...a));
  groups: StreamBackend['groups'] = (...a) => this.guard('groups', () => this.inner.groups(...a));
  oldestPending: StreamBackend['oldestPending'] = (...a) => this.guard('oldestPending', () => this.inner.oldestPending(...a));
  createGroup: StreamBackend['createGroup'] = (...a) => this.guard('createGroup', () => this.inner.createGroup(...a));
  readGroup: StreamBackend['readGroup'] = (...a) => this.guard('readGroup', () => this.inner.readGroup(...a));
  ack: StreamBackend['ack'] = (...a) => this.guard('ack', () => this.inner.ack(...a));
  autoClaim: StreamBackend['autoClaim'] = (...a) => this.guard('autoClaim', () => this.inner.autoClaim(...a));
  trimMinId: StreamBackend['trimMinId'] = (...a) => this.guard('trimMinId', () => this.inner.trimMinId(...a));
  range: StreamBackend['range'] = (...a) => this.guard('range', () => this.inner.range(...a));
  deleteStream: StreamBackend['deleteStream'] = (...a) => this.guard('deleteStream', () => this.inner.deleteStream(...a));
  close(): Promise<void> {
    return this.inner.close();
  }
}
