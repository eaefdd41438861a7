import {
  BUS_PAYLOAD_SCHEMAS,
  busMessageTypeOf,
  BusMessageType,
  decodeMessage,
  type BusPayload,
  type BusPayloadType,
} from '../../leyline/index.js';
import type {
  BusSchema,
  ConsumeOptions,
  OonaHandler,
  OonaMessage,
  OonaMessageHandler,
  OonaMessageOf,
  TypedConsumeOptions,
} from '../../kernel/ports/oona.js';
import type { EntryFields, StreamEntry } from '../backend.js';
import { MESSAGE_ROUTES } from '../catalogue.js';
import { OonaNoGroupError, OonaReadCancelledError, OonaUnroutableError } from '../errors.js';
import { readEnvelopeInto, writeEnvelope, type EnvelopeTarget } from '../envelope-codec.js';
import { followSignals } from '../follow-signals.js';
import { compareStreamIds, streamIdAfter, ZERO_ID } from '../ids.js';
import { KernelGuard } from '../kernel-guard.js';
import { describe, type ClientCore } from './core.js';

const EMPTY = new Uint8Array(0);
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});
const NONE: readonly never[] = Object.freeze([]);
/** An entry id this far ahead of the client's clock counts as future-dated (`future_ids`): clocks may disagree by less. */
const FUTURE_ID_TOLERANCE_MS = 60_000;
const decoder = new TextDecoder();
const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

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
export type AnyHandler = (first: never, delivery: OonaMessage) => unknown;

/** Who reads in one round: the stream, the group and consumer (the call's or the client's), and their map key. */
interface Reader {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly key: string;
}

/** The map key of a reader: per-reader state (claim sweeps, recovery cursors) is kept apart for each group and consumer. */
function readerKey(stream: string, group: string, consumer: string): string {
  return `${stream}\u0000${group}\u0000${consumer}`;
}

/** Internal options of one consume round. */
export interface RoundOptions extends ConsumeOptions {
  /** subscribe(): the signal already follows close(). */
  readonly closeAware?: boolean;
  /** subscribe(): the batch's XACK is returned in flight instead of awaited. */
  readonly ackInFlight?: boolean;
  /** Typed consumers: the payload schema decoded before the handler (which then gets two arguments). */
  readonly decodeAs?: BusSchema;
}

/** What one consume round reports; `acked` is the batch's XACK in flight (subscribe loops only). */
export interface RoundResult {
  readonly handled: number;
  readonly denied: boolean;
  readonly acked?: Promise<void>;
}

/**
 * The consume side of one client: claim of abandoned entries, group reads, signature checks,
 * envelope decoding (entries that are not messages are acknowledged as `decode_rejected`),
 * type filters, kernel freshness/replay guards, typed decoding, handler runs, batched
 * acknowledgement, retries with backoff and the dead letter (reference §1.7–1.12, fixed per
 * decisions 0031, 0032, 0035).
 */
export class Consumer {
  private readonly guard: KernelGuard;
  private readonly scheduledRetries = new Map<NodeJS.Timeout, () => Promise<void>>();
  /** Last claim sweep per reader (see {@link readerKey}). */
  private readonly lastClaimMs = new Map<string, number>();
  /**
   * Readers (stream, group and consumer, see {@link readerKey}) whose own pending entries are
   * read again before new ones, with the cursor of that read: after a read or an
   * acknowledgement failed, entries the server delivered to this consumer (or that it handled)
   * may never have reached it, or stay unacknowledged.
   */
  private readonly recovering = new Map<string, string>();

  constructor(private readonly core: ClientCore) {
    this.guard = new KernelGuard(() => core.clock.nowMs(), core.settings.kernelFreshnessWindowMs, core.settings.kernelNonceCacheSize);
  }

  /** Requeues the retries still waiting for their backoff now, rather than losing them (close()). */
  async flushRetries(): Promise<void> {
    const retries = [...this.scheduledRetries];
    this.scheduledRetries.clear();
    for (const [timer] of retries) clearTimeout(timer);
    await Promise.allSettled(retries.map(([, run]) => run()));
  }

