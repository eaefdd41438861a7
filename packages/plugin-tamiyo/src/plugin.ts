import { definePlugin, Tokens, type Controller, type Resolver, type SetupContext } from '@esper/core';
import { z } from 'zod';
import { tamiyoConfigSchema } from './config.js';
import { resolveBlueprintRotation } from './heuristic/blueprints.js';
import { HeuristicController } from './heuristic/controller.js';
import { heuristicOptionsSchema } from './heuristic/options.js';
import { openFieldReports } from './field-reports/plugin-glue.js';
import type { FieldReportLifecycle } from './field-reports/lifecycle.js';
import { gnnOptionsSchema } from './gnn/options.js';
import { createGnnController, type DeferredGnnController } from './gnn/plugin-glue.js';

/** Controllers `tamiyo.controller` may name. */
export const TAMIYO_CONTROLLERS = ['heuristic', 'gnn'] as const;

/** One of {@link TAMIYO_CONTROLLERS}. */
export type TamiyoControllerName = (typeof TAMIYO_CONTROLLERS)[number];

/** The `tamiyo` section as the plugin reads it: Tamiyo's settings, the controller choice and the heuristic's thresholds. */
export const tamiyoPluginSchema = tamiyoConfigSchema.extend({
  controller: z
    .enum(TAMIYO_CONTROLLERS)
    .default('heuristic')
    .meta({ description: 'Which controller decides: "heuristic" (rule-based, tamiyo-heuristic.md) or "gnn" (the hetero-GNN policy on ONNX Runtime, decision 0058).' }),
  heuristic: heuristicOptionsSchema.meta({ description: 'Thresholds of the heuristic controller (decision 0052).' }),
  gnn: gnnOptionsSchema.meta({ description: 'The GNN controller: weights, devices, blueprints (decision 0058).' }),
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
    optionalRequires: [Tokens.BlueprintCatalog, Tokens.Oona],
    // Loading the GNN policy (weights, ONNX session, warm-up) takes seconds on a busy machine.
    hookTimeoutsMs: { start: 120_000 },
    setup(ctx) {
      // Field reports (P9): opened at start (replaying the log), published at each epoch end.
      let fieldReports: FieldReportLifecycle | undefined;
      ctx.onDispose(() => fieldReports?.close());
      // The GNN controller loads its policy (weights, ONNX session, warm-up) at start.
      let gnn: DeferredGnnController | undefined;
      ctx.onDispose(() => gnn?.dispose());
      ctx.provide(Tokens.Controller, (r) => createController(ctx, r, fieldReports, (c) => (gnn = c)));
      return {
        async start(hc) {
          // An unknown blueprint fails the boot before anything is written to the run directory.
          if (ctx.options.controller === 'heuristic') resolveBlueprintRotation(ctx.options.heuristic.blueprintRotation, hc.tryResolve(Tokens.BlueprintCatalog));
          fieldReports = await openFieldReports(ctx, hc);
          // Builds the controller now, so its blueprint check fails the boot instead of the first epoch.
          hc.resolve(Tokens.Controller);
          await gnn?.ready();
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

function createController(
  ctx: SetupContext<TamiyoPluginOptions>,
  r: Resolver,
  fieldReports: FieldReportLifecycle | undefined,
  onGnn: (controller: DeferredGnnController) => void,
): Controller {
  const { options } = ctx;
  switch (options.controller) {
    case 'gnn': {
      const controller = createGnnController(ctx, r, fieldReports);
      onGnn(controller);
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
