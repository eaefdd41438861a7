import mittModule, { type Emitter, type EventType } from 'mitt';
import type {
  AdaptationCommand,
  EmergencySignal,
  MessagePriority,
  SeedLifecycleStage,
  SystemStatePacket,
  TelemetryPacket,
} from '../leyline/index.js';

/**
 * The in-process events of a run, by name. Payloads carry Leyline messages where one exists;
 * no parallel shapes are invented for the same thing.
 */
export type EsperEvents = {
  /** An epoch is about to train. */
  'epoch:start': { readonly runId: string; readonly epoch: number };
  /** An epoch finished; `packet` is the state packet the trainer assembled for it. */
  'epoch:end': { readonly runId: string; readonly epoch: number; readonly packet: SystemStatePacket };
  /** One optimizer step finished. */
  'step:end': { readonly runId: string; readonly epoch: number; readonly globalStep: number; readonly loss: number };
  /** The controller issued a command. */
  'command:issued': { readonly command: AdaptationCommand };
  /** The executor applied a command. */
  'command:applied': { readonly command: AdaptationCommand };
  /** The executor rejected a command, with its stable reason (`nonce_replayed`, …). */
  'command:rejected': { readonly command: AdaptationCommand; readonly reason: string };
  /** A seed moved between lifecycle stages. */
  'seed:stage-changed': {
    readonly seedId: string;
    readonly from: SeedLifecycleStage;
    readonly to: SeedLifecycleStage;
    /** Epoch in which the transition happened. */
    readonly epoch?: number;
    /** Blueprint of the seed, when one is attached. */
    readonly blueprintId?: string;
    /** Why it moved (a gate name, `culled: …`, the command id …). */
    readonly reason?: string;
  };
  /** An emergency signal was raised. */
  'emergency:raised': { readonly signal: EmergencySignal };
  /** The active emergency signal was cleared. */
  'emergency:cleared': { readonly previous?: EmergencySignal };
  /** A telemetry packet was emitted, with its routing priority. */
  'telemetry:emitted': { readonly packet: TelemetryPacket; readonly priority: MessagePriority };
  /** Training ended: the trainer's loop is over (the run itself still has to be stopped). */
  'run:end': {
    readonly runId: string;
    /** Epochs completed. */
    readonly epochs: number;
    /** `completed` (all epochs), `stopped` (aborted), `halted` (emergency) or `failed` (see `error`). */
    readonly outcome: 'completed' | 'stopped' | 'halted' | 'failed';
    readonly error?: unknown;
  };
};

/**
 * Events that are lifecycle steps of a run: plugin hooks for them (`onEpochEnd`, …) are awaited
 * in plugin boot order, each within its timeout, before the producer goes on. The other events
 * are notifications, delivered fire-and-forget on the {@link EventBus}.
 */
export const LIFECYCLE_EVENTS = [
  'epoch:start',
  'epoch:end',
  'seed:stage-changed',
  'emergency:raised',
  'emergency:cleared',
  'run:end',
] as const satisfies readonly (keyof EsperEvents)[];

/** One of {@link LIFECYCLE_EVENTS}. */
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

/** Events that are notifications only (on the mitt bus, not awaited). */
export type NotificationEventName = Exclude<keyof EsperEvents, LifecycleEventName>;

/**
 * Fires lifecycle events of a run: `await ctx.lifecycle.emit('epoch:end', payload)`.
 *
 * Each plugin's hook for the event (`onEpochEnd` for `epoch:end`) runs in plugin boot order, one
 * after the other, each within the plugin's timeout for that hook. Every hook runs even when an
 * earlier one failed; then the event goes out on the mitt bus (`ctx.events`); then the first
 * failure, if any, is thrown (a `HookFailedError` or `HookTimeoutError` naming the
 * plugin; every failure is also logged). Throws `RunStoppedError` once the run is stopped.
 */
export interface LifecycleEmitter {
  emit<E extends LifecycleEventName>(event: E, payload: EsperEvents[E]): Promise<void>;
}

type MittFactory = <Events extends Record<EventType, unknown>>() => Emitter<Events>;
// mitt ships CommonJS-style typings with an ESM build: under NodeNext the default import is
// typed as the module namespace, while at run time it is the factory itself.
const mitt: MittFactory =
  (mittModule as unknown as { default?: MittFactory }).default ?? (mittModule as unknown as MittFactory);

/** Name of an {@link EsperEvents} event. */
export type EsperEventName = keyof EsperEvents;

/** A listener; a returned promise is observed so that its rejection is reported, not lost. */
export type EsperListener<E extends EsperEventName> = (payload: EsperEvents[E]) => void | Promise<void>;

/** Called when a listener throws or rejects. */
export type ListenerErrorHandler = (error: unknown, event: EsperEventName) => void;

/**
 * Typed in-process event bus on mitt. Emitting never throws: a listener that throws or
 * rejects is isolated (the other listeners still run) and reported to `onListenerError`.
 * Cross-process traffic goes through Oona, not through this bus.
 */
export class EventBus {
  private readonly emitter: Emitter<EsperEvents>;
  /** Per event, the isolating wrapper of each listener (needed to unsubscribe). */
  private readonly wrapped = new Map<EsperEventName, Map<unknown, (payload: never) => void>>();
  private failures = 0;

  constructor(private readonly onListenerError: ListenerErrorHandler = () => {}) {
    this.emitter = mitt<EsperEvents>();
  }

  /** Subscribes; returns an unsubscribe function. */
  on<E extends EsperEventName>(event: E, listener: EsperListener<E>): () => void {
    const safe = (payload: EsperEvents[E]): void => {
      try {
        const result = listener(payload);
        if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
          (result as Promise<void>).then(undefined, (error: unknown) => this.report(error, event));
        }
      } catch (error) {
        this.report(error, event);
      }
    };
    let forEvent = this.wrapped.get(event);
    if (forEvent === undefined) {
      forEvent = new Map();
      this.wrapped.set(event, forEvent);
    }
    if (forEvent.has(listener)) return () => this.off(event, listener);
    forEvent.set(listener, safe as (payload: never) => void);
    this.emitter.on(event, safe);
    return () => this.off(event, listener);
  }

  /** Unsubscribes a listener added with {@link EventBus.on}. */
  off<E extends EsperEventName>(event: E, listener: EsperListener<E>): void {
    const forEvent = this.wrapped.get(event);
    const safe = forEvent?.get(listener);
    if (forEvent === undefined || safe === undefined) return;
    this.emitter.off(event, safe as (payload: EsperEvents[E]) => void);
    forEvent.delete(listener);
  }

  /** Delivers `payload` to every listener of `event`, synchronously, in subscription order. */
  emit<E extends EsperEventName>(event: E, payload: EsperEvents[E]): void {
    this.emitter.emit(event, payload);
  }

  /** How many listener calls have thrown or rejected so far. */
  get listenerFailures(): number {
    return this.failures;
  }

  /** Removes every listener (called when a run is disposed). */
  clear(): void {
    this.emitter.all.clear();
    this.wrapped.clear();
  }

  private report(error: unknown, event: EsperEventName): void {
    this.failures += 1;
    try {
      this.onListenerError(error, event);
    } catch {
      // A failing error handler must not break emission either.
    }
  }
}
