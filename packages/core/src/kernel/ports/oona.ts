import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import type {
  BusMessageType,
  BusPayload,
  BusPayloadSchema,
  BusPayloadType,
  BusTypeOf,
  CircuitBreakerState,
  EmergencySignal,
  MessagePriority,
  TelemetryLevel,
} from '../../leyline/index.js';

/**
 * One delivered message of bus type `T`, as a consumer handler sees it. Only envelopes of a
 * registered type reach handlers: entries that are not envelopes, or whose type this build
 * does not know, are acknowledged and counted as `decode_rejected`.
 */
export interface OonaMessageOf<T extends BusPayloadType> {
  /** Stream the entry was read from, e.g. `oona.normal`. */
  readonly stream: string;
  /** Stream entry id (`<ms>-<seq>`). */
  readonly messageId: string;
  /** The envelope's type; comparing it narrows an {@link OonaMessage} (and what `decode()` returns). */
  readonly messageType: T;
  /** The envelope's payload bytes (a serialized Leyline message of `messageType`). */
  readonly payload: Uint8Array;
  /** Envelope attributes (`origin`, `reason`, `level`, `attempt`, …). */
  readonly attributes: Readonly<Record<string, string>>;
  /** Handler run this is, starting at 1 (failed runs and abandoned deliveries count). */
  readonly attempt: number;
  /**
   * Decodes `payload` as the Leyline message of `messageType` (e.g. a `SystemStatePacket` for
   * `SYSTEM_STATE`); each call decodes again. Throws `LeylineDecodeError` when the bytes do not
   * decode — from a handler, that is a handler failure (retried, then dead-lettered). A typed
   * subscription ({@link Oona.subscribe} with a schema) decodes before the handler instead.
   */
  decode(): BusPayload<T>;
}

/**
 * One delivered message: a union over the bus message types, so that
 * `if (m.messageType === BusMessageType.SYSTEM_STATE) m.decode()` is a `SystemStatePacket`.
 */
export type OonaMessage = { [T in BusPayloadType]: OonaMessageOf<T> }[BusPayloadType];

/** A payload schema that a bus message type carries (e.g. `SystemStatePacketSchema`). */
export type BusSchema = BusPayloadSchema<BusPayloadType>;

/**
 * A consumer handler: return (or resolve) to acknowledge; throw (or reject) to retry with
 * backoff, then dead-letter after `retryMaxAttempts` runs. Delivery is at least once: a
 * handler must tolerate seeing a message again (after a crash or a claim).
 */
export type OonaHandler = (message: OonaMessage) => void | Promise<void>;

/**
 * A typed consumer handler for messages of schema `Desc`: gets the decoded Leyline message and
 * the delivery it came in (stream, id, attributes, attempt). Acknowledgement, retries and
 * dead letter as for {@link OonaHandler}.
 */
export type OonaMessageHandler<Desc extends BusSchema> = (
  message: BusPayload<BusTypeOf<Desc>>,
  delivery: OonaMessageOf<BusTypeOf<Desc>>,
) => void | Promise<void>;

/** Logical streams of the catalogue. */
export type OonaStreamRole =
  | 'normal'
  | 'emergency'
  | 'telemetry'
  | 'policy'
  | 'kernelRequests'
  | 'kernelReady'
  | 'kernelErrors'
  | 'deadLetter';

/** Resolved stream names (defaults `oona.normal`, `oona.emergency`, … `oona.deadletter`). */
export interface OonaStreams {
  readonly normal: string;
  readonly emergency: string;
  readonly telemetry: string;
  readonly policy: string;
  readonly kernelRequests: string;
  readonly kernelReady: string;
  readonly kernelErrors: string;
  /** Undefined when dead-lettering is off (exhausted messages are counted and discarded). */
  readonly deadLetter: string | undefined;
}

/** Options for one publish. */
export interface PublishOptions {
  /** HIGH and CRITICAL go to the emergency stream. */
  readonly priority?: MessagePriority;
  /** Forces the emergency stream (as the reference's `publish_state(emergency=True)`). */
  readonly emergency?: boolean;
  /** Envelope attributes (string map). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Publishes to this stream instead of the one the message type routes to. */
  readonly stream?: string;
}

/** One message of {@link Oona.publishBatch}. */
export interface PublishBatchItem {
  readonly messageType: BusMessageType;
  /** Serialized Leyline bytes of `messageType`. */
  readonly payload: Uint8Array;
  readonly options?: PublishOptions;
}

