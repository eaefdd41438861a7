import { definePlugin, setThreadRealtime, Tokens, type Controller, type Resolver, type SetupContext } from '@esper/core';
import { z } from 'zod';
import { tamiyoConfigSchema } from './config.js';
import { resolveBlueprintRotation } from './heuristic/blueprints.js';
import { HeuristicController } from './heuristic/controller.js';
import { heuristicOptionsSchema } from './heuristic/options.js';
import { openFieldReports } from './field-reports/plugin-glue.js';
import type { FieldReportLifecycle } from './field-reports/lifecycle.js';
import { gnnOptionsSchema } from './gnn/options.js';
import { createGnnController, REALTIME_PRIORITY } from './gnn/plugin-glue.js';
import { policyUpdateDelivery, type PolicyUpdateDelivery } from './policy-updates/plugin-glue.js';
import { remoteOptionsSchema, serviceOptionsSchema } from './service/options.js';
import { createRemoteController, startTamiyoService } from './service/plugin-glue.js';
import type { ControllerFactory, TamiyoService } from './service/service.js';

/** Controllers `tamiyo.controller` may name. */
export const TAMIYO_CONTROLLERS = ['heuristic', 'gnn', 'remote'] as const;

/** One of {@link TAMIYO_CONTROLLERS}. */
export type TamiyoControllerName = (typeof TAMIYO_CONTROLLERS)[number];

/** The `tamiyo` section as the plugin reads it: Tamiyo's settings, the controller choice and the heuristic's thresholds. */
export const tamiyoPluginSchema = tamiyoConfigSchema.extend({
  controller: z
    .enum(TAMIYO_CONTROLLERS)
    .default('heuristic')
    .meta({
      description:
        'Which controller decides: "heuristic" (rule-based, tamiyo-heuristic.md), "gnn" (the hetero-GNN policy on ONNX Runtime, decision 0058) or "remote" (a Tamiyo service over Oona, decision 0061).',
    }),
  heuristic: heuristicOptionsSchema.meta({ description: 'Thresholds of the heuristic controller (decision 0052).' }),
  gnn: gnnOptionsSchema.meta({ description: 'The GNN controller: weights, devices, blueprints (decision 0058).' }),
  remote: remoteOptionsSchema.meta({ description: 'The remote controller: request and reply streams, deadline (decision 0061).' }),
  service: serviceOptionsSchema.meta({ description: 'Tamiyo as a service for remote controllers (decision 0061; `esper serve`).' }),
});

/** Validated options of {@link tamiyo}. */
export type TamiyoPluginOptions = z.output<typeof tamiyoPluginSchema>;
/** What the `tamiyo` config section may hold. */
export type TamiyoPluginInput = z.input<typeof tamiyoPluginSchema>;

/**
 * Plugin: Tamiyo, the controller. Provides `Tokens.Controller`: the controller named by
 * `tamiyo.controller`, signing with the run's `CommandSigner` and sending one telemetry packet per
 * decision through the run's `Telemetry`. At `start` it checks the heuristic's blueprint rotation
 * against the `BlueprintCatalog` when one is present, so an unknown blueprint fails the run
 * before training.
 *
 * @example
 * ```ts
 * export default defineConfig({
 *   plugins: [oonaMemory(), tolaria(), kasmina(), tamiyo()],
 *   tamiyo: { heuristic: { blueprintRotation: ['BP001'], plateauEpochsToGerminate: 2 } },
 * });
 * ```
 */
