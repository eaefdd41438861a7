import { randomUUID } from 'node:crypto';
import { create, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  BUS_PAYLOAD_SCHEMAS,
  busMessageTypeOf,
  BusMessageType,
  CircuitBreakerState,
  EmergencySignalSchema,
  MessagePriority,
  MetricPointSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
  decodeMessage,
  type BusPayload,
  type BusPayloadType,
  type EmergencySignal,
} from '../leyline/index.js';
import type { Clock } from '../kernel/ports/clock.js';
import { SystemClock } from '../kernel/ports/clock.js';
import type { Logger } from '../kernel/ports/logger.js';
import type {
  BusSchema,
  ConsumeOptions,
  Oona,
  OonaHandler,
  OonaHealth,
  OonaMessage,
  OonaMessageHandler,
  OonaMessageOf,
  OonaStreams,
  OonaSubscription,
  PublishBatchItem,
  PublishOptions,
  SubscribeOptions,
  TypedConsumeOptions,
  TypedSubscribeOptions,
  UnsentPublish,
} from '../kernel/ports/oona.js';
import type { Signer } from '../kernel/ports/signer.js';
import { appendEntries, submitAppend, type AppendRequest, type EntryFields, type StreamBackend, type StreamEntry } from './backend.js';
import { CircuitBreaker } from './breaker.js';
import { MESSAGE_ROUTES, resolveStreams, workingStreams } from './catalogue.js';
import { OonaBusyGroupError, OonaClosedError, OonaNoGroupError, OonaReadCancelledError, OonaUnroutableError } from './errors.js';
import { readEnvelopeInto, writeEnvelope, type EnvelopeTarget } from './envelope-codec.js';
import { followSignals } from './follow-signals.js';
import { compareStreamIds, minStreamId, nextStreamId } from './ids.js';
import { KernelGuard } from './kernel-guard.js';
import { OONA_COUNTERS, OonaMetrics } from './metrics.js';
import { defaultConsumerName, oonaSettingsSchema, type OonaSettings, type OonaSettingsInput } from './settings.js';
import { TokenBucket } from './token-bucket.js';

/** Options of {@link OonaClient}. */
export interface OonaClientOptions {
  /** Where entries live (Redis, memory). The client owns it and closes it in `close()`. */
  readonly backend: StreamBackend;
  /** Settings (validated, or partial input that is validated here). */
  readonly settings?: OonaSettings | Partial<OonaSettingsInput>;
  /** Wall clock for freshness, TTL and ids in telemetry; monotonic clock for breakers, buckets, latencies. */
  readonly clock?: Clock;
  /** Signs published envelopes and verifies consumed ones; without it the client neither signs nor checks. */
  readonly signer?: Signer;
  readonly logger?: Logger;
  /** Called for every publish given up (also listed by `unsent()`). */
  readonly onUnsent?: (record: UnsentPublish) => void;
}

type PublishOutcome = 'ok' | 'dropped' | 'rate-limited' | 'breaker-open' | 'error' | 'unsent';

/** Where a job's append reports. */
interface AppendSettler {
  appendSettled(job: PublishJob, error: Error | undefined): void;
}

/**
 * One message on its way out. It is also the append request handed to the backend, and it
 * carries its caller's promise callbacks: a publish allocates this object, the envelope, its
 * fields and the caller's promise — no promise, closure or wrapper per step (decision 0048).
 */