/** Options for a consume call or a subscription. */
export interface ConsumeOptions {
  /** Stream to read (default: the normal stream). */
  readonly stream?: string;
  /** Maximum entries per read (default 10). */
  readonly count?: number;
  /**
   * How long one read waits for new entries, in ms (default 1000 for `subscribe`, none for
   * `consume`). 0 waits until an entry arrives or the signal aborts.
   */
  readonly blockMs?: number;
  /** Only these message types reach the handler; other entries are acknowledged and counted as skipped. */
  readonly types?: readonly BusMessageType[];
  /** Cancels a blocking wait (handlers already running finish). */
  readonly signal?: AbortSignal;
  /**
   * Consumer group to read with, instead of the client's own ({@link Oona.group}). Everything
   * of the call happens in this group — reads, acknowledgements, claims of entries abandoned in
   * it, retries — and the group must exist on the stream: create it with
   * `ensureGroups({ group, streams })`. A reader that must see every entry of a stream while
   * the client's group shares the entries among replicas (the Tamiyo policy updates) reads with
   * a group of its own.
   */
  readonly group?: string;
  /** Consumer name inside {@link group} (default: the client's {@link Oona.consumer}). */
  readonly consumer?: string;
}

/**
 * Options of {@link Oona.ensureGroups}: without `group`, the client's group on the catalogue
 * and on `streams`; with `group`, that group on `streams` only (the catalogue is left alone).
 */
export type EnsureGroupsOptions =
  | {
      /** Further streams outside the catalogue (a request or reply stream) that get the client's group too. */
      readonly streams?: readonly string[];
      readonly group?: undefined;
    }
  | {
      /** The streams that get `group`. */
      readonly streams: readonly string[];
      /** A group other than the client's, for consumes that pass it (see {@link ConsumeOptions.group}). */
      readonly group: string;
    };

/** What {@link Oona.describeGroups} reports of one consumer group. */
export interface OonaGroupState {
  readonly name: string;
  /** Entries delivered to the group and not yet acknowledged. */
  readonly pending: number;
  /** Entries not yet delivered to the group; `undefined` when the backend cannot tell. */
  readonly lag: number | undefined;
  /**
   * Id of the oldest entry the group still holds back (its oldest pending entry, else its
   * first undelivered entry), `undefined` when it holds back none. Trimming never passes it; its
   * time part (`<ms>-…`) says how long the group has left it unread or unacknowledged, so a
   * group whose readers are gone shows here as an ever older id.
   */
  readonly oldestNeededId: string | undefined;
}

