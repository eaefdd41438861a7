import { randomUUID } from 'node:crypto';
import { clone } from '@bufbuild/protobuf';
import type { Clock, CommandSigner, Controller, EvaluateOptions, Logger, Oona, OonaMessageOf, OonaSubscription, PolicyUpdateResult } from '@esper/core';
import {
  AdaptationCommandSchema,
  type BusMessageType,
  SystemStatePacketSchema,
  type AdaptationCommand,
  type SystemStatePacket,
} from '@esper/core/leyline';
import { RemoteDecisionError, RemoteSigningError } from './errors.js';
import { remoteOptionsSchema, type RemoteOptions } from './options.js';
import { defaultReplyStream, REMOTE_ATTRIBUTES, remotePauseCommand, requestAttributes, type EvaluateKind } from './protocol.js';

/** Reason a {@link RemoteController} gives for refusing policy updates. */
export const REMOTE_POLICY_UPDATE_REASON = 'the remote controller does not hold a policy: publish policy updates to the Tamiyo service (Oona policy stream)';

/** What {@link RemoteController} needs. */
export interface RemoteControllerInit {
  /** The trainer's Oona client. */
  readonly oona: Oona;
  /** Signs the timeout PAUSE; must hold the secret the service signs with (not ephemeral). */
  readonly signer: CommandSigner;
  readonly clock: Clock;
  /** Names the default reply stream (`tamiyo.replies.<runId>`). */
  readonly runId: string;
  readonly logger?: Logger;
  /** `tamiyo.remote` options; defaults for what is left out. */
  readonly options?: Partial<RemoteOptions>;
}

/** Counters of a {@link RemoteController}. */
export interface RemoteControllerStats {
  /** Requests published. */
  readonly requests: number;
  /** Answers matched to a waiting call. */
  readonly answered: number;
  /** Calls that ended in the timeout PAUSE. */
  readonly timeouts: number;
  /** Answers with no waiting call (late, duplicated, or another trainer's on a shared stream), ignored. */
  readonly ignored: number;
}

interface Waiter {
  readonly resolve: (command: AdaptationCommand) => void;
  readonly reject: (error: unknown) => void;
  readonly promise: Promise<AdaptationCommand>;
}

/**
 * The `Controller` port over Oona (decision 0061), for `tamiyo.controller: 'remote'`: each call
 * publishes the packet as a request with a deadline (`timeoutMs` from now) and a reply stream,
 * and resolves with the command a Tamiyo service answers with the same packet id.
 *
 * - When the deadline passes first, the call resolves with a PAUSE (`reason: timeout_remote`)
 *   signed by this run's signer, as an in-process controller does when it misses its budget; an
 *   answer arriving later is ignored. When the caller's signal aborts first (Tolaria's own
 *   deadline), the call rejects with the signal's reason.
 * - A request Oona does not append, or a service answer `failed`, rejects with
 *   {@link RemoteDecisionError}: Tolaria counts a failed controller call and decides WAIT.
 * - Duplicated answers and answers to calls that ended are ignored (counted).
 *
 * Call {@link start} before the first decision (the plugin does at `start`) and {@link close}
 * when done; the Oona client is not closed.
 */