class PublishJob implements AppendRequest {
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
  /** The caller: `publish()` resolves a boolean, other callers the outcome. */
  callerResolve: ((value: PublishOutcome | boolean) => void) | undefined = undefined;
  callerReject: ((error: Error) => void) | undefined = undefined;
  callerWantsBoolean = false;
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
const captured: { resolve: ((value: never) => void) | undefined; reject: ((error: Error) => void) | undefined } = {
  resolve: undefined,
  reject: undefined,
};
function capture(resolve: (value: never) => void, reject: (error: Error) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** An entry being delivered: its decoded envelope (retries and dead letters re-encode it) and the message its handler gets. */
class Delivery implements OonaMessageOf<BusPayloadType>, EnvelopeTarget {
  readonly stream: string;
  readonly messageId: string;
  /** Any `BusMessageType` while decoding; only registered types reach a handler. */
  messageType: BusPayloadType;
  payload: Uint8Array;
  attributes: Readonly<Record<string, string>>;
  attempt: number;

  constructor(stream: string, messageId: string) {
    this.stream = stream;
    this.messageId = messageId;
    this.messageType = BusMessageType.UNSPECIFIED as BusMessageType as BusPayloadType;
    this.payload = EMPTY;
    this.attributes = NO_ATTRIBUTES;
    this.attempt = 0;
  }

  decode(): BusPayload<BusPayloadType> {
    return decodeMessage(BUS_PAYLOAD_SCHEMAS[this.messageType], this.payload) as BusPayload<BusPayloadType>;
  }
}

/** Whether a `BusMessageType` number has a payload schema (the consume path's check, one array read). */
const REGISTERED_TYPES: Uint8Array = (() => {
  const types = Object.keys(BUS_PAYLOAD_SCHEMAS).map(Number);
  const table = new Uint8Array(Math.max(...types) + 1);
  for (const type of types) table[type] = 1;
  return table;
})();

/**
 * What the consume path calls: an {@link OonaHandler} (one argument), or a typed handler that
 * gets the decoded message first and the delivery second.
 */
type AnyHandler = (first: never, delivery: OonaMessage) => unknown;

/** Internal options of one consume round. */
interface RoundOptions extends ConsumeOptions {
  /** subscribe(): the signal already follows close(). */
  readonly closeAware?: boolean;
  /** subscribe(): the batch's XACK is returned in flight instead of awaited. */
  readonly ackInFlight?: boolean;
  /** Typed consumers: the payload schema decoded before the handler (which then gets two arguments). */
  readonly decodeAs?: BusSchema;
}

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
const isOk = (outcome: PublishOutcome): boolean => outcome === 'ok';
const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
const EMPTY = new Uint8Array(0);
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});
const NONE: readonly never[] = Object.freeze([]);
const UNSENT_KEEP = 256;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isAbort(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (isAbort(signal)) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Oona client shared by every backend: routing, backpressure, conservative mode, the
 * emergency token buckets, both circuit breakers, HMAC signing and verification, kernel
 * freshness/replay guards, retries with backoff, redelivery of abandoned entries, dead letter,
 * PEL-aware housekeeping, the publish retry buffer and metrics (reference §1.5–1.16 with the
 * defects of §5 fixed; see docs/decisions/0030–0039). Backends only store entries.
 */
export class OonaClient implements Oona {
  readonly streams: OonaStreams;
  readonly group: string;
  readonly consumer: string;
  readonly settings: OonaSettings;

  private readonly backend: StreamBackend;
  private readonly clock: Clock;
  private readonly signer: Signer | undefined;
  private readonly logger: Logger | undefined;
  private readonly onUnsent: ((record: UnsentPublish) => void) | undefined;
  private readonly metrics = new OonaMetrics();
  private readonly publishBreaker: CircuitBreaker;
  private readonly consumeBreaker: CircuitBreaker;
  private readonly signalBucket: TokenBucket;
  private readonly trafficBucket: TokenBucket;
  private readonly guard: KernelGuard;
  private readonly working: string[];
  private conservative = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly buffer: PublishJob[] = [];
  private draining: Promise<void> | undefined;
  private readonly unsentLog: UnsentPublish[] = [];
  private readonly subscriptions = new Set<{ stop(): Promise<void> }>();
  private readonly activeConsumes = new Set<Promise<unknown>>();
  private readonly scheduledRetries = new Map<NodeJS.Timeout, () => Promise<void>>();
  private readonly closeController = new AbortController();
  private readonly lastClaimMs = new Map<string, number>();
  /** Routing as a single publish sees it: live backlogs, the client's conservative mode. */
  private readonly liveRouting: RoutingView;
  /** Latency gauges sample one operation in eight (they report the last sample). */
  private opCount = 0;
  /** Where the appends of single publishes report. */
  private readonly singleSettler: AppendSettler = { appendSettled: (job, error) => this.appended(job, error) };

  constructor(options: OonaClientOptions) {
    this.backend = options.backend;
    this.settings = oonaSettingsSchema.parse(options.settings ?? {});
    this.clock = options.clock ?? new SystemClock();
    this.signer = options.signer;
    this.logger = options.logger;
    this.onUnsent = options.onUnsent;
    this.streams = resolveStreams(this.settings);
    this.group = this.settings.group;
    this.consumer = this.settings.consumer ?? defaultConsumerName();
    this.working = workingStreams(this.streams);
    const mono = (): number => this.clock.monotonicMs();
    this.publishBreaker = new CircuitBreaker(mono, this.settings.publishBreaker);
    this.consumeBreaker = new CircuitBreaker(mono, this.settings.consumeBreaker);
    this.signalBucket = new TokenBucket(this.settings.emergencyMaxPerMin, mono);
    this.trafficBucket = new TokenBucket(this.settings.emergencyMaxPerMin, mono);
    this.liveRouting = {
      conservative: () => this.conservative,
      leaveConservative: () => {
        this.conservative = false;
      },
      // A single publish enters conservative mode when the rerouted entry is appended (published()).
      rerouted: () => undefined,
      depth: (stream) => this.depth(stream),
    };
    this.guard = new KernelGuard(
      () => this.clock.nowMs(),
      this.settings.kernelFreshnessWindowMs,
      this.settings.kernelNonceCacheSize,
    );
  }

  // ---------------------------------------------------------------- groups

  async ensureGroups(): Promise<void> {
    this.assertOpen();
    const streams = [...this.working];
    if (this.streams.deadLetter !== undefined && !streams.includes(this.streams.deadLetter)) {
      streams.push(this.streams.deadLetter);
    }
    for (const stream of streams) {
      try {
        await this.backend.createGroup(stream, this.group);
      } catch (error) {
        if (!(error instanceof OonaBusyGroupError)) throw error;
      }
    }
  }

  // ---------------------------------------------------------------- publish

  publishMessage<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, options?: PublishOptions): Promise<boolean> {
    const type = busMessageTypeOf(schema);
    if (type === undefined) throw OonaUnroutableError.forSchema(schema.typeName);
    return this.publish(type, toBinary(schema, message), options);
  }

  async publishEmergencySignal(signal: EmergencySignal, options: { source?: string } = {}): Promise<boolean> {
    const outcome = await this.submit(BusMessageType.EMERGENCY_SIGNAL, toBinary(EmergencySignalSchema, signal), {
      emergency: true,
      attributes: { origin: signal.origin, reason: signal.reason, level: String(signal.level) },
    });
    const source = options.source ?? (signal.origin !== '' ? signal.origin : 'unknown');
    this.metrics.incSource(
      outcome === 'ok' ? 'emergency_published' : outcome === 'rate-limited' ? 'emergency_rate_dropped' : 'emergency_failed',
      source,
    );
    return outcome === 'ok';
  }

  publish(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions = NO_OPTIONS): Promise<boolean> {
    let job: PublishJob;
    try {
      job = this.makeJob(messageType, payload, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    // While older publishes wait for a retry, newer ones queue behind them to keep order.
    if (this.buffer.length > 0) return this.enqueue(job).then(isOk);
    return this.startForCaller<boolean>(job, true);
  }

  async publishBatch(items: readonly PublishBatchItem[]): Promise<boolean[]> {
    this.assertOpen();
    // Every item is checked before anything is appended: a bad one rejects the whole batch.
    const jobs = items.map((item) => this.makeJob(item.messageType, item.payload, item.options ?? NO_OPTIONS));
    const outcomes = await this.submitBatch(jobs);
    return outcomes.map(isOk);
  }

  private submit(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions): Promise<PublishOutcome> {
    const job = this.makeJob(messageType, payload, options);
    // While older publishes wait for a retry, newer ones queue behind them to keep order.
    if (this.buffer.length > 0) return this.enqueue(job);
    return this.startForCaller<PublishOutcome>(job, false);
  }

  /** Starts `job` for its caller: the promise resolves its outcome, or with `wantsBoolean` whether that was 'ok'. */
  private startForCaller<T extends PublishOutcome | boolean>(job: PublishJob, wantsBoolean: boolean): Promise<T> {
    const promise = new Promise<T>(capture);
    job.callerResolve = captured.resolve as (value: PublishOutcome | boolean) => void;
    job.callerReject = captured.reject;
    job.callerWantsBoolean = wantsBoolean;
    this.start(job, true);
    return promise;
  }

  /** Checks the type, encodes (and signs) the envelope. Throws for closed clients and unroutable types. */
  private makeJob(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions): PublishJob {
    this.assertOpen();
    const route = MESSAGE_ROUTES.get(messageType);
    if (route === undefined) throw OonaUnroutableError.forType(messageType);
    const preferred = options.stream ?? this.streams[route.role] ?? this.streams.normal;
    const emergency =
      options.emergency === true ||
      options.priority === MessagePriority.HIGH ||
      options.priority === MessagePriority.CRITICAL ||
      preferred === this.streams.emergency;
    const envelope = writeEnvelope(messageType, payload, options.attributes);
    return new PublishJob(messageType, preferred, emergency, envelope, this.fieldsFor(envelope));
  }

  private fieldsFor(envelope: Uint8Array): EntryFields {
    return this.signer === undefined
      ? { payload: envelope }
      : { payload: envelope, signature: encoder.encode(this.signer.sign(envelope)) };
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
    if (!this.publishBreaker.allow()) {
      this.finishAfterFailure(job, () => this.denied());
      return;
    }
    // Latency gauges use the process's high-resolution timer: they describe this host, not a clock that tests steer.
    job.started = (this.opCount++ & 7) === 0 ? performance.now() : -1;
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
      submitAppend(this.backend, job);
    } catch (error) {
      this.failed(job, error, job.stream);
    }
  }

  /** The backend settled the append of a single publish. */
  private appended(job: PublishJob, error: Error | undefined): void {
    job.settler = undefined;
    if (error !== undefined) {
      this.failed(job, error, job.stream);
      return;
    }
    if (job.started >= 0) this.metrics.set('publish_latency_ms', performance.now() - job.started);
    this.published(job);
    this.publishBreaker.recordSuccess();
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
    resolve?.(job.callerWantsBoolean ? outcome === 'ok' : outcome);
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
    if (this.buffer.length > 0) {
      for (let i = 0; i < jobs.length; i++) outcomes[i] = this.enqueue(jobs[i]!);
      return Promise.all(outcomes);
    }
    const routing = new BatchRouting(this.liveRouting);
    const runs = new Map<string, number[]>();
    let routingFailed = false;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      if (!this.publishBreaker.allow()) {
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
      ids = await appendEntries(this.backend, stream, fields);
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
      } else {
        const error = id ?? new Error('the backend returned no id for this entry');
        // Counted and logged once per call, below.
        outcomes[i] = this.publishFailed(error, stream, false);
        if (failures++ === 0) firstError = error;
      }
    }
    if (failures === 0) {
      this.publishBreaker.recordSuccess();
      this.metrics.set('publish_latency_ms', performance.now() - started);
    } else {
      this.publishBreaker.recordFailure();
      this.logger?.warn('oona publish failed', { stream, entries: failures, of: run.length, error: describe(firstError) });
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
      job.stream = this.streams.emergency;
      return this.takeEmergencyToken(job);
    }
    const s = this.settings;
    const isNormal = job.preferred === this.streams.normal;
    const drop = isNormal || job.preferred === this.streams.kernelRequests ? s.backpressureDropThreshold : null;
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
      this.metrics.max('queue_depth_max', depth);
      if (drop !== null && depth >= drop) {
        this.metrics.inc('publish_dropped');
        return 'dropped';
      }
      if (reroute !== null && depth >= reroute) {
        job.stream = this.streams.emergency;
        job.rerouted = true;
      }
    }
    if (routing.conservative() && !job.rerouted) {
      if (await this.conservativeCleared(routing)) {
        routing.leaveConservative();
      } else {
        job.stream = this.streams.emergency;
        job.rerouted = true;
      }
    }
    const verdict = this.takeEmergencyToken(job);
    if (verdict === undefined && job.rerouted) routing.rerouted();
    return verdict;
  }

  /** The emergency token buckets, for jobs bound to the emergency stream. */
  private takeEmergencyToken(job: PublishJob): PublishOutcome | undefined {
    if (job.stream !== this.streams.emergency) return undefined;
    const bucket = job.messageType === BusMessageType.EMERGENCY_SIGNAL ? this.signalBucket : this.trafficBucket;
    if (bucket.tryTake()) return undefined;
    this.metrics.inc('emergency_rate_dropped');
    return 'rate-limited';
  }

  /** Bookkeeping of one appended job (the breaker is told by the caller). */
  private published(job: PublishJob): void {
    this.metrics.inc('publish_total');
    if (job.stream === this.streams.emergency) this.metrics.inc('emergency_published');
    if (job.rerouted) {
      this.metrics.inc('publish_rerouted');
      this.conservative = true;
    }
  }

  /** A publish refused by the open breaker. */
  private denied(): PublishOutcome {
    this.metrics.inc('breaker_publish_open');
    this.conservative = true;
    return 'breaker-open';
  }

  /**
   * Accounting of one publish that failed on an append or a routing read: `publish_errors` and
   * conservative mode always, the breaker and the log when `call` (the failure of one backend
   * call). A closed backend's error is rethrown.
   */
  private publishFailed(error: unknown, stream: string, call = true): PublishOutcome {
    if (error instanceof OonaClosedError) throw error;
    this.metrics.inc('publish_errors');
    this.conservative = true;
    if (call) {
      this.publishBreaker.recordFailure();
      this.logger?.warn('oona publish failed', { stream, error: describe(error) });
    }
    return 'error';
  }

  /** With `retry` and a retry buffer, a failed or denied job waits there; other outcomes stand. */
  private afterFailure(job: PublishJob, outcome: PublishOutcome, retry: boolean): PublishOutcome | Promise<PublishOutcome> {
    if (retry && (outcome === 'error' || outcome === 'breaker-open') && this.settings.publishRetryBufferSize > 0) {
      return this.enqueue(job);
    }
    return outcome;
  }

  /**
   * Conservative mode ends once the publish breaker admits calls again (a half-open trial
   * counts: rerouting it would only hide the recovery) and the normal backlog is under the
   * emergency threshold.
   */
  private async conservativeCleared(routing: RoutingView): Promise<boolean> {
    if (this.publishBreaker.state === CircuitBreakerState.CIRCUIT_STATE_OPEN) return false;
    const threshold = this.settings.emergencyThreshold;
    if (threshold === null) return true;
    const depth = await routing.depth(this.streams.normal);
    this.metrics.max('queue_depth_max', depth);
    return depth < threshold;
  }

  private enqueue(job: PublishJob): Promise<PublishOutcome> {
    if (this.buffer.length >= this.settings.publishRetryBufferSize) {
      this.reportUnsent(job, this.closed ? 'closed' : 'buffer-full');
      return Promise.resolve('unsent');
    }
    job.deadlineMs = this.clock.monotonicMs() + this.settings.publishRetryTimeoutMs;
    const promise = new Promise<PublishOutcome>((resolve) => {
      job.resolve = resolve;
    });
    this.buffer.push(job);
    this.draining ??= this.drain();
    return promise;
  }

  private async drain(): Promise<void> {
    let delayMs = 25;
    for (;;) {
      if (this.buffer.length === 0) {
        // Cleared in the same microtask that saw the buffer empty, so a later enqueue starts a new drain.
        this.draining = undefined;
        return;
      }
      const job = this.buffer[0]!;
      if (this.clock.monotonicMs() > job.deadlineMs) {
        this.buffer.shift();
        this.reportUnsent(job, 'timeout');
        job.resolve?.('unsent');
        continue;
      }
      let outcome: PublishOutcome;
      try {
        outcome = await this.attemptPublish(job, false);
      } catch {
        outcome = 'error';
      }
      if (outcome === 'ok' || outcome === 'dropped' || outcome === 'rate-limited') {
        this.buffer.shift();
        job.resolve?.(outcome);
        delayMs = 25;
        continue;
      }
      let wait = delayMs;
      if (outcome === 'breaker-open') {
        wait = Math.max(1, Math.min(200, this.publishBreaker.openUntilMs - this.clock.monotonicMs()));
      }
      await sleep(Math.min(wait, Math.max(1, job.deadlineMs - this.clock.monotonicMs() + 1)));
      delayMs = Math.min(delayMs * 2, 1_000);
    }
  }

  private reportUnsent(job: PublishJob, reason: UnsentPublish['reason']): void {
    this.metrics.inc('publish_unsent');
    const record: UnsentPublish = {
      messageType: job.messageType,
      stream: job.stream,
      reason,
      atMs: this.clock.nowMs(),
      envelope: job.envelope,
    };
    this.unsentLog.push(record);
    if (this.unsentLog.length > UNSENT_KEEP) this.unsentLog.shift();
    this.logger?.warn('oona publish given up', { stream: job.stream, messageType: job.messageType, reason });
    try {
      this.onUnsent?.(record);
    } catch {
      // A failing observer must not break the publisher.
    }
  }

  unsent(): readonly UnsentPublish[] {
    return [...this.unsentLog];
  }

  // ---------------------------------------------------------------- consume

  consumeEmergencySignals(
    handler: (message: OonaMessageOf<BusMessageType.EMERGENCY_SIGNAL>) => void | Promise<void>,
    options: Omit<ConsumeOptions, 'stream' | 'types'> = {},
  ): Promise<number> {
    return this.consume(handler as OonaHandler, { ...options, stream: this.streams.emergency, types: [BusMessageType.EMERGENCY_SIGNAL] });
  }

  consume(handler: OonaHandler, options?: ConsumeOptions): Promise<number>;
  consume<Desc extends BusSchema>(schema: Desc, handler: OonaMessageHandler<Desc>, options?: TypedConsumeOptions): Promise<number>;
  consume(
    first: OonaHandler | BusSchema,
    second?: ConsumeOptions | OonaMessageHandler<BusSchema>,
    third?: TypedConsumeOptions,
  ): Promise<number> {
    if (typeof first === 'function') return this.consumeRound(first as AnyHandler, (second as ConsumeOptions | undefined) ?? {});
    let options: RoundOptions;
    try {
      options = this.typedOptions(first, third);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.consumeRound(second as AnyHandler, options);
  }

  /**
   * The options of a typed consumer: only `schema`'s type reaches the handler, decoded; the
   * stream defaults to the one the type routes to. Throws for a schema no bus type carries.
   */
  private typedOptions(schema: BusSchema, options: TypedConsumeOptions = {}): RoundOptions {
    const type = busMessageTypeOf(schema as BusSchema) as BusPayloadType | undefined;
    const route = type === undefined ? undefined : MESSAGE_ROUTES.get(type);
    if (type === undefined || route === undefined) throw OonaUnroutableError.forSchema((schema as { typeName: string }).typeName);
    return { ...options, stream: options.stream ?? this.streams[route.role] ?? this.streams.normal, types: [type], decodeAs: schema };
  }

  private async consumeRound(handler: AnyHandler, options: RoundOptions): Promise<number> {
    this.assertOpen();
    const run = this.consumeOnce(handler, options);
    this.activeConsumes.add(run);
    try {
      return (await run).handled;
    } finally {
      this.activeConsumes.delete(run);
    }
  }

  /**
   * One claim + read + handle + acknowledge round. With `ackInFlight` (subscribe loops) the
   * batch's XACK is sent but not awaited: it comes back as `acked` (which never rejects) so that
   * the loop can read the next batch while the server acknowledges this one.
   */
  private async consumeOnce(handler: AnyHandler, options: RoundOptions): Promise<{ handled: number; denied: boolean; acked?: Promise<void> }> {
    const stream = options.stream ?? this.streams.normal;
    const count = Math.max(1, options.count ?? 10);
    if (!this.consumeBreaker.allow()) {
      this.metrics.inc('breaker_consume_open');
      this.conservative = true;
      return { handled: 0, denied: true };
    }
    let claimed: ReadonlyArray<StreamEntry & { deliveries: number }> = NONE;
    if (this.settings.retryIdleMs > 0 && this.claimDue(stream)) {
      try {
        claimed = await this.claimStale(stream, count);
      } catch (error) {
        if (error instanceof OonaNoGroupError) throw error;
        this.metrics.inc('consume_errors');
        this.consumeBreaker.recordFailure();
        this.logger?.warn('oona claim failed', { stream, error: describe(error) });
      }
    }
    let fresh: readonly StreamEntry[] = NONE;
    if (claimed.length < count) {
      // subscribe() passes a signal that already follows close(); a consume with its own signal follows both for this read.
      const followed =
        options.signal === undefined || options.closeAware === true ? undefined : followSignals([this.closeController.signal, options.signal]);
      const signal = followed?.signal ?? options.signal ?? this.closeController.signal;
      try {
        fresh = await this.backend.readGroup(stream, this.group, this.consumer, {
          count: count - claimed.length,
          ...(claimed.length === 0 && options.blockMs !== undefined ? { blockMs: options.blockMs } : {}),
          signal,
        });
      } catch (error) {
        if (error instanceof OonaReadCancelledError || signal.aborted) {
          if (claimed.length === 0) return { handled: 0, denied: false };
        } else {
          if (!(error instanceof OonaNoGroupError)) {
            this.metrics.inc('consume_errors');
            this.consumeBreaker.recordFailure();
          }
          if (claimed.length === 0) throw error;
        }
      } finally {
        followed?.unlink();
      }
    }
    this.consumeBreaker.recordSuccess();
    const acks: string[] = [];
    let handled = 0;
    let acked: Promise<void> | undefined;
    try {
      // Entries are handled one after another; a handler that returns synchronously is not
      // awaited (an await per message cost more than the rest of the in-memory path).
      for (let i = 0; i < claimed.length; i++) {
        const entry = claimed[i]!;
        const ran = this.process(stream, entry, entry.deliveries, handler, options, acks);
        if (typeof ran === 'boolean' ? ran : await ran) handled++;
        this.metrics.inc('redelivered_total');
      }
      for (let i = 0; i < fresh.length; i++) {
        const ran = this.process(stream, fresh[i]!, 1, handler, options, acks);
        if (typeof ran === 'boolean' ? ran : await ran) handled++;
      }
    } finally {
      // Acknowledged only after every handler of the batch has returned (or its retry is queued).
      // close() waits for it among the active consumes, even when this round threw.
      if (acks.length > 0) acked = this.trackAck(this.ackBatch(stream, acks));
      if (acked !== undefined && options.ackInFlight !== true) await acked;
    }
    return options.ackInFlight === true && acked !== undefined ? { handled, denied: false, acked } : { handled, denied: false };
  }

  /** XACK of a handled batch; failures are counted and logged, never thrown. */
  private async ackBatch(stream: string, acks: readonly string[]): Promise<void> {
    try {
      await this.backend.ack(stream, this.group, acks);
    } catch (error) {
      // Unacknowledged entries stay pending and are redelivered after retryIdleMs.
      this.metrics.inc('consume_errors');
      this.consumeBreaker.recordFailure();
      this.logger?.warn('oona ack failed', { stream, count: acks.length, error: describe(error) });
    }
  }

  /** Keeps an acknowledgement in flight among the work that close() waits for. */
  private trackAck(acked: Promise<void>): Promise<void> {
    this.activeConsumes.add(acked);
    return acked.finally(() => this.activeConsumes.delete(acked));
  }

  /** Whether the claim sweep should run on `stream` now (at most every retryIdleMs / 2, capped at 5 s). */
  private claimDue(stream: string): boolean {
    const now = this.clock.monotonicMs();
    const last = this.lastClaimMs.get(stream);
    const interval = Math.min(5_000, Math.max(1, Math.floor(this.settings.retryIdleMs / 2)));
    if (last !== undefined && now - last < interval) return false;
    this.lastClaimMs.set(stream, now);
    return true;
  }

  /** Claims entries idle for `retryIdleMs` from any consumer of the group (bounded scan). */
  private async claimStale(stream: string, count: number): Promise<Array<StreamEntry & { deliveries: number }>> {
    const out: Array<StreamEntry & { deliveries: number }> = [];
    let cursor = '0-0';
    for (let step = 0; step < 16 && out.length < count; step++) {
      const result = await this.backend.autoClaim(
        stream,
        this.group,
        this.consumer,
        this.settings.retryIdleMs,
        cursor,
        Math.min(this.settings.retryBatchSize, count - out.length),
      );
      out.push(...result.entries);
      if (result.next === '0-0' || compareStreamIds(result.next, cursor) <= 0) break;
      cursor = result.next;
    }
    return out;
  }

  /**
   * Handles one entry: returns whether the handler ran, synchronously when the handler did
   * (a promise only when the handler returned one, or for a failure or an exhausted entry).
   * Ids to acknowledge go to `acks`.
   */
  private process(
    stream: string,
    entry: StreamEntry,
    deliveries: number,
    handler: AnyHandler,
    options: RoundOptions,
    acks: string[],
  ): boolean | Promise<boolean> {
    const bytes = entry.fields.payload;
    if (bytes === undefined) {
      // Not an Oona entry (written by something else): there is no envelope to hand anyone.
      this.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    if (this.signer !== undefined) {
      const sig = entry.fields.signature;
      if (sig === undefined || !this.signer.verify(bytes, decoder.decode(sig))) {
        this.metrics.inc('signature_rejected');
        acks.push(entry.id);
        return false;
      }
    }
    // One object per delivered entry: the decoded envelope and, once checked, the handler's message.
    const envelope = new Delivery(stream, entry.id);
    try {
      readEnvelopeInto(bytes, envelope);
    } catch {
      this.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    const type: number = envelope.messageType;
    if (type < 0 || type >= REGISTERED_TYPES.length || REGISTERED_TYPES[type] === 0) {
      // UNSPECIFIED, or a type this build does not know (a newer contract): no message to decode.
      this.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    const attemptText = envelope.attributes.attempt;
    const previous = attemptText === undefined ? 0 : Number.parseInt(attemptText, 10);
    const attempt = (Number.isFinite(previous) && previous > 0 ? previous : 0) + Math.max(1, deliveries);
    if (attempt > this.settings.retryMaxAttempts) {
      // Abandoned deliveries (consumers that died mid-handler) used up the attempts.
      return this.exhaust(stream, entry, envelope, attempt - 1).then((moved) => {
        if (moved) acks.push(entry.id);
        return false;
      });
    }
    if (options.types !== undefined && !options.types.includes(envelope.messageType)) {
      this.metrics.inc('consume_skipped');
      acks.push(entry.id);
      return false;
    }
    let verdict;
    try {
      verdict = this.guard.check(envelope.messageType, envelope.payload);
    } catch {
      this.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    if (!verdict.ok) {
      this.metrics.inc(verdict.reason === 'stale' ? 'kernel_stale_dropped' : 'kernel_replay_dropped');
      acks.push(entry.id);
      return false;
    }
    envelope.attempt = attempt;
    const message = envelope as unknown as OonaMessage;
    let decoded: unknown;
    if (options.decodeAs !== undefined) {
      try {
        decoded = decodeMessage(options.decodeAs, envelope.payload);
      } catch {
        verdict.release();
        this.metrics.inc('decode_rejected');
        acks.push(entry.id);
        return false;
      }
    }
    const timed = (this.opCount++ & 7) === 0;
    const started = timed ? performance.now() : 0;
    let result: unknown;
    try {
      result = options.decodeAs === undefined ? (handler as OonaHandler)(message) : handler(decoded as never, message);
    } catch (error) {
      return this.handlerFailed(error, stream, entry, envelope, attempt, verdict, acks);
    }
    if (isThenable(result)) return this.settle(result, stream, entry, envelope, attempt, verdict, acks, timed ? started : -1);
    verdict.commit();
    if (timed) this.metrics.set('consume_latency_ms', performance.now() - started);
    acks.push(entry.id);
    return true;
  }

  /** The end of {@link process} for a handler that returned a promise. `started` < 0: not timed. */
  private async settle(
    result: PromiseLike<unknown>,
    stream: string,
    entry: StreamEntry,
    envelope: EnvelopeTarget,
    attempt: number,
    verdict: { commit(): void; release(): void },
    acks: string[],
    started: number,
  ): Promise<boolean> {
    try {
      await result;
    } catch (error) {
      return this.handlerFailed(error, stream, entry, envelope, attempt, verdict, acks);
    }
    verdict.commit();
    if (started >= 0) this.metrics.set('consume_latency_ms', performance.now() - started);
    acks.push(entry.id);
    return true;
  }

  private async handlerFailed(
    error: unknown,
    stream: string,
    entry: StreamEntry,
    envelope: EnvelopeTarget,
    attempt: number,
    verdict: { release(): void },
    acks: string[],
  ): Promise<boolean> {
    verdict.release();
    this.metrics.inc('handler_failures');
    this.logger?.warn('oona handler failed', { stream, messageId: entry.id, attempt, error: describe(error) });
    await this.handleFailure(stream, entry, envelope, attempt, acks);
    return true;
  }

  /** Retry with backoff, or dead-letter after the last attempt (append first, then acknowledge). */
  private async handleFailure(stream: string, entry: StreamEntry, envelope: EnvelopeTarget, attempt: number, acks: string[]): Promise<void> {
    if (attempt >= this.settings.retryMaxAttempts) {
      if (await this.exhaust(stream, entry, envelope, attempt)) acks.push(entry.id);
      return;
    }
    const delayMs = this.settings.retryBackoffMs === 0 ? 0 : Math.min(this.settings.retryBackoffMaxMs, this.settings.retryBackoffMs * 2 ** (attempt - 1));
    const requeue = async (): Promise<void> => {
      const fields = this.rewrite(envelope, attempt);
      try {
        await this.backend.append(stream, fields);
        await this.backend.ack(stream, this.group, [entry.id]);
        this.metrics.inc('retry_total');
      } catch (error) {
        // The original stays pending; the claim sweep redelivers it.
        this.metrics.inc('consume_errors');
        this.logger?.warn('oona requeue failed', { stream, messageId: entry.id, error: describe(error) });
      }
    };
    if (delayMs === 0 || this.closeController.signal.aborted) {
      await requeue();
      return;
    }
    const timer = setTimeout(() => {
      this.scheduledRetries.delete(timer);
      void requeue();
    }, delayMs);
    this.scheduledRetries.set(timer, requeue);
  }

  private rewrite(envelope: EnvelopeTarget, attempt: number): EntryFields {
    return this.fieldsFor(writeEnvelope(envelope.messageType, envelope.payload, { ...envelope.attributes, attempt: String(attempt) }));
  }

  /** Moves an exhausted message to the dead-letter stream; resolves whether the original may be acknowledged. */
  private async exhaust(stream: string, entry: StreamEntry, envelope: EnvelopeTarget, attempt: number): Promise<boolean> {
    const dlq = this.streams.deadLetter;
    if (dlq === undefined) {
      this.metrics.inc('dead_letter_discarded');
      return true;
    }
    try {
      await this.backend.append(dlq, this.rewrite(envelope, attempt));
      this.metrics.inc('dead_letter_total');
      return true;
    } catch (error) {
      this.metrics.inc('consume_errors');
      this.logger?.warn('oona dead-letter append failed', { stream, messageId: entry.id, error: describe(error) });
      return false;
    }
  }

  subscribe(handler: OonaHandler, options?: SubscribeOptions): OonaSubscription;
  subscribe<Desc extends BusSchema>(schema: Desc, handler: OonaMessageHandler<Desc>, options?: TypedSubscribeOptions): OonaSubscription;
  subscribe(
    first: OonaHandler | BusSchema,
    second?: SubscribeOptions | OonaMessageHandler<BusSchema>,
    third?: TypedSubscribeOptions,
  ): OonaSubscription {
    if (typeof first === 'function') return this.subscribeLoop(first as AnyHandler, (second as SubscribeOptions | undefined) ?? {});
    return this.subscribeLoop(second as AnyHandler, { ...third, ...this.typedOptions(first, third) });
  }

  private subscribeLoop(handler: AnyHandler, options: SubscribeOptions & RoundOptions): OonaSubscription {
    this.assertOpen();
    const stream = options.stream ?? this.streams.normal;
    const controller = new AbortController();
    const followed = followSignals([controller.signal, this.closeController.signal, options.signal]);
    const signal = followed.signal;
    const blockMs = options.blockMs ?? 1_000;
    const readOptions = { ...options, stream, blockMs, signal, closeAware: true, ackInFlight: true };
    const done = (async () => {
      // The last batch's XACK, on its way while the next batch is read and handled; the loop
      // waits for it before it keeps the next one, so at most two are ever in flight.
      let acking: Promise<void> | undefined;
      try {
        let backoffMs = 50;
        while (!signal.aborted) {
          try {
            const run = this.consumeOnce(handler, readOptions);
            this.activeConsumes.add(run);
            let result: { handled: number; denied: boolean; acked?: Promise<void> };
            try {
              result = await run;
            } finally {
              this.activeConsumes.delete(run);
            }
            if (result.acked !== undefined) {
              if (acking !== undefined) await acking;
              acking = result.acked;
            }
            backoffMs = 50;
            if (result.denied) {
              const waitMs = Math.max(1, Math.min(1_000, this.consumeBreaker.openUntilMs - this.clock.monotonicMs()));
              await sleep(waitMs, signal);
            }
          } catch (error) {
            if (signal.aborted) break;
            if (options.onError) options.onError(error);
            else this.logger?.warn('oona consumer loop error', { stream, error: describe(error) });
            await sleep(backoffMs, signal);
            backoffMs = Math.min(backoffMs * 2, 2_000);
          }
        }
      } finally {
        // stop() and close() resolve once the last batch is acknowledged.
        if (acking !== undefined) await acking;
        followed.unlink();
      }
    })();
    const subscription = {
      stream,
      done,
      stop: async (): Promise<void> => {
        controller.abort();
        await done;
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  // ---------------------------------------------------------------- depth, metrics, health

  /** Pending + undelivered entries of this client's group; the raw length when the group is missing. */
  private async depth(stream: string): Promise<number> {
    const groups = await this.backend.groups(stream);
    const mine = groups.find((g) => g.name === this.group);
    if (mine === undefined) return this.backend.length(stream);
    const lag = mine.lag ?? (await this.backend.length(stream));
    return mine.pending + lag;
  }

  backlog(stream: string): Promise<number> {
    return this.depth(stream);
  }

  streamLength(stream: string): Promise<number> {
    return this.backend.length(stream);
  }

  async metricsSnapshot(): Promise<Readonly<Record<string, number>>> {
    const out: Record<string, number> = {};
    for (const key of OONA_COUNTERS) out[key] = this.metrics.counters[key];
    const depths: Array<[string, string]> = [
      ['queue_depth_normal', this.streams.normal],
      ['queue_depth_emergency', this.streams.emergency],
      ['queue_depth_telemetry', this.streams.telemetry],
      ['queue_depth_policy', this.streams.policy],
      ['queue_depth_kernel_requests', this.streams.kernelRequests],
      ['queue_depth_kernel_ready', this.streams.kernelReady],
      ['queue_depth_kernel_errors', this.streams.kernelErrors],
    ];
    for (const [key, stream] of depths) {
      try {
        out[key] = await this.depth(stream);
        this.metrics.max('queue_depth_max', out[key]);
      } catch {
        out[key] = -1;
      }
    }
    out.queue_depth_max = this.metrics.counters.queue_depth_max;
    try {
      out.dead_letter_length = this.streams.deadLetter === undefined ? 0 : await this.backend.length(this.streams.deadLetter);
    } catch {
      out.dead_letter_length = -1;
    }
    out.publish_breaker_state = this.publishBreaker.state;
    out.consume_breaker_state = this.consumeBreaker.state;
    out.conservative_mode = this.conservative ? 1 : 0;
    out.publish_buffered = this.buffer.length;
    for (const [key, value] of this.metrics.bySource) out[key] = value;
    return out;
  }

  async emitMetricsTelemetry(source = 'oona', level: TelemetryLevel = TelemetryLevel.INFO): Promise<boolean> {
    const snapshot = await this.metricsSnapshot();
    const packet = create(TelemetryPacketSchema, {
      packetId: `oona-${randomUUID()}`,
      sourceSubsystem: source,
      level,
      timestamp: timestampFromMs(this.clock.nowMs()),
      metrics: Object.entries(snapshot).map(([name, value]) => create(MetricPointSchema, { name: `oona.${name}`, value })),
    });
    return this.publish(BusMessageType.TELEMETRY, toBinary(TelemetryPacketSchema, packet));
  }

  health(): OonaHealth {
    const p = this.publishBreaker.snapshot();
    const c = this.consumeBreaker.snapshot();
    return {
      publishState: p.state,
      publishFailures: p.failureCount,
      consumeState: c.state,
      consumeFailures: c.failureCount,
      conservativeMode: this.conservative,
      bufferedPublishes: this.buffer.length,
      closed: this.closed,
    };
  }

  // ---------------------------------------------------------------- housekeeping

  async housekeeping(): Promise<Readonly<Record<string, number>>> {
    this.assertOpen();
    const s = this.settings;
    const now = this.clock.nowMs();
    const plan: Array<{ stream: string; ttl: number | null; cap: number | null }> = this.working.map((stream) => ({
      stream,
      ttl: s.messageTtlMs,
      cap: stream === this.streams.normal || stream === this.streams.kernelRequests ? s.maxStreamLength : null,
    }));
    if (this.streams.deadLetter !== undefined && !this.working.includes(this.streams.deadLetter)) {
      plan.push({ stream: this.streams.deadLetter, ttl: s.deadLetterTtlMs, cap: s.deadLetterMaxLength });
    }
    const removed: Record<string, number> = {};
    for (const { stream, ttl, cap } of plan) {
      if (!ttl && !cap) continue;
      let bound: string | undefined = ttl ? `${Math.max(0, now - ttl)}-0` : undefined;
      if (cap) {
        const length = await this.backend.length(stream);
        if (length > cap) {
          // The first entry to keep; at most 10 000 are looked at per run (the next run continues).
          const k = Math.min(length - cap, 10_000);
          const head = await this.backend.range(stream, '-', '+', k + 1);
          const keep = head[head.length - 1];
          if (keep !== undefined) bound = bound === undefined ? keep.id : compareStreamIds(keep.id, bound) > 0 ? keep.id : bound;
        }
      }
      if (bound === undefined) {
        removed[stream] = 0;
        continue;
      }
      const safe = await this.safeTrimBound(stream);
      const minId = safe === undefined ? bound : minStreamId(bound, safe);
      if (safe !== undefined && compareStreamIds(safe, bound) < 0) {
        // Blocked only if an entry the bound would have removed is still needed.
        const [first] = await this.backend.range(stream, safe, '+', 1);
        if (first !== undefined && compareStreamIds(first.id, bound) < 0) this.metrics.inc('trim_blocked');
      }
      removed[stream] = await this.backend.trimMinId(stream, minId);
    }
    return removed;
  }

  /** The smallest id some group still needs (oldest pending, or first undelivered), if any group exists. */
  private async safeTrimBound(stream: string): Promise<string | undefined> {
    let safe: string | undefined;
    for (const g of await this.backend.groups(stream)) {
      let need = nextStreamId(g.lastDeliveredId);
      if (g.pending > 0) {
        const oldest = await this.backend.oldestPending(stream, g.name);
        if (oldest !== undefined) need = minStreamId(need, oldest);
      }
      safe = safe === undefined ? need : minStreamId(safe, need);
    }
    return safe;
  }

  // ---------------------------------------------------------------- lifecycle

  private assertOpen(): void {
    if (this.closed) throw new OonaClosedError();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      // Subscriptions stop reading; handlers in progress finish.
      this.closeController.abort();
      await Promise.allSettled([...this.subscriptions].map((sub) => sub.stop()));
      await Promise.allSettled([...this.activeConsumes]);
      // Scheduled retries are requeued now rather than lost.
      const retries = [...this.scheduledRetries];
      this.scheduledRetries.clear();
      for (const [timer] of retries) clearTimeout(timer);
      await Promise.allSettled(retries.map(([, run]) => run()));
      // Buffered publishes get their verdict (drain gives up at once once closing).
      if (this.draining !== undefined) await this.draining;
      await this.backend.close();
    })();
    return this.closing;
  }
}
