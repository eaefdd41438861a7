import type { Clock, CommandSigner, Controller, EventInput, Logger, Oona, OonaMessageOf, OonaSubscription, Telemetry } from '@esper/core';
import {
  AdaptationCommandSchema,
  SystemStatePacketSchema,
  TelemetryLevel,
  type AdaptationCommand,
  type BusMessageType,
  type SystemStatePacket,
} from '@esper/core/leyline';
import { RemoteSigningError, ServiceStoppingError } from './errors.js';
import { OrderedLanes } from './lanes.js';
import { serviceOptionsSchema, type ServiceOptions } from './options.js';
import { parseRequest, remotePauseCommand, replyAttributes, type RemoteRequest } from './protocol.js';
import { REPLY_STREAM_EXPIRED_EVENT, serviceTelemetryPacket, type ServiceTelemetryCounts } from './telemetry.js';

/** A controller the service made for one training run, with how to release it. */
export interface ServedController {
  readonly controller: Controller;
  /** Releases what the controller holds (a policy session, a worker); called after its last decision. */
  close?(): void | Promise<void>;
}

/**
 * Makes the controller of one training run. The service calls it on the first request of a
 * `training_run_id` and keeps the result while the run sends requests (`tamiyo.service.maxRuns`,
 * `runIdleMs`), so a stateful controller sees exactly its own run's packets, in order.
 */
export type ControllerFactory = (trainingRunId: string) => ServedController | Promise<ServedController>;

/** What {@link TamiyoService} needs. */
export interface TamiyoServiceInit {
  /** The service's Oona client; its consumer group is the group that replicas share. */
  readonly oona: Oona;
  readonly controllers: ControllerFactory;
  /** Signs the PAUSE sent when a controller throws; must hold the shared secret (not ephemeral). */
  readonly signer: CommandSigner;
  readonly clock: Clock;
  readonly logger?: Logger;
  /**
   * Where the service's telemetry packets go (every `telemetryIntervalMs`, every
   * `telemetryEveryRequests` requests, and once when it stops); none: no packets.
   */
  readonly telemetry?: Telemetry | undefined;
  /** `tamiyo.service` options; defaults for what is left out. */
  readonly options?: Partial<ServiceOptions>;
}

/** Counters and gauges of a {@link TamiyoService}. */
export interface TamiyoServiceStats {
  /** State packets delivered to the service. */
  readonly received: number;
  /** Packets without request attributes, acknowledged and left alone. */
  readonly ignored: number;
  /** Requests delivered again (redelivery, a resent request): answered with the command already sent, never decided twice. */
  readonly duplicates: number;
  /** Requests whose deadline passed before their decision started: dropped unanswered. */
  readonly expired: number;
  /** Decisions made by a run's controller. */
  readonly decided: number;
  /**
   * Decisions that ended after their request's deadline: answered when the controller still
   * returned a command (the trainer ignores it), unanswered when it gave up on the signal.
   */
  readonly late: number;
  /** Controller calls that threw (answered with a signed `service_error` PAUSE). */
  readonly failed: number;
  /** Answers Oona did not append (dropped, refused or given up). */
  readonly unsent: number;
  /** Decisions answered: signed commands (or `service_error` PAUSEs) Oona appended to their reply stream. */
  readonly answered: number;
  /** Old answers trimmed from reply streams by {@link TamiyoService.housekeeping}. */
  readonly replyEntriesTrimmed: number;
  /** Reply streams deleted by {@link TamiyoService.housekeeping} after `replyStreamIdleMs` without an answer. */
  readonly replyStreamsDeleted: number;
  /** Controllers held now (one per training run). */
  readonly runs: number;
  /** Requests admitted and not yet answered. */
  readonly pending: number;
  /** Reply streams answered on and not yet deleted by housekeeping. */
  readonly replyStreams: number;
}

type Counter = Exclude<keyof TamiyoServiceStats, 'runs' | 'pending' | 'replyStreams'>;

