import { randomUUID } from 'node:crypto';
import { create, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  busMessageTypeOf,
  BusMessageType,
  MetricPointSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
  type EmergencySignal,
} from '../leyline/index.js';
import type {
  BusSchema,
  ConsumeOptions,
  EnsureGroupsOptions,
  Oona,
  OonaGroupState,
  OonaHandler,
  OonaHealth,
  OonaMessageHandler,
  OonaMessageOf,
  OonaStreams,
  OonaSubscription,
  PublishBatchItem,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  TypedConsumeOptions,
  TypedSubscribeOptions,
  UnsentPublish,
} from '../kernel/ports/oona.js';
import { Consumer } from './client/consumer.js';
import { ClientCore, type OonaClientOptions } from './client/core.js';
import { Publisher } from './client/publisher.js';
import { Subscriptions } from './client/subscriptions.js';
import { Housekeeper } from './client/trim.js';
import { OonaBackendError, OonaBusyGroupError, OonaCatalogueStreamError, OonaUnroutableError } from './errors.js';
import { nextStreamId, ZERO_ID } from './ids.js';
import { OONA_COUNTERS } from './metrics.js';
import type { OonaSettings } from './settings.js';

export type { OonaClientOptions } from './client/core.js';

/**
 * The Oona client shared by every backend: routing, backpressure, conservative mode, the
 * emergency token buckets, both circuit breakers, HMAC signing and verification, kernel
 * freshness/replay guards, retries with backoff, redelivery of abandoned entries, dead letter,
 * PEL-aware housekeeping, the publish retry buffer and metrics (reference §1.5–1.16 with the
 * defects of §5 fixed; see docs/decisions/0030–0039). Backends only store entries.
 *
 * A facade over its parts (`client/`): {@link Publisher} with its retry buffer,
 * {@link Consumer}, {@link Subscriptions} and housekeeping, which share one client core.
 */
export class OonaClient implements Oona {
  readonly streams: OonaStreams;
  readonly group: string;
  readonly consumer: string;
  readonly settings: OonaSettings;

  private readonly core: ClientCore;
  private readonly publisher: Publisher;
  private readonly consuming: Consumer;
  private readonly subscriptions: Subscriptions;
  private readonly housekeeper: Housekeeper;
  private closing: Promise<void> | undefined;

  constructor(options: OonaClientOptions) {
    this.core = new ClientCore(options);
    this.publisher = new Publisher(this.core, options.onUnsent);
    this.consuming = new Consumer(this.core);
    this.subscriptions = new Subscriptions(this.core, this.consuming);
    this.housekeeper = new Housekeeper(this.core);
    this.streams = this.core.streams;
    this.group = this.core.group;
    this.consumer = this.core.consumer;
    this.settings = this.core.settings;
  }

  // ---------------------------------------------------------------- groups

  async ensureGroups(options?: EnsureGroupsOptions): Promise<void> {
    this.core.assertOpen();
    // Another group goes on the named streams only; the client's own on the catalogue too, except
    // the policy stream: there it is made by the first consume with it (nothing else reads it with
    // this group, and a group nobody reads holds back trimming), starting after today's newest id.
    const deferred = options?.group === undefined ? this.policyOnly() : [];
    const streams = options?.group === undefined ? this.catalogue().filter((s) => !deferred.includes(s)) : [];
    for (const extra of options?.streams ?? []) if (!streams.includes(extra)) streams.push(extra);
    for (const stream of deferred) {
      if (streams.includes(stream) || this.core.deferredGroups.has(stream)) continue;
      const [top] = await this.core.backend.range(stream, '+', '-', 1, true);
      this.core.deferredGroups.set(stream, top?.id ?? ZERO_ID);
    }
    const group = options?.group ?? this.core.group;
    for (const stream of streams) {
      try {
        await this.core.backend.createGroup(stream, group);
      } catch (error) {
        if (!(error instanceof OonaBusyGroupError)) throw error;
      }
      // Named explicitly: the client's group exists now.
      if (group === this.core.group) this.core.deferredGroups.delete(stream);
    }
  }

