import { Tokens, type Resolver, type SetupContext } from '@esper/core';
import type { TamiyoPluginOptions } from '../plugin.js';
import { RemoteServiceLoopError } from './errors.js';
import { RemoteController } from './remote-controller.js';
import { TamiyoService, type ControllerFactory } from './service.js';

/** The run's remote controller from `tamiyo.remote` and the run's Oona, signer and clock (the caller starts and closes it). */
export function createRemoteController(ctx: SetupContext<TamiyoPluginOptions>, r: Resolver): RemoteController {
  return new RemoteController({
    oona: r.resolve(Tokens.Oona),
    signer: r.resolve(Tokens.CommandSigner),
    clock: ctx.clock,
    runId: ctx.run.runId,
    logger: ctx.logger,
    options: ctx.options.remote,
  });
}

/**
 * Starts the Tamiyo service of `tamiyo.service` on the run's Oona, making one controller per
 * training run with `controllers` (the config's own controller choice); its telemetry packets go
 * through the run's Telemetry.
 *
 * @throws {@link RemoteServiceLoopError} when the config's controller is `remote`.
 */
export async function startTamiyoService(ctx: SetupContext<TamiyoPluginOptions>, r: Resolver, controllers: ControllerFactory): Promise<TamiyoService> {
  if (ctx.options.controller === 'remote') throw new RemoteServiceLoopError();
  const service = new TamiyoService({
    oona: r.resolve(Tokens.Oona),
    signer: r.resolve(Tokens.CommandSigner),
    clock: ctx.clock,
    logger: ctx.logger,
    telemetry: r.tryResolve(Tokens.Telemetry),
    controllers,
    options: ctx.options.service,
  });
  await service.start();
  return service;
}