/** Most decision latencies kept between two telemetry packets (the newest are kept). */
const LATENCY_WINDOW = 4_096;

interface Reply {
  readonly stream: string;
  readonly command: AdaptationCommand;
  readonly attributes: Record<string, string>;
}

/** What the service remembers of a request it admitted: its answer once sent. */
interface Answer {
  reply?: Reply;
}

interface HeldController {
  readonly served: Promise<ServedController>;
  lastUsedMs: number;
  /** Requests decided by it. */
  decisions: number;
}

/**
 * Tamiyo as a remote service (decision 0061): reads `SystemStatePacket` requests from an Oona
 * stream with the client's consumer group (replicas in one group share the requests), decides
 * each with the controller of its `training_run_id`, and publishes the signed
 * `AdaptationCommand` to the request's reply stream, correlated by the packet id (envelope
 * attributes, see `REMOTE_ATTRIBUTES`).
 *
 * - Order: a run's requests are decided one after another, in the order they were read; runs
 *   are decided side by side, at most `concurrency` at once.
 * - Deadlines: a request whose deadline passed before its decision starts is dropped
 *   (`expired`): the trainer has already decided WAIT; its controller never sees the packet.
 * - Duplicates: a request delivered again is answered with the command already sent (same
 *   `command_id`, so an executor that saw it refuses the replay), never decided twice.
 * - Stopping drains: reading stops, admitted requests are answered (up to `drainTimeoutMs`),
 *   then each run's controller is flushed and closed.
 *
 * A request is acknowledged on Oona when it is admitted, not when it is answered: a crash loses
 * the requests in progress (their trainers time out and WAIT) rather than deciding them again.
 *
 * Telemetry and housekeeping: a `tamiyo.service.*` packet through `telemetry` (see
 * `serviceTelemetryPacket`) every `telemetryIntervalMs` and every `telemetryEveryRequests`
 * requests; every `housekeepingIntervalMs` the reply streams it answered on are trimmed by
 * `replyTtlMs` and deleted after `replyStreamIdleMs` without an answer. Both also run on demand
 * ({@link emitTelemetry}, {@link housekeeping}).
 */
