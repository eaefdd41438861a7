import type { BusSchema, OonaHandler, OonaMessageHandler, OonaSubscription, SubscribeOptions, TypedSubscribeOptions } from '../../kernel/ports/oona.js';
import { followSignals } from '../follow-signals.js';
import type { AnyHandler, Consumer, RoundOptions, RoundResult } from './consumer.js';
import { describe, type ClientCore } from './core.js';

/**
 * The subscriptions of one client: continuous consumer loops over {@link Consumer} rounds,
 * with backoff on errors, the breaker's open time respected, the last batch's XACK kept in
 * flight while the next batch is read, and a graceful stop.
 */
export class Subscriptions {
  private readonly subscriptions = new Set<{ stop(): Promise<void> }>();

  constructor(
    private readonly core: ClientCore,
    private readonly consumer: Consumer,
  ) {}

  /** Stops every loop; each lets its running handler finish and its last batch be acknowledged. */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.subscriptions].map((sub) => sub.stop()));
  }

  /** A consumer loop, untyped or typed by a payload schema (see `Oona.subscribe`). */
  subscribe(handler: OonaHandler, options?: SubscribeOptions): OonaSubscription;
  subscribe<Desc extends BusSchema>(schema: Desc, handler: OonaMessageHandler<Desc>, options?: TypedSubscribeOptions): OonaSubscription;

  subscribe(
    first: OonaHandler | BusSchema,
    second?: SubscribeOptions | OonaMessageHandler<BusSchema>,
    third?: TypedSubscribeOptions,
  ): OonaSubscription {
    if (typeof first === 'function') return this.subscribeLoop(first as AnyHandler, (second as SubscribeOptions | undefined) ?? {});
    return this.subscribeLoop(second as AnyHandler, { ...third, ...this.consumer.typedOptions(first, third) });
  }

  private subscribeLoop(handler: AnyHandler, options: SubscribeOptions & RoundOptions): OonaSubscription {
    this.core.assertOpen();
    const stream = options.stream ?? this.core.streams.normal;
    const controller = new AbortController();
    const followed = followSignals([controller.signal, this.core.closeController.signal, options.signal]);
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
            const run = this.consumer.consumeOnce(handler, readOptions);
            this.core.activeConsumes.add(run);
            let result: RoundResult;
            try {
              result = await run;
            } finally {
              this.core.activeConsumes.delete(run);
            }
            if (result.acked !== undefined) {
              if (acking !== undefined) await acking;
              acking = result.acked;
            }
            backoffMs = 50;
            if (result.denied) {
              const waitMs = Math.max(1, Math.min(1_000, this.core.consumeBreaker.openUntilMs - this.core.clock.monotonicMs()));
              // A restored backend connection half-opens the breaker: read again at once.
              await this.core.nap(waitMs, signal);
            }
          } catch (error) {
            if (signal.aborted) break;
            if (options.onError) options.onError(error);
            else this.core.logger?.warn('oona consumer loop error', { stream, error: describe(error) });
            await this.core.nap(backoffMs, signal);
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
}