  /** `consume` of `EMERGENCY_SIGNAL` entries on the emergency stream (others are skipped). */
  consumeEmergencySignals(
    handler: (message: OonaMessageOf<BusMessageType.EMERGENCY_SIGNAL>) => void | Promise<void>,
    options: Omit<ConsumeOptions, 'stream' | 'types'> = {},
  ): Promise<number> {
    return this.consume(handler as OonaHandler, { ...options, stream: this.core.streams.emergency, types: [BusMessageType.EMERGENCY_SIGNAL] });
  }

  /** One consume round, untyped or typed by a payload schema (see `Oona.consume`). */
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
  typedOptions(schema: BusSchema, options: TypedConsumeOptions = {}): RoundOptions {
    // By type name: plain JavaScript may pass any schema.
    const type = busMessageTypeOf(schema.typeName);
    const route = type === undefined ? undefined : MESSAGE_ROUTES.get(type);
    if (type === undefined || route === undefined) throw OonaUnroutableError.forSchema(schema.typeName);
    return { ...options, stream: options.stream ?? this.core.streams[route.role] ?? this.core.streams.normal, types: [type], decodeAs: schema };
  }

  private async consumeRound(handler: AnyHandler, options: RoundOptions): Promise<number> {
    this.core.assertOpen();
    const run = this.consumeOnce(handler, options);
    this.core.activeConsumes.add(run);
    try {
      return (await run).handled;
    } finally {
      this.core.activeConsumes.delete(run);
    }
  }

  /**
   * One claim + read + handle + acknowledge round. With `ackInFlight` (subscribe loops) the
   * batch's XACK is sent but not awaited: it comes back as `acked` (which never rejects) so that
   * the loop can read the next batch while the server acknowledges this one.
   */
  async consumeOnce(handler: AnyHandler, options: RoundOptions): Promise<RoundResult> {
    const stream = options.stream ?? this.core.streams.normal;
    const reader = this.readerOf(stream, options);
    // The client's group on the policy stream is made by its first reader (see ensureGroups).
    if (this.core.deferredGroups.size !== 0 && reader.group === this.core.group) await this.core.createDeferredGroup(stream);
    const count = Math.max(1, options.count ?? 10);
    if (!this.core.consumeBreaker.allow()) {
      this.core.metrics.inc('breaker_consume_open');
      this.core.conservative = true;
      return { handled: 0, denied: true };
    }
    let claimed: ReadonlyArray<StreamEntry & { deliveries: number }> = NONE;
    if (this.core.settings.retryIdleMs > 0 && this.claimDue(reader)) claimed = await this.claimStale(reader, count);
    let own: readonly StreamEntry[] = NONE;
    if (claimed.length < count && this.recovering.has(reader.key)) own = await this.readOwnPending(reader, count - claimed.length);
    let fresh: readonly StreamEntry[] = NONE;
    if (claimed.length + own.length < count) {
      // subscribe() passes a signal that already follows close(); a consume with its own signal follows both for this read.
      const followed =
        options.signal === undefined || options.closeAware === true ? undefined : followSignals([this.core.closeController.signal, options.signal]);
      const signal = followed?.signal ?? options.signal ?? this.core.closeController.signal;
      try {
        fresh = await this.core.backend.readGroup(stream, reader.group, reader.consumer, {
          count: count - claimed.length - own.length,
          ...(claimed.length === 0 && own.length === 0 && options.blockMs !== undefined ? { blockMs: options.blockMs } : {}),
          signal,
        });
      } catch (error) {
        if (error instanceof OonaReadCancelledError || signal.aborted) {
          if (claimed.length === 0 && own.length === 0) return { handled: 0, denied: false };
        } else {
          if (!(error instanceof OonaNoGroupError)) {
            this.core.metrics.inc('consume_errors');
            this.core.consumeBreaker.recordFailure();
            // The server may have delivered entries whose reply was lost: read them back first next time.
            this.recover(reader);
          }
          if (claimed.length === 0 && own.length === 0) throw error;
        }
      } finally {
        followed?.unlink();
      }
    }
    this.core.consumeBreaker.recordSuccess();
    this.countFuture(claimed);
    this.countFuture(own);
    this.countFuture(fresh);
    const acks: string[] = [];
    let handled = 0;
    let acked: Promise<void> | undefined;
    try {
      // Entries are handled one after another; a handler that returns synchronously is not
      // awaited (an await per message cost more than the rest of the in-memory path).
      for (let i = 0; i < claimed.length; i++) {
        const entry = claimed[i]!;
        const ran = this.process(reader, entry, entry.deliveries, handler, options, acks);
        if (typeof ran === 'boolean' ? ran : await ran) handled++;
        this.core.metrics.inc('redelivered_total');
      }
      for (let i = 0; i < own.length; i++) {
        // Delivered to this consumer before (its reply or acknowledgement lost): a redelivery, not another abandoned attempt.
        const ran = this.process(reader, own[i]!, 1, handler, options, acks);
        if (typeof ran === 'boolean' ? ran : await ran) handled++;
        this.core.metrics.inc('redelivered_total');
      }
      for (let i = 0; i < fresh.length; i++) {
        const ran = this.process(reader, fresh[i]!, 1, handler, options, acks);
        if (typeof ran === 'boolean' ? ran : await ran) handled++;
      }
    } finally {
      // Acknowledged only after every handler of the batch has returned (or its retry is queued).
      // close() waits for it among the active consumes, even when this round threw.
      if (acks.length > 0) acked = this.trackAck(this.ackBatch(reader, acks));
      if (acked !== undefined && options.ackInFlight !== true) await acked;
    }
    return options.ackInFlight === true && acked !== undefined ? { handled, denied: false, acked } : { handled, denied: false };
  }

