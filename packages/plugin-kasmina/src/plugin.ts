import { CommandVerifier, NonceLedger, Tokens, definePlugin, type Resolver, type SetupContext } from '@esper/core';
import { KasminaBlueprintCatalog } from './blueprints/catalog.js';
import { KasminaExecutor, type CommandVerifierLike } from './executor/kasmina-executor.js';
import { executorSettingsFrom, kasminaPluginSchema, type KasminaPluginInput, type KasminaPluginOptions } from './options.js';

/**
 * Plugin: Kasmina, the seed executor. Provides `Tokens.SeedExecutor` (a {@link KasminaExecutor}
 * per run, seeded with the run seed) and `Tokens.BlueprintCatalog` (its blueprints, so a
 * controller can check its blueprint ids before training). Verifies commands with the run's
 * `CommandSigner`, fires `seed:stage-changed` for every stage change and sends its telemetry
 * through the run's `Telemetry`.
 *
 * @example
 * ```ts
 * export default defineConfig({
 *   plugins: [oonaMemory(), tolaria(), kasmina(), tamiyo()],
 *   kasmina: { blendingOptimizerSteps: 300, embargoEpochs: 2 },
 * });
 * ```
 */
export function kasmina(options: Partial<KasminaPluginInput> = {}) {
  return definePlugin({
    name: '@esper/plugin-kasmina',
    configKey: 'kasmina',
    configSchema: kasminaPluginSchema,
    factoryOptions: options,
    provides: [Tokens.SeedExecutor, Tokens.BlueprintCatalog],
    requires: [Tokens.CommandSigner],
    setup(ctx) {
      const catalog = new KasminaBlueprintCatalog();
      ctx.provideValue(Tokens.BlueprintCatalog, catalog);
      ctx.provide(
        Tokens.SeedExecutor,
        (r) =>
          new KasminaExecutor({
            verifier: verifierFor(ctx, r),
            runSeed: ctx.run.seed,
            catalog,
            settings: executorSettingsFrom(ctx.options),
            clock: ctx.clock,
            logger: ctx.logger,
            onStageChanged: (change) => ctx.lifecycle.emit('seed:stage-changed', change),
            telemetry: r.resolve(Tokens.Telemetry),
          }),
      );
    },
  });
}

/**
 * The run's `CommandSigner`, or, when `kasmina.security` sets its own windows and a shared
 * secret is configured (`Tokens.Signer`), a `CommandVerifier` with those windows over the same key.
 */
function verifierFor(ctx: SetupContext<KasminaPluginOptions>, r: Resolver): CommandVerifierLike {
  const { nonceTtlMs, freshnessWindowMs, maxFutureSkewMs } = ctx.options.security;
  if (nonceTtlMs === undefined && freshnessWindowMs === undefined && maxFutureSkewMs === undefined) return r.resolve(Tokens.CommandSigner);
  const signer = r.tryResolve(Tokens.Signer);
  if (signer === undefined) {
    ctx.logger.warn('kasmina.security windows need a shared secret (security.leylineSecret); verifying with the kernel windows', { nonceTtlMs, freshnessWindowMs, maxFutureSkewMs });
    return r.resolve(Tokens.CommandSigner);
  }
  return new CommandVerifier({
    signer,
    clock: ctx.clock,
    ...(nonceTtlMs === undefined ? {} : { nonceLedger: new NonceLedger({ clock: ctx.clock, windowMs: nonceTtlMs }) }),
    ...(freshnessWindowMs === undefined ? {} : { freshnessWindowMs }),
    ...(maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs }),
  });
}