export class TamiyoService {
  private readonly options: ServiceOptions;
  private readonly lanes: OrderedLanes<{ readonly request: RemoteRequest; readonly answer: Answer }>;
  private readonly answers = new Map<string, Answer>();
  private readonly held = new Map<string, HeldController>();
  private readonly releasing = new Set<Promise<void>>();
  private readonly subscriptions: OonaSubscription[] = [];
  private readonly counters: Record<Counter, number> = {
    received: 0,
    ignored: 0,
    duplicates: 0,
    expired: 0,
    decided: 0,
    late: 0,
    failed: 0,
    unsent: 0,
    answered: 0,
    replyEntriesTrimmed: 0,
    replyStreamsDeleted: 0,
  };
  /** Reply streams answered on, with the wall-clock time of the last answer. */
  private readonly replyStreams = new Map<string, number>();
  private latenciesMs: number[] = [];
  private pendingEvents: EventInput[] = [];
  private lastCounts: ServiceTelemetryCounts | undefined;
  private telemetrySequence = 0;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private housekeepingRun: Promise<unknown> | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly init: TamiyoServiceInit) {
    this.options = serviceOptionsSchema.parse(init.options ?? {});
    this.lanes = new OrderedLanes((key, item) => this.decide(key, item.request, item.answer), this.options.concurrency, this.options.maxQueued);
  }

  /**
   * Creates the consumer group on the request stream and starts reading (and on the emergency
   * stream when `watchEmergency`).
   *
   * @throws {@link RemoteSigningError} when the signer's key is ephemeral.
   */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.init.signer.ephemeral) throw new RemoteSigningError('service');
    this.started = true;
    const { oona } = this.init;
    const stream = this.options.requestStream;
    await oona.ensureGroups({ streams: [stream] });
    const onError = (error: unknown): void => this.init.logger?.warn('tamiyo service: reading requests failed; retrying', { stream, error: String(error) });
    const handler = (packet: SystemStatePacket, delivery: OonaMessageOf<BusMessageType.SYSTEM_STATE>) => this.onRequest(packet, delivery.attributes);
    this.subscriptions.push(oona.subscribe(SystemStatePacketSchema, handler, { stream, onError }));
    if (this.options.watchEmergency && oona.streams.emergency !== stream) {
      this.subscriptions.push(oona.subscribe(SystemStatePacketSchema, handler, { stream: oona.streams.emergency, onError }));
    }
    this.init.logger?.info('tamiyo service: serving decision requests', { stream, group: oona.group, consumer: oona.consumer });
    const every = (ms: number, task: () => Promise<unknown>): void => {
      if (ms <= 0) return;
      const timer = setInterval(() => void task(), ms);
      timer.unref();
      this.timers.push(timer);
    };
    if (this.init.telemetry !== undefined) every(this.options.telemetryIntervalMs, () => this.emitTelemetry());
    every(this.options.housekeepingIntervalMs, () => this.housekeeping());
  }

  /**
   * Stops reading, answers the admitted requests (at most `drainTimeoutMs`), then flushes and
   * closes every run's controller. Idempotent; does not close the Oona client.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const timer of this.timers.splice(0)) clearInterval(timer);
      this.lanes.close(new ServiceStoppingError());
      await Promise.allSettled(this.subscriptions.map((s) => s.stop()));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        this.lanes.idle().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.options.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (!drained) this.init.logger?.warn('tamiyo service: stopped with requests still being decided', { pending: this.lanes.pending });
      // The last packet reports the drained state, with the runs still held.
      await this.emitTelemetry();
      for (const key of [...this.held.keys()]) this.release(key);
      await Promise.allSettled([...this.releasing]);
      await this.housekeepingRun?.catch(() => undefined);
    })();
    return this.stopping;
  }

  /** Counters since start, and the gauges now. */
  stats(): TamiyoServiceStats {
    return { ...this.counters, runs: this.held.size, pending: this.lanes.pending, replyStreams: this.replyStreams.size };
  }

  /**
   * Emits the service's telemetry packet now (totals, gauges, the decision latencies and events
   * since the previous packet, one reading per run's controller). Resolves when the run's
   * Telemetry took it; never throws (a failure is logged). Does nothing without `telemetry`.
   */
  async emitTelemetry(): Promise<void> {
    const telemetry = this.init.telemetry;
    if (telemetry === undefined) return;
    const { clock } = this.init;
    const counts = this.stats();
    const now = clock.monotonicMs();
    const runs = [...this.held.entries()].map(([trainingRunId, h]) => ({ trainingRunId, decisions: h.decisions, idleMs: Math.max(0, now - h.lastUsedMs) }));
    const latenciesMs = this.latenciesMs;
    const events = this.pendingEvents;
    this.latenciesMs = [];
    this.pendingEvents = [];
    const previous = this.lastCounts;
    this.lastCounts = counts;
    this.telemetrySequence++;
    try {
      const { packet, priority } = serviceTelemetryPacket(
        { sequence: this.telemetrySequence, counts, previous, latenciesMs, runs, events, maxQueued: this.options.maxQueued },
        clock,
      );
      await telemetry.emit(packet, priority);
    } catch (error) {
      this.init.logger?.warn('tamiyo service: a telemetry packet was not delivered', { error: String(error) });
    }
  }

  /**
   * Housekeeping of the reply streams answered on: a stream without an answer for
   * `replyStreamIdleMs` is deleted with its consumer group (`reply_stream_expired` event in the
   * next packet); the others lose the answers older than `replyTtlMs`, never one their trainer
   * has not read (Oona's rules). The catalogue's streams and the request stream are never
   * touched, whatever a request names as its reply stream. Needs an Oona client with
   * `trimStream`/`deleteStream`; without them it does nothing. Never throws; runs one at a time.
   * Resolves what it removed.
   */
  housekeeping(): Promise<{ readonly trimmed: number; readonly deleted: readonly string[] }> {
    const run = (this.housekeepingRun ?? Promise.resolve()).catch(() => undefined).then(() => this.housekeepOnce());
    this.housekeepingRun = run;
    return run;
  }

  private async housekeepOnce(): Promise<{ trimmed: number; deleted: string[] }> {
    const { oona, clock, logger } = this.init;
    const { replyTtlMs, replyStreamIdleMs } = this.options;
    let trimmed = 0;
    const deleted: string[] = [];
    const now = clock.nowMs();
    for (const [stream, lastAnswerMs] of [...this.replyStreams]) {
      const idleMs = now - lastAnswerMs;
      try {
        if (replyStreamIdleMs > 0 && idleMs >= replyStreamIdleMs && oona.deleteStream !== undefined) {
          await oona.deleteStream(stream);
          // An answer published while the stream was being deleted keeps it tracked.
          if (this.replyStreams.get(stream) === lastAnswerMs) this.replyStreams.delete(stream);
          this.counters.replyStreamsDeleted++;
          deleted.push(stream);
          this.pendingEvents.push({ description: REPLY_STREAM_EXPIRED_EVENT, level: TelemetryLevel.INFO, attributes: { stream, idle_ms: String(Math.round(idleMs)) } });
        } else if (replyTtlMs > 0 && oona.trimStream !== undefined) {
          trimmed += await oona.trimStream(stream, { ttlMs: replyTtlMs });
        }
      } catch (error) {
        logger?.warn('tamiyo service: housekeeping of a reply stream failed', { stream, error: String(error) });
      }
    }
    this.counters.replyEntriesTrimmed += trimmed;
    if (trimmed > 0 || deleted.length > 0) logger?.debug('tamiyo service: reply streams housekept', { trimmed, deleted: deleted.join(',') });
    return { trimmed, deleted };
  }

  private async onRequest(packet: SystemStatePacket, attributes: Readonly<Record<string, string>>): Promise<void> {
    this.counters.received++;
    const n = this.options.telemetryEveryRequests;
    if (n > 0 && this.counters.received % n === 0) void this.emitTelemetry();
    const request = parseRequest(packet, attributes);
    if (request === undefined) {
      this.counters.ignored++;
      return;
    }
    // The deadline is part of the key: a trainer that resumes and sends the same packet id again
    // (a new request, a new deadline) gets a new decision; a redelivered envelope is a duplicate.
    const key = `${request.runKey}\u0000${request.correlationId}\u0000${request.deadlineMs}`;
    const seen = this.answers.get(key);
    if (seen !== undefined) {
      this.counters.duplicates++;
      if (seen.reply !== undefined) await this.publish(seen.reply, false);
      return;
    }
    if (this.init.clock.nowMs() >= request.deadlineMs) {
      this.counters.expired++;
      return;
    }
    const answer: Answer = {};
    this.remember(key, answer);
    try {
      await this.lanes.admit(request.runKey, { request, answer });
    } catch (error) {
      this.answers.delete(key);
      throw error;
    }
  }

  private async decide(runKey: string, request: RemoteRequest, answer: Answer): Promise<void> {
    const { clock, logger } = this.init;
    const left = request.deadlineMs - clock.nowMs();
    if (left <= 0) {
      this.counters.expired++;
      return;
    }
    let command: AdaptationCommand;
    let attributes: Record<string, string>;
    const signal = AbortSignal.timeout(left);
    try {
      const { controller } = await this.controllerFor(runKey);
      const started = clock.monotonicMs();
      command =
        request.evaluate === 'step' ? await controller.evaluateStep(request.packet, { signal }) : await controller.evaluateEpoch(request.packet, { signal });
      this.recordLatency(clock.monotonicMs() - started);
      const held = this.held.get(runKey);
      if (held !== undefined) held.decisions++;
      this.counters.decided++;
      if (clock.nowMs() > request.deadlineMs) this.counters.late++;
      attributes = replyAttributes(request, 'decided');
    } catch (error) {
      if (signal.aborted) {
        // The controller gave up at the deadline, as the port asks: the trainer has decided WAIT.
        this.counters.late++;
        return;
      }
      this.counters.failed++;
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      logger?.warn('tamiyo service: the controller failed; answering PAUSE', { trainingRunId: request.packet.trainingRunId, packetId: request.correlationId, error: detail });
      command = this.init.signer.sign(remotePauseCommand(request.packet.currentEpoch, 'service_error'));
      attributes = replyAttributes(request, 'failed', detail);
    }
    answer.reply = { stream: request.replyTo, command, attributes };
    await this.publish(answer.reply, true);
  }

  private recordLatency(ms: number): void {
    this.latenciesMs.push(ms);
    if (this.latenciesMs.length > LATENCY_WINDOW) this.latenciesMs.splice(0, this.latenciesMs.length - LATENCY_WINDOW);
  }

  /** Whether housekeeping may trim or delete `stream`: never a catalogue stream or the request stream. */
  private isReplyStream(stream: string): boolean {
    const { streams } = this.init.oona;
    return stream !== this.options.requestStream && !Object.values(streams).includes(stream);
  }

  private async publish(reply: Reply, first: boolean): Promise<void> {
    if (this.isReplyStream(reply.stream)) this.replyStreams.set(reply.stream, this.init.clock.nowMs());
    let result;
    try {
      result = await this.init.oona.publishMessage(AdaptationCommandSchema, reply.command, { stream: reply.stream, attributes: reply.attributes });
    } catch (error) {
      result = false;
      this.init.logger?.warn('tamiyo service: publishing an answer threw', { stream: reply.stream, error: String(error) });
    }
    if (result === false) {
      this.counters.unsent++;
      this.init.logger?.warn('tamiyo service: an answer was not published', { stream: reply.stream, commandId: reply.command.commandId });
    } else if (first) {
      this.counters.answered++;
    }
  }

  /** Remembers an admitted request, forgetting the oldest beyond `replyCacheSize`. */
  private remember(key: string, answer: Answer): void {
    this.answers.set(key, answer);
    for (const old of this.answers.keys()) {
      if (this.answers.size <= this.options.replyCacheSize) break;
      this.answers.delete(old);
    }
  }

  private controllerFor(runKey: string): Promise<ServedController> {
    const now = this.init.clock.monotonicMs();
    const held = this.held.get(runKey);
    if (held !== undefined) {
      held.lastUsedMs = now;
      return held.served;
    }
    this.evict(now, runKey);
    const served = Promise.resolve().then(() => this.init.controllers(runKey));
    this.held.set(runKey, { served, lastUsedMs: now, decisions: 0 });
    // A factory that fails is asked again on the run's next request.
    served.catch(() => this.held.delete(runKey));
    return served;
  }

  /** Releases controllers idle past `runIdleMs`, then the least recently used idle ones beyond `maxRuns - 1`. */
  private evict(now: number, keep: string): void {
    const idle = [...this.held.entries()].filter(([key]) => key !== keep && !this.lanes.has(key)).sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs);
    for (const [key, held] of idle) {
      if (now - held.lastUsedMs >= this.options.runIdleMs || this.held.size >= this.options.maxRuns) this.release(key);
    }
  }

  private release(key: string): void {
    const held = this.held.get(key);
    if (held === undefined) return;
    this.held.delete(key);
    const released = (async () => {
      try {
        const served = await held.served;
        await served.controller.flush();
        await served.close?.();
      } catch (error) {
        this.init.logger?.warn('tamiyo service: closing a run controller failed', { trainingRunId: key, error: String(error) });
      }
    })();
    this.releasing.add(released);
    void released.finally(() => this.releasing.delete(released));
  }
}
