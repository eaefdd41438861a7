import { toBinary } from '@bufbuild/protobuf';
import {
  BusMessageType,
  CircuitBreakerState,
  EmergencySignalSchema,
  MessagePriority,
  type EmergencySignal,
} from '../../leyline/index.js';
import type { PublishBatchItem, PublishOptions, PublishResult, UnsentPublish } from '../../kernel/ports/oona.js';
import { appendEntries, submitAppend, type EntryFields } from '../backend.js';
import { MESSAGE_ROUTES } from '../catalogue.js';
import { OonaClosedError, OonaOutcomeUnknownError, OonaUnroutableError } from '../errors.js';
import { writeEnvelope } from '../envelope-codec.js';
import { TokenBucket } from '../token-bucket.js';
import { describe, type ClientCore } from './core.js';
import { capture, captured, publishResult, PublishJob, type AppendSettler, type PublishOutcome } from './publish-job.js';
import { RetryBuffer } from './retry-buffer.js';

/** What routing reads: backlogs and conservative mode. */
interface RoutingView {
  conservative(): boolean;
  /** Leaves conservative mode (the backlog cleared). */
  leaveConservative(): void;
  /** A job was rerouted and will be appended; its append puts the client in conservative mode. */
  rerouted(): void;
  depth(stream: string): Promise<number>;
}

/**
 * Routing state for one batch, as `publish` of each job in order would see it: each backlog is
 * read once (from the backend, when first needed) and the batch's own entries routed so far
 * are added to it; conservative mode is the client's, entered by the batch's own reroutes.
 */
class BatchRouting implements RoutingView {
  private readonly read = new Map<string, Promise<number>>();
  private readonly added = new Map<string, number>();
  private entered = false;

  constructor(private readonly live: RoutingView) {}

  conservative(): boolean {
    return this.entered || this.live.conservative();
  }

  leaveConservative(): void {
    this.entered = false;
    this.live.leaveConservative();
  }

  /** Later jobs route as if the reroute's append (at the end of the batch) had already succeeded. */
  rerouted(): void {
    this.entered = true;
  }

  async depth(stream: string): Promise<number> {
    let base = this.read.get(stream);
    if (base === undefined) {
      base = this.live.depth(stream);
      this.read.set(stream, base);
    }
    return (await base) + (this.added.get(stream) ?? 0);
  }

  /** Counts a job routed to `stream` (appended at the end of the batch). */
  appended(stream: string): void {
    this.added.set(stream, (this.added.get(stream) ?? 0) + 1);
  }
}

const NO_OPTIONS: PublishOptions = Object.freeze({});

/**
 * The publish side of one client: routing (by type, priority and backlog), backpressure,
 * conservative mode, the emergency token buckets, the publish breaker, signing, batched
 * appends and the {@link RetryBuffer} (reference §1.5/1.6, fixed per decisions 0030, 0033,
 * 0034, 0046, 0048).
 */
export class Publisher {
  private readonly signalBucket: TokenBucket;
  private readonly trafficBucket: TokenBucket;
  /** Publishes waiting for a retry after a backend error. */
  readonly retries: RetryBuffer;
  /** Routing as a single publish sees it: live backlogs, the client's conservative mode. */
  private readonly liveRouting: RoutingView;
  /** Where the appends of single publishes report. */
  private readonly singleSettler: AppendSettler = { appendSettled: (job, error) => this.appended(job, error) };

  constructor(
    private readonly core: ClientCore,
    onUnsent: ((record: UnsentPublish) => void) | undefined,
  ) {
    const mono = (): number => core.clock.monotonicMs();
    this.signalBucket = new TokenBucket(core.settings.emergencyMaxPerMin, mono);
    this.trafficBucket = new TokenBucket(core.settings.emergencyMaxPerMin, mono);
    this.retries = new RetryBuffer(core, (job) => this.attemptPublish(job, false), onUnsent);
    this.liveRouting = {
      conservative: () => core.conservative,
      leaveConservative: () => {
        core.conservative = false;
      },
      // A single publish enters conservative mode when the rerouted entry is appended (published()).
      rerouted: () => undefined,
      depth: (stream) => core.depth(stream),
    };
  }