  async describeGroups(stream: string): Promise<readonly OonaGroupState[]> {
    this.core.assertOpen();
    const out: OonaGroupState[] = [];
    for (const g of await this.core.backend.groups(stream)) {
      let oldest = g.pending > 0 ? await this.core.backend.oldestPending(stream, g.name) : undefined;
      if (oldest === undefined) {
        // The first entry after the last one delivered, if any (none after the largest id).
        const after = nextStreamId(g.lastDeliveredId);
        const [first] = after === undefined ? [] : await this.core.backend.range(stream, after, '+', 1);
        oldest = first?.id;
      }
      out.push({ name: g.name, pending: g.pending, lag: g.lag, oldestNeededId: oldest });
    }
    return out;
  }

  async deleteGroup(stream: string, group: string): Promise<boolean> {
    this.core.assertOpen();
    if (group === this.core.group && this.catalogue().includes(stream)) throw new OonaCatalogueStreamError('deleteGroup', stream);
    if (this.core.backend.deleteGroup === undefined) throw new OonaBackendError('This Oona backend cannot delete consumer groups (its StreamBackend has no deleteGroup).');
    return this.core.backend.deleteGroup(stream, group);
  }

  // ---------------------------------------------------------------- publish

  publish(messageType: BusMessageType, payload: Uint8Array, options?: PublishOptions): Promise<PublishResult> {
    return this.publisher.publish(messageType, payload, options);
  }

  publishBatch(items: readonly PublishBatchItem[]): Promise<PublishResult[]> {
    return this.publisher.publishBatch(items);
  }