/** Options for {@link Oona.subscribe}. */
export interface SubscribeOptions extends ConsumeOptions {
  /** Called with backend errors the loop recovered from (it backs off and keeps reading). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Options for a typed consume: the schema picks the message type, and the stream defaults to
 * the one that type is published to (`TelemetryPacketSchema` → the telemetry stream).
 */
export type TypedConsumeOptions = Omit<ConsumeOptions, 'types'>;

/** Options for a typed subscription (see {@link TypedConsumeOptions}). */
export type TypedSubscribeOptions = Omit<SubscribeOptions, 'types'>;

/** A running consumer loop. */
export interface OonaSubscription {
  readonly stream: string;
  /** Stops reading, lets the handler in progress finish, and resolves when the loop has ended. */
  stop(): Promise<void>;
  /** Resolves when the loop has ended (after `stop()`, an aborted signal or `close()`). */
  readonly done: Promise<void>;
}

/** Breakers and mode, for health checks. */
export interface OonaHealth {
  readonly publishState: CircuitBreakerState;
  readonly publishFailures: number;
  readonly consumeState: CircuitBreakerState;
  readonly consumeFailures: number;
  readonly conservativeMode: boolean;
  /** Publishes waiting in the retry buffer. */
  readonly bufferedPublishes: number;
  readonly closed: boolean;
}

/**
 * How a publish ended: `true` — appended (acknowledged by the backend); `false` — not
 * appended (dropped by backpressure, rate-limited, refused by the open breaker, or given up by
 * the retry buffer: see `unsent()`); `'unknown'` — sent, and the connection was lost before the
 * backend's reply, so the entry may or may not be stored (it is not sent again).
 *
 * A caller that re-sends what was not published re-sends on `false` only: re-sending on
 * `'unknown'` may store the message twice. Where a lost message costs more than a duplicate,
 * re-send on `'unknown'` too and make consumers drop duplicates (an id in the attributes).
 * Note that `'unknown'` is truthy: test `=== true` for "appended".
 */
export type PublishResult = boolean | 'unknown';

/** A publish that could not be delivered (retry buffer full or retry deadline passed). */
export interface UnsentPublish {
  readonly messageType: BusMessageType;
  readonly stream: string;
  readonly reason: 'buffer-full' | 'timeout' | 'closed';
  /** Wall-clock ms when it was given up. */
  readonly atMs: number;
  /** The envelope bytes that were not appended. */
  readonly envelope: Uint8Array;
}

/**
 * The message fabric port (Oona). Every message is a Leyline `BusEnvelope`, routed to a stream
 * by its `BusMessageType` and priority, signed with HMAC-SHA256 when a secret is configured,
 * consumed through consumer groups with acknowledgement, retries with backoff, redelivery of
 * entries abandoned by dead consumers, and a dead-letter stream.
 * Implemented on Redis Streams (`@esper/plugin-oona-redis`) and in process
 * (`@esper/plugin-oona-memory`); both pass the contract suite in `@esper/core/testing`.
 */
export interface Oona {
  /** Resolved stream names. */
  readonly streams: OonaStreams;
  /** Consumer group and consumer name of this client. */
  readonly group: string;
  readonly consumer: string;
  /**
   * Creates the consumer group on every stream (at the stream's end: a group sees only entries
   * appended after its creation). Idempotent. Plugins call it when they start. On the policy
   * stream, which nothing reads with the client's group by default, the group is made by the
   * first consume or subscribe of that stream with it, starting after the newest entry there when
   * `ensureGroups()` ran; until then it does not hold back trimming. Name the policy stream in
   * `options.streams` to make it at once.
   *
   * `options.streams` names further streams outside the catalogue (a request or reply stream a
   * plugin publishes to with `PublishOptions.stream`) that get this client's group too. With
   * `options.group`, that group is created on `options.streams` only, for consumes that read
   * with it ({@link ConsumeOptions.group}).
   */
  ensureGroups(options?: EnsureGroupsOptions): Promise<void>;
  /**
   * Publishes serialized Leyline bytes of `messageType`. Resolves true when the entry was
   * appended; false when it was dropped (backpressure), rate-limited, refused by the open
   * breaker, or could not be written within the retry buffer's deadline (see `unsent()`);
   * `'unknown'` when it was sent and the connection was lost before the reply (see
   * {@link PublishResult}). Throws only for programming errors (unknown type, closed client).
   */
  publish(messageType: BusMessageType, payload: Uint8Array, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Publishes several messages as `publish` would publish each of them in order — same routing
   * by type and priority, signatures, backpressure, emergency limits, breaker, retry buffer and
   * metrics — but appends the entries bound for one stream in one backend call, reads each
   * backlog it needs once per batch and counts the batch's own entries into it. Resolves one
   * {@link PublishResult} per item (as `publish`). Entries of one stream keep the batch's order unless some
   * of them had to wait in the retry buffer. Rejects, appending nothing, when an item's type
   * cannot be published or the client is closed.
   */
  publishBatch(items: readonly PublishBatchItem[]): Promise<PublishResult[]>;
  /** Serializes `message` and publishes it under the `BusMessageType` its schema maps to (resolves as `publish`). */
  publishMessage<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Publishes an `EmergencySignal` to the emergency stream (attributes origin, reason, level)
   * under the signal token bucket; counts per `source` (default: the signal's origin).
   */
  publishEmergencySignal(signal: EmergencySignal, options?: { readonly source?: string }): Promise<PublishResult>;
  /**
   * Reads and handles one batch: first entries claimed from consumers idle for `retryIdleMs`
   * (redelivered), then new entries. Resolves the number of entries handed to the handler.
   * Rejects with a backend error when the read fails (the consume breaker counts it).
   */
  consume(handler: OonaHandler, options?: ConsumeOptions): Promise<number>;
  /**
   * Typed `consume`: only messages of `schema`'s bus type reach `handler`, decoded. Others on
   * the stream are acknowledged for this group and counted as `consume_skipped` (as with
   * `types`); a payload that does not decode as `schema` is acknowledged and counted as
   * `decode_rejected`. The stream defaults to the one the type is published to.
   */
  consume<Desc extends BusSchema>(schema: Desc, handler: OonaMessageHandler<Desc>, options?: TypedConsumeOptions): Promise<number>;
  /** `consume` on the emergency stream, handing only `EMERGENCY_SIGNAL` entries to the handler. */
  consumeEmergencySignals(
    handler: (message: OonaMessageOf<BusMessageType.EMERGENCY_SIGNAL>) => void | Promise<void>,
    options?: Omit<ConsumeOptions, 'stream' | 'types'>,
  ): Promise<number>;
  /** A continuous consumer loop with backoff on errors and a graceful stop. */
  subscribe(handler: OonaHandler, options?: SubscribeOptions): OonaSubscription;
  /**
   * Typed `subscribe`: a consumer loop that hands `handler` the decoded messages of `schema`'s
   * bus type, on the stream that type is published to unless `options.stream` says otherwise.
   * Filtering, decoding and acknowledgement as for the typed `consume`.
   *
   * @example
   * ```ts
   * oona.subscribe(SystemStatePacketSchema, async (state, delivery) => apply(state, delivery.attempt));
   * ```
   */
  subscribe<Desc extends BusSchema>(schema: Desc, handler: OonaMessageHandler<Desc>, options?: TypedSubscribeOptions): OonaSubscription;
  /** Unconsumed work of this client's group on `stream`: pending (delivered, unacknowledged) + not yet delivered. */
  backlog(stream: string): Promise<number>;
  /**
   * Every consumer group of `stream` with what it holds back (empty for a missing stream), to
   * find groups whose readers are gone. Optional: clients without it cannot list groups.
   */
  describeGroups?(stream: string): Promise<readonly OonaGroupState[]>;
  /**
   * Removes consumer group `group` from `stream` with its pending entries (Redis
   * `XGROUP DESTROY`), so that it no longer holds back trimming; a reader still using it sees
   * `OonaNoGroupError`. Resolves whether the group existed. Refuses the client's own group on a
   * catalogue stream (`OonaCatalogueStreamError`): `ensureGroups` makes that one. Optional, like
   * {@link describeGroups}.
   */
  deleteGroup?(stream: string, group: string): Promise<boolean>;
  /** Raw stream length (acknowledged entries included). */
  streamLength(stream: string): Promise<number>;
  /** Counters and gauges (see docs/oona.md for the key set). */
  metricsSnapshot(): Promise<Readonly<Record<string, number>>>;
  /** Publishes the snapshot as a TelemetryPacket (`oona.<key>` metrics) on the telemetry stream. */
  emitMetricsTelemetry(source?: string, level?: TelemetryLevel): Promise<PublishResult>;
  /** Breaker states and conservative mode. */
  health(): OonaHealth;
  /** Publishes given up so far (most recent last, bounded). */
  unsent(): readonly UnsentPublish[];
  /**
   * Trims every stream by TTL (by entry-id time) and length caps, never past an entry some
   * consumer group has not acknowledged. Resolves entries removed per stream.
   */
  housekeeping(): Promise<Readonly<Record<string, number>>>;
  /**
   * Housekeeping of one stream outside the catalogue (a per-run reply stream, …), which
   * {@link housekeeping} does not visit: removes entries older than `limits.ttlMs` and beyond
   * `limits.maxLength` by the same rules, never past an entry some consumer group has not
   * acknowledged (pending or not yet delivered). Resolves the count removed (0 for a missing
   * stream). Refuses a catalogue stream (`OonaCatalogueStreamError`): `housekeeping` trims those
   * by the configured bounds. Optional: clients without it leave such streams be.
   */
  trimStream?(stream: string, limits: { readonly ttlMs?: number | null; readonly maxLength?: number | null }): Promise<number>;
  /**
   * Deletes a stream with its entries and consumer groups, for a stream whose readers are gone
   * (a reader still subscribed sees its group missing). Nothing happens for a missing stream.
   * Refuses a catalogue stream (`OonaCatalogueStreamError`). Optional, like {@link trimStream}.
   */
  deleteStream?(stream: string): Promise<void>;
  /** Stops subscriptions (finishing in-flight handlers), flushes retries and buffered publishes, releases connections. */
  close(): Promise<void>;
}