  /** The reader of one round: the stream, and the call's group and consumer or the client's. */
  private readerOf(stream: string, options: ConsumeOptions): Reader {
    const group = options.group ?? this.core.group;
    const consumer = options.consumer ?? this.core.consumer;
    return { stream, group, consumer, key: readerKey(stream, group, consumer) };
  }

  /** XACK of a handled batch; failures are counted and logged, never thrown. */
  private async ackBatch(reader: Reader, acks: readonly string[]): Promise<void> {
    try {
      await this.core.backend.ack(reader.stream, reader.group, acks);
    } catch (error) {
      // Unacknowledged entries stay pending: read back by this consumer's next round (or claimed after retryIdleMs).
      this.core.metrics.inc('consume_errors');
      this.core.consumeBreaker.recordFailure();
      this.recover(reader);
      this.core.logger?.warn('oona ack failed', { stream: reader.stream, group: reader.group, count: acks.length, error: describe(error) });
    }
  }

  /** Keeps an acknowledgement in flight among the work that close() waits for. */
  private trackAck(acked: Promise<void>): Promise<void> {
    this.core.activeConsumes.add(acked);
    return acked.finally(() => this.core.activeConsumes.delete(acked));
  }

  /** Whether the claim sweep should run for `reader` now (at most every retryIdleMs / 2, capped at 5 s). */
  private claimDue(reader: Reader): boolean {
    const now = this.core.clock.monotonicMs();
    const last = this.lastClaimMs.get(reader.key);
    const interval = Math.min(5_000, Math.max(1, Math.floor(this.core.settings.retryIdleMs / 2)));
    if (last !== undefined && now - last < interval) return false;
    this.lastClaimMs.set(reader.key, now);
    return true;
  }

  /**
   * Claims entries idle for `retryIdleMs` from any consumer of the group (bounded scan). A
   * failing step ends the scan and counts as a consume error; what earlier steps claimed is
   * still returned (it is this consumer's now: dropping it would leave it to the next claim).
   */
  private async claimStale(reader: Reader, count: number): Promise<Array<StreamEntry & { deliveries: number }>> {
    const { stream } = reader;
    const out: Array<StreamEntry & { deliveries: number }> = [];
    let cursor = ZERO_ID;
    try {
      for (let step = 0; step < 16 && out.length < count; step++) {
        const result = await this.core.backend.autoClaim(
          stream,
          reader.group,
          reader.consumer,
          this.core.settings.retryIdleMs,
          cursor,
          Math.min(this.core.settings.retryBatchSize, count - out.length),
        );
        out.push(...result.entries);
        // Cursors are 64-bit id pairs, compared exactly (an id past 2^53 ms is as valid as any).
        if (result.next === ZERO_ID || compareStreamIds(result.next, cursor) <= 0) break;
        cursor = result.next;
      }
    } catch (error) {
      if (error instanceof OonaNoGroupError) throw error;
      this.core.metrics.inc('consume_errors');
      this.core.consumeBreaker.recordFailure();
      this.core.logger?.warn('oona claim failed', { stream, claimed: out.length, error: describe(error) });
    }
    return out;
  }

