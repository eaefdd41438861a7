import type { PublishResult } from '../../kernel/ports/oona.js';
import type { BusMessageType } from '../../leyline/index.js';
import type { AppendRequest, EntryFields } from '../backend.js';

/**
 * How one publish attempt ended. `publish()` resolves `true` for 'ok', `'unknown'` for
 * 'unknown' (sent, and the connection was lost before the reply: maybe stored), `false` for
 * the rest (not stored).
 */
export type PublishOutcome = 'ok' | 'dropped' | 'rate-limited' | 'breaker-open' | 'error' | 'unsent' | 'unknown';

/** What `publish()` resolves for an outcome. */
export function publishResult(outcome: PublishOutcome): PublishResult {
  return outcome === 'ok' ? true : outcome === 'unknown' ? 'unknown' : false;
}

/** Where a job's append reports. */
export interface AppendSettler {
  appendSettled(job: PublishJob, error: Error | undefined): void;
}

/**
 * One message on its way out. It is also the append request handed to the backend, and it
 * carries its caller's promise callbacks: a publish allocates this object, the envelope, its
 * fields and the caller's promise — no promise, closure or wrapper per step (decision 0048).
 */
export class PublishJob implements AppendRequest {
  /** Where routing sent it (the preferred stream until routed). */
  stream: string;
  /** Whether routing diverted it to the emergency stream (backlog or conservative mode). */
  rerouted = false;
  deadlineMs = 0;
  /** Resolves the job's wait in the retry buffer. */
  resolve: ((outcome: PublishOutcome) => void) | undefined = undefined;
  /** Receives the append's result. */
  settler: AppendSettler | undefined = undefined;
  /** Whether a failed or denied attempt goes to the retry buffer. */
  retry = false;
  /** `performance.now()` when the timed attempt started; < 0 when not timed. */
  started = -1;
  /** The caller: `publish()` resolves a {@link PublishResult}, other callers the outcome. */
  callerResolve: ((value: PublishOutcome | PublishResult) => void) | undefined = undefined;
  callerReject: ((error: Error) => void) | undefined = undefined;
  callerWantsResult = false;
  /** One retry-buffer attempt (drain) in progress: its outcome goes here, not to the caller. */
  attemptResolve: ((outcome: PublishOutcome) => void) | undefined = undefined;
  attemptReject: ((error: Error) => void) | undefined = undefined;

  constructor(
    readonly messageType: BusMessageType,
    readonly preferred: string,
    readonly emergency: boolean,
    readonly envelope: Uint8Array,
    readonly fields: EntryFields,
  ) {
    this.stream = preferred;
  }

  settle(error: Error | undefined): void {
    this.settler!.appendSettled(this, error);
  }

  /** Forgets the attempt in progress (it has been settled). */
  clearAttempt(): void {
    this.attemptResolve = undefined;
    this.attemptReject = undefined;
  }

  /** Forgets the caller (it has been settled). */
  clearCaller(): void {
    this.callerResolve = undefined;
    this.callerReject = undefined;
  }
}

/** The resolving functions of the last promise made with {@link capture}: one shared executor, no closure per promise. */
export const captured: { resolve: ((value: never) => void) | undefined; reject: ((error: Error) => void) | undefined } = {
  resolve: undefined,
  reject: undefined,
};
export function capture(resolve: (value: never) => void, reject: (error: Error) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}
