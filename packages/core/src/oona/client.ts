import { randomUUID } from 'node:crypto';
import { create, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  BusMessageType,
  CircuitBreakerState,
  EmergencySignalSchema,
  MessagePriority,
  MetricPointSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
  type EmergencySignal,
} from '../leyline/index.js';
import type { Clock } from '../kernel/ports/clock.js';
import { SystemClock } from '../kernel/ports/clock.js';
import type { Logger } from '../kernel/ports/logger.js';
import type {
  ConsumeOptions,
  Oona,
  OonaHandler,
  OonaHealth,
  OonaMessage,
  OonaStreams,
  OonaSubscription,
  PublishOptions,
  SubscribeOptions,
  UnsentPublish,
} from '../kernel/ports/oona.js';
import type { Signer } from '../kernel/ports/signer.js';
import type { EntryFields, StreamBackend, StreamEntry } from './backend.js';
import { CircuitBreaker } from './breaker.js';
import { MESSAGE_ROUTES, messageTypeOf, resolveStreams, workingStreams } from './catalogue.js';
import { OonaBusyGroupError, OonaClosedError, OonaNoGroupError, OonaReadCancelledError } from './errors.js';
import { decodeEnvelope, encodeEnvelope, type DecodedEnvelope } from './envelope-codec.js';
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

interface PublishJob {
  readonly messageType: BusMessageType;
  readonly preferred: string;
  readonly emergency: boolean;
  readonly envelope: Uint8Array;
  readonly fields: EntryFields;
  stream: string;
  deadlineMs: number;
  resolve?: (outcome: PublishOutcome) => void;
}