  /** Marks `reader` for a read of its own pending entries (from the start) before new ones. */
  private recover(reader: Reader): void {
    if (this.core.backend.readPending !== undefined && !this.recovering.has(reader.key)) this.recovering.set(reader.key, ZERO_ID);
  }

  /**
   * Reads up to `count` of this consumer's own pending entries after the recovery cursor; the
   * recovery ends when fewer come back. A failure keeps the cursor for the next round.
   */
  private async readOwnPending(reader: Reader, count: number): Promise<readonly StreamEntry[]> {
    const { stream } = reader;
    const after = this.recovering.get(reader.key)!;
    let entries: readonly StreamEntry[];
    try {
      entries = await this.core.backend.readPending!(stream, reader.group, reader.consumer, after, count);
    } catch (error) {
      if (error instanceof OonaNoGroupError) throw error;
      this.core.metrics.inc('consume_errors');
      this.core.consumeBreaker.recordFailure();
      this.core.logger?.warn('oona pending read failed', { stream, error: describe(error) });
      return NONE;
    }
    if (entries.length < count) this.recovering.delete(reader.key);
    else this.recovering.set(reader.key, entries[entries.length - 1]!.id);
    return entries;
  }

  /** Counts entries whose id time is ahead of the clock (`future_ids`); one check per batch when none is (ids increase). */
  private countFuture(entries: readonly StreamEntry[]): void {
    if (entries.length === 0) return;
    const limit = this.core.clock.nowMs() + FUTURE_ID_TOLERANCE_MS;
    if (!streamIdAfter(entries[entries.length - 1]!.id, limit)) return;
    let n = 0;
    for (let i = 0; i < entries.length; i++) if (streamIdAfter(entries[i]!.id, limit)) n++;
    this.core.metrics.inc('future_ids', n);
  }