  publishMessage<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, options?: PublishOptions): Promise<PublishResult> {
    const type = busMessageTypeOf(schema);
    if (type === undefined) throw OonaUnroutableError.forSchema(schema.typeName);
    return this.publish(type, toBinary(schema, message), options);
  }

  publishEmergencySignal(signal: EmergencySignal, options?: { source?: string }): Promise<PublishResult> {
    return this.publisher.publishEmergencySignal(signal, options);
  }

  unsent(): readonly UnsentPublish[] {
    return this.publisher.retries.unsent();
  }

  // ---------------------------------------------------------------- consume

  consume(handler: OonaHandler, options?: ConsumeOptions): Promise<number>;
  consume<Desc extends BusSchema>(schema: Desc, handler: OonaMessageHandler<Desc>, options?: TypedConsumeOptions): Promise<number>;
  consume(first: OonaHandler | BusSchema, second?: ConsumeOptions | OonaMessageHandler<BusSchema>, third?: TypedConsumeOptions): Promise<number> {
    return typeof first === 'function'
      ? this.consuming.consume(first, second as ConsumeOptions | undefined)
      : this.consuming.consume(first, second as OonaMessageHandler<BusSchema>, third);
  }

  consumeEmergencySignals(
    handler: (message: OonaMessageOf<BusMessageType.EMERGENCY_SIGNAL>) => void | Promise<void>,
    options?: Omit<ConsumeOptions, 'stream' | 'types'>,
  ): Promise<number> {
    return this.consuming.consumeEmergencySignals(handler, options);
  }

  subscribe(handler: OonaHandler, options?: SubscribeOptions): OonaSubscription;
  subscribe<Desc extends BusSchema>(schema: Desc, handler: OonaMessageHandler<Desc>, options?: TypedSubscribeOptions): OonaSubscription;
  subscribe(first: OonaHandler | BusSchema, second?: SubscribeOptions | OonaMessageHandler<BusSchema>, third?: TypedSubscribeOptions): OonaSubscription {
    return typeof first === 'function'
      ? this.subscriptions.subscribe(first, second as SubscribeOptions | undefined)
      : this.subscriptions.subscribe(first, second as OonaMessageHandler<BusSchema>, third);
  }

  // ---------------------------------------------------------------- depth, metrics, health

  backlog(stream: string): Promise<number> {
    return this.core.depth(stream);
  }

  streamLength(stream: string): Promise<number> {
    return this.core.backend.length(stream);
  }

  async metricsSnapshot(): Promise<Readonly<Record<string, number>>> {
    const out: Record<string, number> = {};
    for (const key of OONA_COUNTERS) out[key] = this.core.metrics.counters[key];
    const depths: Array<[string, string]> = [
      ['queue_depth_normal', this.core.streams.normal],
      ['queue_depth_emergency', this.core.streams.emergency],
      ['queue_depth_telemetry', this.core.streams.telemetry],
      ['queue_depth_policy', this.core.streams.policy],
      ['queue_depth_kernel_requests', this.core.streams.kernelRequests],
      ['queue_depth_kernel_ready', this.core.streams.kernelReady],
      ['queue_depth_kernel_errors', this.core.streams.kernelErrors],
    ];
    for (const [key, stream] of depths) {
      try {
        out[key] = await this.core.depth(stream);
        this.core.metrics.max('queue_depth_max', out[key]);
      } catch {
        out[key] = -1;
      }
    }
    out.queue_depth_max = this.core.metrics.counters.queue_depth_max;
    try {
      out.dead_letter_length = this.core.streams.deadLetter === undefined ? 0 : await this.core.backend.length(this.core.streams.deadLetter);
    } catch {
      out.dead_letter_length = -1;
    }
    out.publish_breaker_state = this.core.publishBreaker.state;
    out.consume_breaker_state = this.core.consumeBreaker.state;
    out.conservative_mode = this.core.conservative ? 1 : 0;
    out.publish_buffered = this.publisher.retries.waiting;
    for (const [key, value] of this.core.metrics.bySource) out[key] = value;
    return out;
  }

  async emitMetricsTelemetry(source = 'oona', level: TelemetryLevel = TelemetryLevel.INFO): Promise<PublishResult> {
    const snapshot = await this.metricsSnapshot();
    const packet = create(TelemetryPacketSchema, {
      packetId: `oona-${randomUUID()}`,
      sourceSubsystem: source,
      level,
      timestamp: timestampFromMs(this.core.clock.nowMs()),
      metrics: Object.entries(snapshot).map(([name, value]) => create(MetricPointSchema, { name: `oona.${name}`, value })),
    });
    return this.publish(BusMessageType.TELEMETRY, toBinary(TelemetryPacketSchema, packet));
  }

  health(): OonaHealth {
    const p = this.core.publishBreaker.snapshot();
    const c = this.core.consumeBreaker.snapshot();
    return {
      publishState: p.state,
      publishFailures: p.failureCount,
      consumeState: c.state,
      consumeFailures: c.failureCount,
      conservativeMode: this.core.conservative,
      bufferedPublishes: this.publisher.retries.waiting,
      closed: this.core.closed,
    };
  }

  // ---------------------------------------------------------------- housekeeping

  housekeeping(): Promise<Readonly<Record<string, number>>> {
    try {
      this.core.assertOpen();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.housekeeper.run();
  }

  async trimStream(stream: string, limits: { readonly ttlMs?: number | null; readonly maxLength?: number | null }): Promise<number> {
    this.core.assertOpen();
    if (this.catalogue().includes(stream)) throw new OonaCatalogueStreamError('trimStream', stream);
    return this.housekeeper.trim(stream, limits.ttlMs ?? null, limits.maxLength ?? null);
  }

  async deleteStream(stream: string): Promise<void> {
    this.core.assertOpen();
    if (this.catalogue().includes(stream)) throw new OonaCatalogueStreamError('deleteStream', stream);
    await this.core.backend.deleteStream(stream);
    this.housekeeper.forget(stream);
  }

  /** The policy stream, unless another catalogue role shares its name (then it is read with the client's group anyway). */
  private policyOnly(): string[] {
    const s = this.core.streams;
    const others = [s.normal, s.emergency, s.telemetry, s.kernelRequests, s.kernelReady, s.kernelErrors, s.deadLetter];
    return others.includes(s.policy) ? [] : [s.policy];
  }

  /** The catalogue's streams: the working streams and the dead letter (a new array). */
  private catalogue(): string[] {
    const streams = [...this.core.working];
    if (this.core.streams.deadLetter !== undefined && !streams.includes(this.core.streams.deadLetter)) streams.push(this.core.streams.deadLetter);
    return streams;
  }

  // ---------------------------------------------------------------- lifecycle

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.core.closed = true;
      // Subscriptions stop reading; handlers in progress finish.
      this.core.closeController.abort();
      await this.subscriptions.stopAll();
      await Promise.allSettled([...this.core.activeConsumes]);
      // Scheduled retries are requeued now rather than lost.
      await this.consuming.flushRetries();
      // Buffered publishes get their verdict (drain gives up at once once closing).
      await this.publisher.retries.drained();
      this.core.stopListening();
      await this.core.backend.close();
    })();
    return this.closing;
  }
}