const EMPTY = new Uint8Array(0);
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
  /** Latency gauges sample one operation in eight (they report the last sample). */
  private opCount = 0;

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
    const type = messageTypeOf(schema);
    if (type === undefined) {
      throw new TypeError(`${schema.typeName} is not carried on the bus: no BusMessageType maps to it.`);
    }
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

  async publish(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions = {}): Promise<boolean> {
    return (await this.submit(messageType, payload, options)) === 'ok';
  }

  private submit(messageType: BusMessageType, payload: Uint8Array, options: PublishOptions): Promise<PublishOutcome> {
    this.assertOpen();
    const route = MESSAGE_ROUTES.get(messageType);
    if (route === undefined) {
      throw new TypeError(`BusMessageType ${messageType} cannot be published (no stream routes it).`);
    }
    const preferred = options.stream ?? this.streams[route.role] ?? this.streams.normal;
    const emergency =
      options.emergency === true ||
      options.priority === MessagePriority.HIGH ||
      options.priority === MessagePriority.CRITICAL ||
      preferred === this.streams.emergency;
    const envelope = encodeEnvelope(messageType, payload, options.attributes);
    const job: PublishJob = {
      messageType,
      preferred,
      emergency,
      envelope,
      fields: this.fieldsFor(envelope),
      stream: preferred,
      deadlineMs: 0,
    };
    // While older publishes wait for a retry, newer ones queue behind them to keep order.
    if (this.buffer.length > 0) return this.enqueue(job);
    return this.attemptPublish(job).then((outcome) => {
      if ((outcome === 'error' || outcome === 'breaker-open') && this.settings.publishRetryBufferSize > 0) {
        return this.enqueue(job);
      }
      return outcome;
    });
  }

  private fieldsFor(envelope: Uint8Array): EntryFields {
    return this.signer === undefined
      ? { payload: envelope }
      : { payload: envelope, signature: encoder.encode(this.signer.sign(envelope)) };
  }

  /** One routing + append attempt (reference §1.5/1.6, fixed per decisions 0030, 0033, 0034). */
  private async attemptPublish(job: PublishJob): Promise<PublishOutcome> {
    if (!this.publishBreaker.allow()) {
      this.metrics.inc('breaker_publish_open');
      this.conservative = true;
      return 'breaker-open';
    }
    let stream = job.preferred;
    let rerouted = false;
    const s = this.settings;
    const isNormal = job.preferred === this.streams.normal;
    const isKernelRequests = job.preferred === this.streams.kernelRequests;
    // Latency gauges use the process's high-resolution timer: they describe this host, not a clock that tests steer.
    const timed = (this.opCount++ & 7) === 0;
    const started = timed ? performance.now() : 0;
    try {
      if (job.emergency) {
        stream = this.streams.emergency;
      } else {
        const drop = isNormal || isKernelRequests ? s.backpressureDropThreshold : null;
        const reroute = isNormal ? s.emergencyThreshold : null;
        if (drop !== null || reroute !== null) {
          const depth = await this.depth(job.preferred);
          this.metrics.max('queue_depth_max', depth);
          if (drop !== null && depth >= drop) {
            this.metrics.inc('publish_dropped');
            return 'dropped';
          }
          if (reroute !== null && depth >= reroute) {
            stream = this.streams.emergency;
            rerouted = true;
          }
        }
        if (this.conservative && !rerouted) {
          if (await this.conservativeCleared()) {
            this.conservative = false;
          } else {
            stream = this.streams.emergency;
            rerouted = true;
          }
        }
      }
      if (stream === this.streams.emergency) {
        const bucket = job.messageType === BusMessageType.EMERGENCY_SIGNAL ? this.signalBucket : this.trafficBucket;
        if (!bucket.tryTake()) {
          this.metrics.inc('emergency_rate_dropped');
          return 'rate-limited';
        }
      }
      job.stream = stream;
      await this.backend.append(stream, job.fields);
    } catch (error) {
      if (error instanceof OonaClosedError) throw error;
      this.metrics.inc('publish_errors');
      this.publishBreaker.recordFailure();
      this.conservative = true;
      this.logger?.warn('oona publish failed', { stream, error: describe(error) });
      return 'error';
    }
    if (timed) this.metrics.set('publish_latency_ms', performance.now() - started);
    this.metrics.inc('publish_total');
    this.publishBreaker.recordSuccess();
    if (stream === this.streams.emergency) this.metrics.inc('emergency_published');
    if (rerouted) {
      this.metrics.inc('publish_rerouted');
      this.conservative = true;
    }
    return 'ok';
  }

  /**
   * Conservative mode ends once the publish breaker admits calls again (a half-open trial
   * counts: rerouting it would only hide the recovery) and the normal backlog is under the
   * emergency threshold.
   */
  private async conservativeCleared(): Promise<boolean> {
    if (this.publishBreaker.state === CircuitBreakerState.CIRCUIT_STATE_OPEN) return false;
    const threshold = this.settings.emergencyThreshold;
    if (threshold === null) return true;
    const depth = await this.depth(this.streams.normal);
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
        outcome = await this.attemptPublish(job);
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

  consumeEmergencySignals(handler: OonaHandler, options: Omit<ConsumeOptions, 'stream' | 'types'> = {}): Promise<number> {
    return this.consume(handler, { ...options, stream: this.streams.emergency, types: [BusMessageType.EMERGENCY_SIGNAL] });
  }

  async consume(handler: OonaHandler, options: ConsumeOptions = {}): Promise<number> {
    this.assertOpen();
    const run = this.consumeOnce(handler, options);
    this.activeConsumes.add(run);
    try {
      return (await run).handled;
    } finally {
      this.activeConsumes.delete(run);
    }
  }

  private async consumeOnce(
    handler: OonaHandler,
    options: ConsumeOptions & { closeAware?: boolean },
  ): Promise<{ handled: number; denied: boolean }> {
    const stream = options.stream ?? this.streams.normal;
    const count = Math.max(1, options.count ?? 10);
    if (!this.consumeBreaker.allow()) {
      this.metrics.inc('breaker_consume_open');
      this.conservative = true;
      return { handled: 0, denied: true };
    }
    const batch: Array<{ entry: StreamEntry; deliveries: number; claimed: boolean }> = [];
    if (this.settings.retryIdleMs > 0 && this.claimDue(stream)) {
      try {
        for (const c of await this.claimStale(stream, count)) batch.push({ entry: c, deliveries: c.deliveries, claimed: true });
      } catch (error) {
        if (error instanceof OonaNoGroupError) throw error;
        this.metrics.inc('consume_errors');
        this.consumeBreaker.recordFailure();
        this.logger?.warn('oona claim failed', { stream, error: describe(error) });
      }
    }
    if (batch.length < count) {
      // subscribe() passes a signal that already follows close(); avoid a new AbortSignal.any per read
      // (each one stays registered on its sources, which costs GC pauses in long loops).
      const signal =
        options.signal === undefined
          ? this.closeController.signal
          : options.closeAware === true
            ? options.signal
            : AbortSignal.any([this.closeController.signal, options.signal]);
      try {
        const entries = await this.backend.readGroup(stream, this.group, this.consumer, {
          count: count - batch.length,
          ...(batch.length === 0 && options.blockMs !== undefined ? { blockMs: options.blockMs } : {}),
          signal,
        });
        for (const entry of entries) batch.push({ entry, deliveries: 1, claimed: false });
      } catch (error) {
        if (error instanceof OonaReadCancelledError || signal.aborted) {
          if (batch.length === 0) return { handled: 0, denied: false };
        } else {
          if (!(error instanceof OonaNoGroupError)) {
            this.metrics.inc('consume_errors');
            this.consumeBreaker.recordFailure();
          }
          if (batch.length === 0) throw error;
        }
      }
    }
    this.consumeBreaker.recordSuccess();
    const acks: string[] = [];
    let handled = 0;
    try {
      for (const item of batch) {
        if (await this.process(stream, item.entry, item.deliveries, handler, options, acks)) handled++;
        if (item.claimed) this.metrics.inc('redelivered_total');
      }
    } finally {
      if (acks.length > 0) {
        try {
          await this.backend.ack(stream, this.group, acks);
        } catch (error) {
          // Unacknowledged entries stay pending and are redelivered after retryIdleMs.
          this.metrics.inc('consume_errors');
          this.consumeBreaker.recordFailure();
          this.logger?.warn('oona ack failed', { stream, count: acks.length, error: describe(error) });
        }
      }
    }
    return { handled, denied: false };
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

  /** Handles one entry; resolves whether the handler ran. Ids to acknowledge go to `acks`. */
  private async process(
    stream: string,
    entry: StreamEntry,
    deliveries: number,
    handler: OonaHandler,
    options: ConsumeOptions,
    acks: string[],
  ): Promise<boolean> {
    const bytes = entry.fields.payload ?? EMPTY;
    if (this.signer !== undefined) {
      const sig = entry.fields.signature;
      if (sig === undefined || !this.signer.verify(bytes, decoder.decode(sig))) {
        this.metrics.inc('signature_rejected');
        acks.push(entry.id);
        return false;
      }
    }
    let envelope: DecodedEnvelope;
    try {
      envelope = decodeEnvelope(bytes);
    } catch {
      this.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    const previous = Number.parseInt(envelope.attributes.attempt ?? '0', 10);
    const attempt = (Number.isFinite(previous) && previous > 0 ? previous : 0) + Math.max(1, deliveries);
    if (attempt > this.settings.retryMaxAttempts) {
      // Abandoned deliveries (consumers that died mid-handler) used up the attempts.
      if (await this.exhaust(stream, entry, envelope, attempt - 1)) acks.push(entry.id);
      return false;
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
    const message: OonaMessage = {
      stream,
      messageId: entry.id,
      messageType: envelope.messageType,
      payload: envelope.payload,
      attributes: envelope.attributes,
      attempt,
    };
    const timed = (this.opCount++ & 7) === 0;
    const started = timed ? performance.now() : 0;
    try {
      await handler(message);
    } catch (error) {
      verdict.release();
      this.metrics.inc('handler_failures');
      this.logger?.warn('oona handler failed', { stream, messageId: entry.id, attempt, error: describe(error) });
      await this.handleFailure(stream, entry, envelope, attempt, acks);
      return true;
    }
    verdict.commit();
    if (timed) this.metrics.set('consume_latency_ms', performance.now() - started);
    acks.push(entry.id);
    return true;
  }

  /** Retry with backoff, or dead-letter after the last attempt (append first, then acknowledge). */
  private async handleFailure(stream: string, entry: StreamEntry, envelope: DecodedEnvelope, attempt: number, acks: string[]): Promise<void> {
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

  private rewrite(envelope: DecodedEnvelope, attempt: number): EntryFields {
    return this.fieldsFor(encodeEnvelope(envelope.messageType, envelope.payload, { ...envelope.attributes, attempt: String(attempt) }));
  }

  /** Moves an exhausted message to the dead-letter stream; resolves whether the original may be acknowledged. */
  private async exhaust(stream: string, entry: StreamEntry, envelope: DecodedEnvelope, attempt: number): Promise<boolean> {
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

  subscribe(handler: OonaHandler, options: SubscribeOptions = {}): OonaSubscription {
    this.assertOpen();
    const stream = options.stream ?? this.streams.normal;
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.closeController.signal, ...(options.signal ? [options.signal] : [])]);
    const blockMs = options.blockMs ?? 1_000;
    const done = (async () => {
      let backoffMs = 50;
      while (!signal.aborted) {
        try {
          const run = this.consumeOnce(handler, { ...options, stream, blockMs, signal, closeAware: true });
          this.activeConsumes.add(run);
          let result: { handled: number; denied: boolean };
          try {
            result = await run;
          } finally {
            this.activeConsumes.delete(run);
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
