import type { UnsentPublish } from '../../kernel/ports/oona.js';
import type { ClientCore } from './core.js';
import type { PublishJob, PublishOutcome } from './publish-job.js';

const UNSENT_KEEP = 256;
/** Jobs sent together once a trial succeeded (the Redis backend pipelines them in one write). */
const DRAIN_CHUNK = 256;

/** Outcomes that end a job's stay in the buffer. */
function settles(outcome: PublishOutcome): boolean {
  return outcome === 'ok' || outcome === 'dropped' || outcome === 'rate-limited' || outcome === 'unknown';
}

/**
 * The publish retry buffer: after a backend error (or while the publish breaker is open),
 * publishes wait here in order, bounded by `publishRetryBufferSize`, and are retried for up to
 * `publishRetryTimeoutMs`; what cannot be sent resolves 'unsent' and is listed by
 * {@link RetryBuffer.unsent}. While jobs wait, new publishes queue behind them.
 *
 * While the backend fails, only the oldest job is tried (one trial at a time, backing off, or
 * at the breaker's trial time); a restored backend connection wakes the buffer at once. Once a
 * trial succeeds the rest go out in chunks of 256, sent together, so that a buffer filled
 * during an outage empties faster than new publishes arrive. A job whose append was sent but
 * lost its reply with the connection resolves 'unknown' and is not sent again.
 */
export class RetryBuffer {
  private readonly jobs: PublishJob[] = [];
  private running: Promise<void> | undefined;
  private readonly unsentLog: UnsentPublish[] = [];
  /** Ends the drain's current wait (a restored connection, or close()). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly core: ClientCore,
    /** One routing + append attempt of a buffered job (its failure is the outcome, not a retry). */
    private readonly attempt: (job: PublishJob) => Promise<PublishOutcome>,
    private readonly onUnsent: ((record: UnsentPublish) => void) | undefined,
  ) {
    core.onRestored(() => this.wake?.());
  }

  /** Publishes waiting. */
  get waiting(): number {
    return this.jobs.length;
  }

  /** Resolves once the buffer is empty (at once when it is; close() waits for it). */
  async drained(): Promise<void> {
    this.wake?.();
    if (this.running !== undefined) await this.running;
  }

  /** Puts `job` at the end of the buffer; resolves its final outcome ('unsent' at once when the buffer is full). */
  enqueue(job: PublishJob): Promise<PublishOutcome> {
    if (this.jobs.length >= this.core.settings.publishRetryBufferSize) {
      this.reportUnsent(job, this.core.closed ? 'closed' : 'buffer-full');
      return Promise.resolve('unsent');
    }
    job.deadlineMs = this.core.clock.monotonicMs() + this.core.settings.publishRetryTimeoutMs;
    const promise = new Promise<PublishOutcome>((resolve) => {
      job.resolve = resolve;
    });
    this.jobs.push(job);
    this.running ??= this.drain();
    return promise;
  }

  private async drain(): Promise<void> {
    let delayMs = 25;
    // The buffer fills after a failure: start with a single trial.
    let trial = true;
    for (;;) {
      const now = this.core.clock.monotonicMs();
      // Deadlines follow enqueue order: expired jobs are at the head.
      while (this.jobs.length > 0 && now > this.jobs[0]!.deadlineMs) {
        const job = this.jobs.shift()!;
        this.reportUnsent(job, 'timeout');
        job.resolve?.('unsent');
      }
      if (this.jobs.length === 0) {
        // Cleared in the same microtask that saw the buffer empty, so a later enqueue starts a new drain.
        this.running = undefined;
        return;
      }
      const n = trial ? 1 : Math.min(this.jobs.length, DRAIN_CHUNK);
      const chunk = this.jobs.slice(0, n);
      const outcomes = await Promise.all(chunk.map((job) => this.attempt(job).catch((): PublishOutcome => 'error')));
      // Settled jobs leave; the others stay at the head, in order.
      const kept: PublishJob[] = [];
      let denied = false;
      for (let i = 0; i < n; i++) {
        const outcome = outcomes[i]!;
        if (settles(outcome)) chunk[i]!.resolve?.(outcome);
        else {
          kept.push(chunk[i]!);
          if (outcome === 'breaker-open') denied = true;
        }
      }
      this.jobs.splice(0, n, ...kept);
      if (kept.length === 0) {
        trial = false;
        delayMs = 25;
        continue;
      }
      trial = true;
      if (this.core.closed) {
        // close() drains once: what fails now is given up rather than retried for the whole window.
        for (const job of this.jobs.splice(0)) {
          this.reportUnsent(job, 'closed');
          job.resolve?.('unsent');
        }
        continue;
      }
      let wait = delayMs;
      if (denied) wait = Math.max(1, Math.min(200, this.core.publishBreaker.openUntilMs - this.core.clock.monotonicMs()));
      await this.pause(Math.min(wait, Math.max(1, this.jobs[0]!.deadlineMs - this.core.clock.monotonicMs() + 1)));
      delayMs = Math.min(delayMs * 2, 1_000);
    }
  }

  /** Waits `ms`, or until {@link wake} is called. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private reportUnsent(job: PublishJob, reason: UnsentPublish['reason']): void {
    this.core.metrics.inc('publish_unsent');
    const record: UnsentPublish = {
      messageType: job.messageType,
      stream: job.stream,
      reason,
      atMs: this.core.clock.nowMs(),
      envelope: job.envelope,
    };
    this.unsentLog.push(record);
    if (this.unsentLog.length > UNSENT_KEEP) this.unsentLog.shift();
    this.core.logger?.warn('oona publish given up', { stream: job.stream, messageType: job.messageType, reason });
    try {
      this.onUnsent?.(record);
    } catch {
      // A failing observer must not break the publisher.
    }
  }

  /** Publishes given up so far (most recent last, the last 256). */
  unsent(): readonly UnsentPublish[] {
    return [...this.unsentLog];
  }
}