export class RemoteController implements Controller {
  /** Stream this controller reads its answers from. */
  readonly replyStream: string;
  private readonly options: RemoteOptions;
  private readonly waiting = new Map<string, Waiter>();
  private readonly subscriptions: OonaSubscription[] = [];
  private readonly counters = { requests: 0, answered: 0, timeouts: 0, ignored: 0 };
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly init: RemoteControllerInit) {
    this.options = remoteOptionsSchema.parse(init.options ?? {});
    this.replyStream = this.options.replyStream ?? defaultReplyStream(init.runId);
  }

  /**
   * Creates this client's consumer group on the reply stream and starts reading answers.
   * Idempotent.
   *
   * @throws {@link RemoteSigningError} when the signer's key is ephemeral (the service's commands could not be verified here).
   */
  start(): Promise<void> {
    this.starting ??= (async () => {
      if (this.init.signer.ephemeral) throw new RemoteSigningError('remote controller');
      const { oona } = this.init;
      await oona.ensureGroups({ streams: [this.replyStream] });
      const onError = (error: unknown): void => {
        // The service deletes a reply stream idle past tamiyo.service.replyStreamIdleMs, group included: make it again.
        if ((error as { code?: unknown } | undefined)?.code === 'ESPER_OONA_NO_GROUP') {
          oona.ensureGroups({ streams: [this.replyStream] }).catch((e: unknown) => this.init.logger?.warn('tamiyo remote: recreating the reply group failed', { error: String(e) }));
          return;
        }
        this.init.logger?.warn('tamiyo remote: reading answers failed; retrying', { error: String(error) });
      };
      const handler = (command: AdaptationCommand, delivery: OonaMessageOf<BusMessageType.ADAPTATION_COMMAND>) => this.onAnswer(command, delivery.attributes);
      this.subscriptions.push(oona.subscribe(AdaptationCommandSchema, handler, { stream: this.replyStream, onError, blockMs: 250 }));
      if (this.options.watchEmergency && oona.streams.emergency !== this.replyStream) {
        this.subscriptions.push(oona.subscribe(AdaptationCommandSchema, handler, { stream: oona.streams.emergency, onError }));
      }
    })();
    return this.starting;
  }

  evaluateStep(packet: SystemStatePacket, options?: EvaluateOptions): Promise<AdaptationCommand> {
    return this.request(packet, 'step', options?.signal);
  }

  evaluateEpoch(packet: SystemStatePacket, options?: EvaluateOptions): Promise<AdaptationCommand> {
    return this.request(packet, 'epoch', options?.signal);
  }

  /** Refused: the policy lives in the service. */
  ingestPolicyUpdate(): Promise<PolicyUpdateResult> {
    return Promise.resolve({ accepted: false, reason: REMOTE_POLICY_UPDATE_REASON });
  }

  /** Nothing is buffered here (field reports and telemetry are the service's). */
  flush(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** The plugin's name for {@link start}: resolves when answers are being read. */
  ready(): Promise<void> {
    return this.start();
  }

  /** The plugin's name for {@link close}. */
  dispose(): Promise<void> {
    return this.close();
  }

  /** Counters since construction. */
  stats(): RemoteControllerStats {
    return { ...this.counters };
  }

  /** Stops reading answers; calls still waiting reject with {@link RemoteDecisionError} (`closed`). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiting.values()) waiter.reject(new RemoteDecisionError('closed', 'the remote controller was closed while the call waited'));
    this.waiting.clear();
    await Promise.allSettled(this.subscriptions.map((s) => s.stop()));
  }

  private async request(packet: SystemStatePacket, evaluate: EvaluateKind, signal: AbortSignal | undefined): Promise<AdaptationCommand> {
    signal?.throwIfAborted();
    if (this.closed) throw new RemoteDecisionError('closed', 'the remote controller is closed');
    await this.start();
    let correlationId = packet.packetId;
    if (correlationId === '') {
      packet = clone(SystemStatePacketSchema, packet);
      correlationId = packet.packetId = randomUUID();
    }
    // The same packet asked again while the first call waits shares its answer.
    const existing = this.waiting.get(correlationId);
    if (existing !== undefined) return existing.promise;

    const deadlineMs = this.init.clock.nowMs() + this.options.timeoutMs;
    let resolve!: (command: AdaptationCommand) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<AdaptationCommand>((res, rej) => ((resolve = res), (reject = rej)));
    this.waiting.set(correlationId, { resolve, reject, promise });
    const timer = setTimeout(() => {
      if (this.waiting.delete(correlationId)) {
        this.counters.timeouts++;
        this.init.logger?.warn('tamiyo remote: no answer before the deadline; deciding PAUSE', { packetId: correlationId, timeoutMs: this.options.timeoutMs });
        resolve(this.init.signer.sign(remotePauseCommand(packet.currentEpoch, 'timeout_remote')));
      }
    }, this.options.timeoutMs);
    const onAbort = (): void => {
      if (this.waiting.delete(correlationId)) reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let sent;
      try {
        sent = await this.init.oona.publishMessage(SystemStatePacketSchema, packet, {
          stream: this.options.requestStream,
          attributes: requestAttributes(this.replyStream, correlationId, deadlineMs, evaluate),
        });
      } catch (error) {
        this.waiting.delete(correlationId);
        throw error;
      }
      if (sent === false) {
        if (this.waiting.delete(correlationId)) reject(new RemoteDecisionError('not_sent', `Oona did not append the request to ${this.options.requestStream}`));
      } else {
        this.counters.requests++;
      }
      return await promise;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private onAnswer(command: AdaptationCommand, attributes: Readonly<Record<string, string>>): void {
    const replyTo = attributes[REMOTE_ATTRIBUTES.replyTo];
    const correlationId = attributes[REMOTE_ATTRIBUTES.correlationId];
    const waiter = replyTo === this.replyStream && correlationId !== undefined ? this.waiting.get(correlationId) : undefined;
    if (waiter === undefined) {
      this.counters.ignored++;
      return;
    }
    this.waiting.delete(correlationId!);
    this.counters.answered++;
    if (attributes[REMOTE_ATTRIBUTES.outcome] === 'failed') {
      waiter.reject(new RemoteDecisionError('failed', attributes[REMOTE_ATTRIBUTES.error] ?? 'the service’s controller failed'));
    } else {
      waiter.resolve(command);
    }
  }
}