export function tamiyo(options: Partial<TamiyoPluginInput> = {}) {
  return definePlugin({
    name: '@esper/plugin-tamiyo',
    configKey: 'tamiyo',
    configSchema: tamiyoPluginSchema,
    factoryOptions: options,
    provides: [Tokens.Controller],
    optionalRequires: [Tokens.BlueprintCatalog, Tokens.BlueprintMetadata, Tokens.Oona],
    // Loading the GNN policy (weights, ONNX session, warm-up) takes seconds on a busy machine.
    // Stopping a service drains its requests (tamiyo.service.drainTimeoutMs).
    hookTimeoutsMs: { start: 120_000, stop: 60_000 },
    setup(ctx) {
      // Field reports (P9): opened at start (replaying the log), published at each epoch end.
      let fieldReports: FieldReportLifecycle | undefined;
      ctx.onDispose(() => fieldReports?.close());
      // The GNN controller loads its policy (weights, ONNX session, warm-up) at start; the remote
      // one starts reading its answers.
      let managed: ManagedController | undefined;
      ctx.onDispose(() => managed?.dispose());
      ctx.provide(Tokens.Controller, (r) => createController(ctx, r, fieldReports, (c) => (managed = c)));
      // Service mode (decision 0061): one controller per training run, made as the run's own.
      let service: TamiyoService | undefined;
      // Policy updates from Oona's policy stream (decision 0064), to the run's controller and the service's.
      let updates: PolicyUpdateDelivery | undefined;
      ctx.onDispose(() => updates?.stop());
      return {
        async start(hc) {
          // An unknown blueprint fails the boot before anything is written to the run directory.
          if (ctx.options.controller === 'heuristic') resolveBlueprintRotation(ctx.options.heuristic.blueprintRotation, hc.tryResolve(Tokens.BlueprintCatalog));
          fieldReports = await openFieldReports(ctx, hc);
          // Builds the controller now, so its blueprint check fails the boot instead of the first epoch.
          const runController = hc.resolve(Tokens.Controller);
          await managed?.ready();
          updates = policyUpdateDelivery(ctx, hc.resolver, runController);
          if (ctx.options.service.enabled) {
            const perRun: ControllerFactory = async () => {
              let own: ManagedController | undefined;
              const controller = createController(ctx, hc.resolver, fieldReports, (c) => (own = c));
              await own?.ready();
              const detach = await updates?.attach(controller);
              return {
                controller,
                close: () => {
                  detach?.();
                  return own?.dispose();
                },
              };
            };
            service = await startTamiyoService(ctx, hc.resolver, perRun);
            // The service's main thread builds, decodes and signs every decision: real-time too (decision 0067).
            if (ctx.options.controller === 'gnn' && ctx.options.gnn.realtime) {
              const rt = setThreadRealtime(REALTIME_PRIORITY);
              if (rt.applied) ctx.logger.info('tamiyo: the service thread runs under SCHED_FIFO (tamiyo.gnn.realtime)', { tid: rt.tid, priority: rt.priority });
              else ctx.logger.warn('tamiyo: tamiyo.gnn.realtime was refused for the service thread; it runs at normal priority', { reason: rt.reason });
            }
          }
          await updates?.start();
        },
        async stop() {
          await updates?.stop();
          await service?.stop();
        },
        async onEpochEnd(_payload, hc) {
          if (fieldReports !== undefined) await hc.resolve(Tokens.Controller).flush();
        },
        async onRunEnd(_payload, hc) {
          if (fieldReports !== undefined) await hc.resolve(Tokens.Controller).flush();
        },
      };
    },
  });
}

/** A controller that loads or connects at start and releases at the end (GNN, remote). */
interface ManagedController {
  ready(): Promise<unknown>;
  dispose(): void | Promise<void>;
}

function createController(
  ctx: SetupContext<TamiyoPluginOptions>,
  r: Resolver,
  fieldReports: FieldReportLifecycle | undefined,
  onManaged: (controller: ManagedController) => void,
): Controller {
  const { options } = ctx;
  switch (options.controller) {
    case 'gnn': {
      const controller = createGnnController(ctx, r, fieldReports);
      onManaged(controller);
      return controller;
    }
    case 'remote': {
      const controller = createRemoteController(ctx, r);
      onManaged(controller);
      return controller;
    }
    case 'heuristic': {
      const catalog = r.tryResolve(Tokens.BlueprintCatalog);
      const blueprintRotation = resolveBlueprintRotation(options.heuristic.blueprintRotation, catalog);
      if (catalog === undefined) {
        ctx.logger.info('tamiyo: no BlueprintCatalog in this run; the blueprint rotation is not checked', { blueprintRotation });
      }
      return new HeuristicController({
        options: { ...options.heuristic, blueprintRotation },
        signer: r.resolve(Tokens.CommandSigner),
        clock: ctx.clock,
        telemetry: r.resolve(Tokens.Telemetry),
        logger: ctx.logger,
        fieldReports,
      });
    }
  }
}
