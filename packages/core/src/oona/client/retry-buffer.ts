import type { UnsentPublish } from '../../kernel/ports/oona.js';
import { sleep, type ClientCore } from './core.js';
import type { PublishJob, PublishOutcome } from './publish-job.js';

const UNSENT_KEEP = 256;

/**
 * The publish retry buffer: after a backend error (or while the publish breaker is open),
 * publishes wait here in order, bounded by `publishRetryBufferSize`, and are retried one at a
 * time for up to `publishRetryTimeoutMs`; what cannot be sent resolves 'unsent' and is listed
 * by {@link RetryBuffer.unsent}. While jobs wait, new publishes queue behind them.
 */
export class RetryBuffer {
  private readonly jobs: PublishJob[] = [];
  private running: Promise<void> | undefined;
  private readonly unsentLog: UnsentPublish[] = [];

  constructor(
    private readonly core: ClientCore,
    /** One routing + append attempt of a buffered job (its failure is the outcome, not a retry). */
    private readonly attempt: (job: PublishJob) => Promise<PublishOutcome>,
    private readonly onUnsent: ((record: UnsentPublish) => void) | undefined,
  ) {}

  /** Publishes waiting. */
  get waiting(): number {
    return this.jobs.length;
  }

  /** Resolves once the buffer is empty (at once when it is; close() waits for it). */
  async drained(): Promise<void> {
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
    for (;;) {
      if (this.jobs.length === 0) {
        // Cleared in the same microtask that saw the buffer empty, so a later enqueue starts a new drain.
        this.running = undefined;
        return;
      }
      const job = this.jobs[0]!;
      if (this.core.clock.monotonicMs() > job.deadlineMs) {
        this.jobs.shift();
        this.reportUnsent(job, 'timeout');
        job.resolve?.('unsent');
        continue;
      }
      let outcome: PublishOutcome;
      try {
        outcome = await this.attempt(job);
      } catch {
        outcome = 'error';
      }
      if (outcome === 'ok' || outcome === 'dropped' || outcome === 'rate-limited') {
        this.jobs.shift();
        job.resolve?.(outcome);
        delayMs = 25;
        continue;
      }
      let wait = delayMs;
      if (outcome === 'breaker-open') {
        wait = Math.max(1, Math.min(200, this.core.publishBreaker.openUntilMs - this.core.clock.monotonicMs()));
      }
      await sleep(Math.min(wait, Math.max(1, job.deadlineMs - this.core.clock.monotonicMs() + 1)));
      delayMs = Math.min(delayMs * 2, 1_000);
    }
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