  async publishEmergencySignal(signal: EmergencySignal, options: { source?: string } = {}): Promise<PublishResult> {
    const outcome = await this.submit(BusMessageType.EMERGENCY_SIGNAL, toBinary(EmergencySignalSchema, signal), {
      emergency: true,
      attributes: { origin: signal.origin, reason: signal.reason, level: String(signal.level) },
    });
    const source = options.source ?? (signal.origin !== '' ? signal.origin : 'unknown');
    this.core.metrics.incSource(
      outcome === 'ok' ? 'emergency_published' : outcome === 'rate-limited' ? 'emergency_rate_dropped' : 'emergency_failed',
      source,
    );
    return publishResult(outcome);
  }

  publish(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions = NO_OPTIONS): Promise<PublishResult> {
    let job: PublishJob;
    try {
      job = this.makeJob(messageType, payload, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    // While older publishes wait for a retry, newer ones queue behind them to keep order.
    if (this.retries.waiting > 0) return this.retries.enqueue(job).then(publishResult);
    return this.startForCaller<PublishResult>(job, true);
  }

  async publishBatch(items: readonly PublishBatchItem[]): Promise<PublishResult[]> {
    this.core.assertOpen();
    // Every item is checked before anything is appended: a bad one rejects the whole batch.
    const jobs = items.map((item) => this.makeJob(item.messageType, item.payload, item.options ?? NO_OPTIONS));
    const outcomes = await this.submitBatch(jobs);
    return outcomes.map(publishResult);
  }

  private submit(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions): Promise<PublishOutcome> {
    const job = this.makeJob(messageType, payload, options);
    // While older publishes wait for a retry, newer ones queue behind them to keep order.
    if (this.retries.waiting > 0) return this.retries.enqueue(job);
    return this.startForCaller<PublishOutcome>(job, false);
  }

  /** Starts `job` for its caller: the promise resolves its outcome, or with `wantsResult` the {@link PublishResult} of it. */
  private startForCaller<T extends PublishOutcome | PublishResult>(job: PublishJob, wantsResult: boolean): Promise<T> {
    const promise = new Promise<T>(capture);
    job.callerResolve = captured.resolve as (value: PublishOutcome | PublishResult) => void;
    job.callerReject = captured.reject;
    job.callerWantsResult = wantsResult;
    this.start(job, true);
    return promise;
  }

  /** Checks the type, encodes (and signs) the envelope. Throws for closed clients and unroutable types. */
  private makeJob(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions): PublishJob {
    this.core.assertOpen();
    const route = MESSAGE_ROUTES.get(messageType);
    if (route === undefined) throw OonaUnroutableError.forType(messageType);
    const preferred = options.stream ?? this.core.streams[route.role] ?? this.core.streams.normal;
    const emergency =
      options.emergency === true ||
      options.priority === MessagePriority.HIGH ||
      options.priority === MessagePriority.CRITICAL ||
      preferred === this.core.streams.emergency;
    const envelope = writeEnvelope(messageType, payload, options.attributes);
    return new PublishJob(messageType, preferred, emergency, envelope, this.core.fieldsFor(envelope));
  }

  /**
   * One routing + append attempt of a job from the retry buffer (`retry` false: a failure is
   * its outcome, the buffer decides what comes next).
   */
  private attemptPublish(job: PublishJob, retry: boolean): Promise<PublishOutcome> {
    const promise = new Promise<PublishOutcome>(capture);
    job.attemptResolve = captured.resolve as (outcome: PublishOutcome) => void;
    job.attemptReject = captured.reject;
    this.start(job, retry);
    return promise;
  }

  /**
   * Routes and appends `job` (reference §1.5/1.6, fixed per decisions 0030, 0033, 0034); the
   * outcome reaches the job's attempt or caller ({@link finish}). With `retry`, a failed or
   * breaker-denied attempt goes to the retry buffer. Never throws.
   */
  private start(job: PublishJob, retry: boolean): void {
    job.retry = retry;
    if (!this.core.publishBreaker.allow()) {
      this.finishAfterFailure(job, () => this.denied());
      return;
    }
    // Latency gauges use the process's high-resolution timer: they describe this host, not a clock that tests steer.
    job.started = this.core.sampled() ? performance.now() : -1;
    let verdict: PublishOutcome | undefined | Promise<PublishOutcome | undefined>;
    try {
      verdict = this.route(job, this.liveRouting);
    } catch (error) {
      this.failed(job, error, job.preferred);
      return;
    }
    if (verdict instanceof Promise) {
      verdict.then(
        (routed) => this.appendRouted(job, routed),
        (error: unknown) => this.failed(job, error, job.preferred),
      );
    } else this.appendRouted(job, verdict);
  }

  /** The append of {@link start} once routing decided. */
  private appendRouted(job: PublishJob, verdict: PublishOutcome | undefined): void {
    if (verdict !== undefined) {
      this.finish(job, verdict);
      return;
    }
    job.settler = this.singleSettler;
    try {
      submitAppend(this.core.backend, job);
    } catch (error) {
      this.failed(job, error, job.stream);
    }
  }

  /** The backend settled the append of a single publish. */
  private appended(job: PublishJob, error: Error | undefined): void {
    job.settler = undefined;
    if (error !== undefined) {
      if (error instanceof OonaOutcomeUnknownError) this.finishAfterFailure(job, () => this.outcomeUnknown(error, job.stream));
      else this.failed(job, error, job.stream);
      return;
    }
    if (job.started >= 0) this.core.metrics.set('publish_latency_ms', performance.now() - job.started);
    this.published(job);
    this.core.publishBreaker.recordSuccess();
    this.finish(job, 'ok');
  }

  /** A routing read or an append of `job` failed. */
  private failed(job: PublishJob, error: unknown, stream: string): void {
    this.finishAfterFailure(job, () => this.publishFailed(error, stream));
  }

  /** Accounts a failure (`account` may throw a closed backend's error, which rejects) and finishes with what follows it. */
  private finishAfterFailure(job: PublishJob, account: () => PublishOutcome): void {
    let next: PublishOutcome | Promise<PublishOutcome>;
    try {
      next = this.afterFailure(job, account(), job.retry);
    } catch (error) {
      this.rejectJob(job, error as Error);
      return;
    }
    this.finish(job, next);
  }

  /** Hands `outcome` to the attempt in progress, or else to the caller (once the retry buffer decided, when it is a promise). */
  private finish(job: PublishJob, outcome: PublishOutcome | Promise<PublishOutcome>): void {
    if (typeof outcome !== 'string') {
      outcome.then(
        (final) => this.finish(job, final),
        (error: unknown) => this.rejectJob(job, error as Error),
      );
      return;
    }
    const attempt = job.attemptResolve;
    if (attempt !== undefined) {
      job.clearAttempt();
      attempt(outcome);
      return;
    }
    const resolve = job.callerResolve;
    job.clearCaller();
    resolve?.(job.callerWantsResult ? publishResult(outcome) : outcome);
  }

  /** Rejects the attempt in progress, or else the caller, with `error` (as {@link finish} resolves them). */
  private rejectJob(job: PublishJob, error: Error): void {
    const attempt = job.attemptReject;
    if (attempt !== undefined) {
      job.clearAttempt();
      attempt(error);
      return;
    }
    const reject = job.callerReject;
    job.clearCaller();
    reject?.(error);
  }

  /**
   * The batch form of {@link attemptPublish}: routes every job in order (reading each backlog
   * once and counting the batch's own entries into it), appends each stream's entries in one
   * backend call, then sends failed and denied jobs to the retry buffer in order.
   */
  private async submitBatch(jobs: readonly PublishJob[]): Promise<PublishOutcome[]> {
    const outcomes = new Array<PublishOutcome | Promise<PublishOutcome>>(jobs.length);
    if (this.retries.waiting > 0) {
      for (let i = 0; i < jobs.length; i++) outcomes[i] = this.retries.enqueue(jobs[i]!);
      return Promise.all(outcomes);
    }
    const routing = new BatchRouting(this.liveRouting);
    const runs = new Map<string, number[]>();
    let routingFailed = false;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      if (!this.core.publishBreaker.allow()) {
        outcomes[i] = this.denied();
        continue;
      }
      let verdict: PublishOutcome | undefined;
      try {
        const routed = this.route(job, routing);
        verdict = routed instanceof Promise ? await routed : routed;
      } catch (error) {
        // A backlog read is made once per batch: its failure counts once for the breaker and the log.
        outcomes[i] = this.publishFailed(error, job.preferred, !routingFailed);
        routingFailed = true;
        continue;
      }
      if (verdict !== undefined) {
        outcomes[i] = verdict;
        continue;
      }
      routing.appended(job.stream);
      const run = runs.get(job.stream);
      if (run === undefined) runs.set(job.stream, [i]);
      else run.push(i);
    }
    await Promise.all([...runs].map(([stream, run]) => this.appendRun(stream, jobs, run, outcomes)));
    let waiting = false;
    for (let i = 0; i < jobs.length; i++) {
      const outcome = outcomes[i] as PublishOutcome;
      const next = this.afterFailure(jobs[i]!, outcome, true);
      if (next !== outcome) {
        outcomes[i] = next;
        waiting = true;
      }
    }
    return waiting ? Promise.all(outcomes) : (outcomes as PublishOutcome[]);
  }

  /**
   * Appends the jobs `run` (indices into `jobs`, all routed to `stream`) in one backend call.
   * `publish_errors` counts the entries that were kept out; the breaker and the log count the
   * call (one failure when any entry failed), as they count one `append` of a single publish.
   */
  private async appendRun(
    stream: string,
    jobs: readonly PublishJob[],
    run: readonly number[],
    outcomes: Array<PublishOutcome | Promise<PublishOutcome>>,
  ): Promise<void> {
    const fields = new Array<EntryFields>(run.length);
    for (let k = 0; k < run.length; k++) fields[k] = jobs[run[k]!]!.fields;
    const started = performance.now();
    let ids: ReadonlyArray<string | Error>;
    try {
      ids = await appendEntries(this.core.backend, stream, fields);
    } catch (error) {
      if (error instanceof OonaClosedError) throw error;
      for (let k = 0; k < run.length; k++) outcomes[run[k]!] = this.publishFailed(error, stream, k === 0);
      return;
    }
    let failures = 0;
    let firstError: unknown;
    for (let k = 0; k < run.length; k++) {
      const i = run[k]!;
      const id = ids[k];
      if (typeof id === 'string') {
        this.published(jobs[i]!);
        outcomes[i] = 'ok';
      } else if (id instanceof OonaOutcomeUnknownError) {
        outcomes[i] = this.outcomeUnknown(id, stream, false);
        if (failures++ === 0) firstError = id;
      } else {
        const error = id ?? new Error('the backend returned no id for this entry');
        // Counted and logged once per call, below.
        outcomes[i] = this.publishFailed(error, stream, false);
        if (failures++ === 0) firstError = error;
      }
    }
    if (failures === 0) {
      this.core.publishBreaker.recordSuccess();
      this.core.metrics.set('publish_latency_ms', performance.now() - started);
    } else {
      this.core.publishBreaker.recordFailure();
      this.core.logger?.warn('oona publish failed', { stream, entries: failures, of: run.length, error: describe(firstError) });
    }
  }

  /**
   * Picks the stream for `job` (sets `job.stream` and `job.rerouted`). Returns undefined when
   * the job should be appended, or the outcome that keeps it out; a promise only when a backlog
   * must be read. Throws (or rejects) with the backend's error when that read fails.
   */
  private route(job: PublishJob, routing: RoutingView): PublishOutcome | undefined | Promise<PublishOutcome | undefined> {
    job.stream = job.preferred;
    job.rerouted = false;
    if (job.emergency) {
      job.stream = this.core.streams.emergency;
      return this.takeEmergencyToken(job);
    }
    const s = this.core.settings;
    const isNormal = job.preferred === this.core.streams.normal;
    const drop = isNormal || job.preferred === this.core.streams.kernelRequests ? s.backpressureDropThreshold : null;
    const reroute = isNormal ? s.emergencyThreshold : null;
    if (drop === null && reroute === null && !routing.conservative()) return this.takeEmergencyToken(job);
    return this.routeByBacklog(job, routing, drop, reroute);
  }

  private async routeByBacklog(
    job: PublishJob,
    routing: RoutingView,
    drop: number | null,
    reroute: number | null,
  ): Promise<PublishOutcome | undefined> {
    if (drop !== null || reroute !== null) {
      const depth = await routing.depth(job.preferred);
      this.core.metrics.max('queue_depth_max', depth);
      if (drop !== null && depth >= drop) {
        this.core.metrics.inc('publish_dropped');
        return 'dropped';
      }
      if (reroute !== null && depth >= reroute) {
        job.stream = this.core.streams.emergency;
        job.rerouted = true;
      }
    }
    if (routing.conservative() && !job.rerouted) {
      if (await this.conservativeCleared(routing)) {
        routing.leaveConservative();
      } else {
        job.stream = this.core.streams.emergency;
        job.rerouted = true;
      }
    }
    const verdict = this.takeEmergencyToken(job);
    if (verdict === undefined && job.rerouted) routing.rerouted();
    return verdict;
  }

  /** The emergency token buckets, for jobs bound to the emergency stream. */
  private takeEmergencyToken(job: PublishJob): PublishOutcome | undefined {
    if (job.stream !== this.core.streams.emergency) return undefined;
    const bucket = job.messageType === BusMessageType.EMERGENCY_SIGNAL ? this.signalBucket : this.trafficBucket;
    if (bucket.tryTake()) return undefined;
    this.core.metrics.inc('emergency_rate_dropped');
    return 'rate-limited';
  }

  /** Bookkeeping of one appended job (the breaker is told by the caller). */
  private published(job: PublishJob): void {
    this.core.metrics.inc('publish_total');
    if (job.stream === this.core.streams.emergency) this.core.metrics.inc('emergency_published');
    if (job.rerouted) {
      this.core.metrics.inc('publish_rerouted');
      this.core.conservative = true;
    }
  }

  /** A publish refused by the open breaker. */
  private denied(): PublishOutcome {
    this.core.metrics.inc('breaker_publish_open');
    this.core.conservative = true;
    return 'breaker-open';
  }

  /**
   * Accounting of one publish that failed on an append or a routing read: `publish_errors` and
   * conservative mode always, the breaker and the log when `call` (the failure of one backend
   * call). A closed backend's error is rethrown.
   */
  private publishFailed(error: unknown, stream: string, call = true): PublishOutcome {
    if (error instanceof OonaClosedError) throw error;
    this.core.metrics.inc('publish_errors');
    this.core.conservative = true;
    if (call) {
      this.core.publishBreaker.recordFailure();
      this.core.logger?.warn('oona publish failed', { stream, error: describe(error) });
    }
    return 'error';
  }

  /**
   * Accounting of a publish whose append was sent and lost its reply with the connection: it
   * may be stored, so it is not retried (a retry could store it twice). Counted as
   * `publish_unknown` and as a backend error (`publish_errors`, the breaker when `call`).
   */
  private outcomeUnknown(error: OonaOutcomeUnknownError, stream: string, call = true): PublishOutcome {
    this.publishFailed(error, stream, call);
    this.core.metrics.inc('publish_unknown');
    return 'unknown';
  }

  /** With `retry` and a retry buffer, a failed or denied job waits there; other outcomes stand. */
  private afterFailure(job: PublishJob, outcome: PublishOutcome, retry: boolean): PublishOutcome | Promise<PublishOutcome> {
    if (retry && (outcome === 'error' || outcome === 'breaker-open') && this.core.settings.publishRetryBufferSize > 0) {
      return this.retries.enqueue(job);
    }
    return outcome;
  }

  /**
   * Conservative mode ends once the publish breaker admits calls again (a half-open trial
   * counts: rerouting it would only hide the recovery) and the normal backlog is under the
   * emergency threshold.
   */
  private async conservativeCleared(routing: RoutingView): Promise<boolean> {
    if (this.core.publishBreaker.state === CircuitBreakerState.CIRCUIT_STATE_OPEN) return false;
    const threshold = this.core.settings.emergencyThreshold;
    if (threshold === null) return true;
    const depth = await routing.depth(this.core.streams.normal);
    this.core.metrics.max('queue_depth_max', depth);
    return depth < threshold;
  }
}
