import type { BusEnvelope, BusMessageType, EmergencySignal, MessagePriority } from '../../leyline/index.js';

/** One message as a consumer handler sees it. */
export interface OonaMessage {
  /** Stream the entry was read from, e.g. `oona.normal`. */
  readonly stream: string;
  /** Stream entry id (`<ms>-<seq>`). */
  readonly messageId: string;
  readonly messageType: BusMessageType;
  /** The envelope's payload bytes (a serialized Leyline message of `messageType`). */
  readonly payload: Uint8Array;
  readonly attributes: Readonly<Record<string, string>>;
  /** Delivery attempt, starting at 1. */
  readonly attempt: number;
}

/** A consumer handler: resolve to acknowledge, throw or reject to retry (then dead-letter). */
export type OonaHandler = (message: OonaMessage) => void | Promise<void>;

/** Options for publishing one envelope. */
export interface PublishOptions {
  /** Routing priority; HIGH and CRITICAL go to the emergency stream. Default NORMAL. */
  readonly priority?: MessagePriority;
  /** Explicit stream; overrides routing by message type. */
  readonly stream?: string;
}

/** Options for a consume call. */
export interface ConsumeOptions {
  readonly stream: string;
  readonly handler: OonaHandler;
  /** Maximum entries per read (default 10). */
  readonly count?: number;
  /** How long to block waiting for entries, in ms (default 1000). */
  readonly blockMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * The message fabric port (Oona). Every message is a Leyline `BusEnvelope`, routed to a stream
 * by its `BusMessageType` and priority, signed with HMAC-SHA256 when a secret is configured,
 * consumed through consumer groups with acknowledgement, retries and a dead-letter stream.
 * Implemented on Redis Streams (`@esper/plugin-oona-redis`) and in process
 * (`@esper/plugin-oona-memory`); both pass the contract suite in `@esper/core/testing`.
 */
export interface Oona {
  /** Publishes an envelope; resolves false when it was dropped (backpressure, open breaker). */
  publish(envelope: BusEnvelope, options?: PublishOptions): Promise<boolean>;
  /** Reads and handles one batch; resolves the number of entries handled. */
  consume(options: ConsumeOptions): Promise<number>;
  /** Publishes an emergency signal under the emergency rate limit. */
  publishEmergencySignal(signal: EmergencySignal): Promise<boolean>;
  /** Counters and gauges (pending depth per stream, breaker states, drops, …). */
  metricsSnapshot(): Promise<Readonly<Record<string, number>>>;
  /** Trims streams by TTL and length caps; resolves entries removed per stream. */
  housekeeping(): Promise<Readonly<Record<string, number>>>;
  /** Finishes in-flight handlers and releases connections. */
  close(): Promise<void>;
}
