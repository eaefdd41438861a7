import { Tokens, type Controller, type Resolver, type SetupContext } from '@esper/core';
import type { TamiyoPluginOptions } from '../plugin.js';
import { PolicyUpdateConsumer, PolicyUpdateFanout, type PolicyUpdateConsumerStats, type PolicyUpdateTarget } from './consume.js';

/** The plugin's policy-update delivery: the consumer loop and the fan-out to the service's run controllers. */
export interface PolicyUpdateDelivery {
  /** Starts reading the policy stream (after the controllers are ready). */
  start(): Promise<void>;
  /** Stops reading; resolves once the update in progress is handled and acknowledged. */
  stop(): Promise<void>;
  /** Adds a service run controller: the retained updates are replayed to it first. Returns the detach function. */
  attach(target: PolicyUpdateTarget): Promise<() => void>;
  /** Consumer counters, and the deliveries to service run controllers. */
  stats(): PolicyUpdateConsumerStats & ReturnType<PolicyUpdateFanout['stats']>;
}

/**
 * The run's policy-update delivery per `tamiyo.policyUpdates.consume` (decision 0064), or
 * undefined when updates are not consumed: no Oona in the run, the setting off, or a controller
 * without a policy (`heuristic`, and `remote`, whose policy lives in the service).
 */
export function policyUpdateDelivery(ctx: SetupContext<TamiyoPluginOptions>, r: Resolver, controller: Controller): PolicyUpdateDelivery | undefined {
  const { options, logger } = ctx;
  const oona = r.tryResolve(Tokens.Oona);
  const wanted = options.policyUpdates.consume;
  if (wanted === false) return undefined;
  if (oona === undefined) {
    if (wanted === true) logger.warn('tamiyo: policyUpdates.consume is on but the run has no Oona plugin; no policy update is read');
    return undefined;
  }
  if (options.controller !== 'gnn') {
    if (wanted === true) logger.info(`tamiyo: the ${options.controller} controller has no policy to update; policy updates are not read`);
    return undefined;
  }
  const fanout = new PolicyUpdateFanout(controller, logger);
  const consumer = new PolicyUpdateConsumer({
    oona,
    target: fanout,
    stream: options.policyUpdates.stream,
    count: options.policyUpdates.batchSize,
    blockMs: options.policyUpdates.blockMs,
    logger,
  });
  return {
    start: () => consumer.start(),
    stop: () => consumer.stop(),
    attach: (target) => fanout.attach(target),
    stats: () => ({ ...consumer.stats(), ...fanout.stats() }),
  };
}