  /**
   * Handles one entry: returns whether the handler ran, synchronously when the handler did
   * (a promise only when the handler returned one, or for a failure or an exhausted entry).
   * Ids to acknowledge go to `acks`.
   */
  private process(
    reader: Reader,
    entry: StreamEntry,
    deliveries: number,
    handler: AnyHandler,
    options: RoundOptions,
    acks: string[],
  ): boolean | Promise<boolean> {
    const stream = reader.stream;
    const bytes = entry.fields.payload;
    if (bytes === undefined) {
      // Not an Oona entry (written by something else): there is no envelope to hand anyone.
      this.core.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    if (this.core.signer !== undefined) {
      const sig = entry.fields.signature;
      if (sig === undefined || !this.core.signer.verify(bytes, decoder.decode(sig))) {
        this.core.metrics.inc('signature_rejected');
        acks.push(entry.id);
        return false;
      }
    }
    // One object per delivered entry: the decoded envelope and, once checked, the handler's message.
    const envelope = new Delivery(stream, entry.id);
    try {
      readEnvelopeInto(bytes, envelope);
    } catch {
      this.core.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    const type: number = envelope.messageType;
    if (type < 0 || type >= REGISTERED_TYPES.length || REGISTERED_TYPES[type] === 0) {
      // UNSPECIFIED, or a type this build does not know (a newer contract): no message to decode.
      this.core.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    const attemptText = envelope.attributes.attempt;
    const previous = attemptText === undefined ? 0 : Number.parseInt(attemptText, 10);
    const attempt = (Number.isFinite(previous) && previous > 0 ? previous : 0) + Math.max(1, deliveries);
    if (attempt > this.core.settings.retryMaxAttempts) {
      // Abandoned deliveries (consumers that died mid-handler) used up the attempts.
      return this.exhaust(stream, entry, envelope, attempt - 1).then((moved) => {
        if (moved) acks.push(entry.id);
        return false;
      });
    }
    if (options.types !== undefined && !options.types.includes(envelope.messageType)) {
      this.core.metrics.inc('consume_skipped');
      acks.push(entry.id);
      return false;
    }
    let verdict;
    try {
      verdict = this.guard.check(envelope.messageType, envelope.payload);
    } catch {
      this.core.metrics.inc('decode_rejected');
      acks.push(entry.id);
      return false;
    }
    if (!verdict.ok) {
      this.core.metrics.inc(verdict.reason === 'stale' ? 'kernel_stale_dropped' : 'kernel_replay_dropped');
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
        this.core.metrics.inc('decode_rejected');
        acks.push(entry.id);
        return false;
      }
    }
    const timed = this.core.sampled();
    const started = timed ? performance.now() : 0;
    let result: unknown;
    try {
      result = options.decodeAs === undefined ? (handler as OonaHandler)(message) : handler(decoded as never, message);
    } catch (error) {
      return this.handlerFailed(error, reader, entry, envelope, attempt, verdict, acks);
    }
    if (isThenable(result)) return this.settle(result, reader, entry, envelope, attempt, verdict, acks, timed ? started : -1);
    verdict.commit();
    if (timed) this.core.metrics.set('consume_latency_ms', performance.now() - started);
    acks.push(entry.id);
    return true;
  }

  /** The end of {@link process} for a handler that returned a promise. `started` < 0: not timed. */
  private async settle(
    result: PromiseLike<unknown>,
    reader: Reader,
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
      return this.handlerFailed(error, reader, entry, envelope, attempt, verdict, acks);
    }
    verdict.commit();
    if (started >= 0) this.core.metrics.set('consume_latency_ms', performance.now() - started);
    acks.push(entry.id);
    return true;
  }

  private async handlerFailed(
    error: unknown,
    reader: Reader,
    entry: StreamEntry,
    envelope: EnvelopeTarget,
    attempt: number,
    verdict: { release(): void },
    acks: string[],
  ): Promise<boolean> {
    verdict.release();
    this.core.metrics.inc('handler_failures');
    this.core.logger?.warn('oona handler failed', { stream: reader.stream, group: reader.group, messageId: entry.id, attempt, error: describe(error) });
    await this.handleFailure(reader, entry, envelope, attempt, acks);
    return true;
  }

  /** Retry with backoff, or dead-letter after the last attempt (append first, then acknowledge). */
  private async handleFailure(reader: Reader, entry: StreamEntry, envelope: EnvelopeTarget, attempt: number, acks: string[]): Promise<void> {
    const stream = reader.stream;
    if (attempt >= this.core.settings.retryMaxAttempts) {
      if (await this.exhaust(stream, entry, envelope, attempt)) acks.push(entry.id);
      return;
    }
    const delayMs = this.core.settings.retryBackoffMs === 0 ? 0 : Math.min(this.core.settings.retryBackoffMaxMs, this.core.settings.retryBackoffMs * 2 ** (attempt - 1));
    const requeue = async (): Promise<void> => {
      const fields = this.rewrite(envelope, attempt);
      try {
        await this.core.backend.append(stream, fields);
        await this.core.backend.ack(stream, reader.group, [entry.id]);
        this.core.metrics.inc('retry_total');
      } catch (error) {
        // The original stays pending; the claim sweep redelivers it.
        this.core.metrics.inc('consume_errors');
        this.core.logger?.warn('oona requeue failed', { stream, messageId: entry.id, error: describe(error) });
      }
    };
    if (delayMs === 0 || this.core.closeController.signal.aborted) {
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
    return this.core.fieldsFor(writeEnvelope(envelope.messageType, envelope.payload, { ...envelope.attributes, attempt: String(attempt) }));
  }

  /** Moves an exhausted message to the dead-letter stream; resolves whether the original may be acknowledged. */
  private async exhaust(stream: string, entry: StreamEntry, envelope: EnvelopeTarget, attempt: number): Promise<boolean> {
    const dlq = this.core.streams.deadLetter;
    if (dlq === undefined) {
      this.core.metrics.inc('dead_letter_discarded');
      return true;
    }
    try {
      await this.core.backend.append(dlq, this.rewrite(envelope, attempt));
      this.core.metrics.inc('dead_letter_total');
      return true;
    } catch (error) {
      this.core.metrics.inc('consume_errors');
      this.core.logger?.warn('oona dead-letter append failed', { stream, messageId: entry.id, error: describe(error) });
      return false;
    }
  }
}
