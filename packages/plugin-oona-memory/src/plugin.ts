import {
  definePlugin,
  MemoryBroker,
  OONA_SETTINGS_ENV,
  OonaClient,
  oonaSettingsShape,
  pickOonaSettings,
  startHousekeeping,
  Tokens,
  type Oona,
  type Signer,
} from '@esper/core';
import { z } from 'zod';

/** Options of {@link oonaMemory}: the shared Oona settings plus the broker name. */
export const oonaMemorySchema = z.strictObject({
  ...oonaSettingsShape,
  /**
   * Name of the process-wide broker (`OONA_MEMORY_BROKER`). Plugins and runs in one process
   * that name the same broker share streams; give a run its own name to isolate it.
   */
  broker: z.string().min(1).default('default'),
});

/** Validated options. */
export type OonaMemoryOptions = z.output<typeof oonaMemorySchema>;
/** What the `oona` config section may hold. */
export type OonaMemoryInput = z.input<typeof oonaMemorySchema>;

/**
 * Plugin: the Oona message fabric in process — Redis Streams semantics (consumer groups,
 * pending entries, claim after idle, dead letter, trimming, signatures) without a server,
 * deterministic under the kernel's clock. The embedded default. Provides `Tokens.Oona`;
 * signs and verifies envelopes when the kernel has a `Signer` (`ESPER_LEYLINE_SECRET`).
 *
 * @example
 * ```ts
 * export default defineConfig({ plugins: [oonaMemory({ group: 'trainer' })] });
 * ```
 */
export function oonaMemory(options: Partial<OonaMemoryInput> = {}) {
  const housekeepers = new Map<string, () => void>();
  return definePlugin({
    name: '@esper/plugin-oona-memory',
    configKey: 'oona',
    configSchema: oonaMemorySchema,
    factoryOptions: options,
    env: { ...OONA_SETTINGS_ENV, OONA_MEMORY_BROKER: 'broker' },
    provides: [Tokens.Oona],
    register(ctx) {
      ctx.provide(Tokens.Oona, (container) => {
        const signer = container.isRegistered(Tokens.Signer, true) ? container.resolve<Signer>(Tokens.Signer) : undefined;
        return new OonaClient({
          backend: MemoryBroker.named(ctx.options.broker, ctx.clock).backend(),
          settings: pickOonaSettings(ctx.options),
          clock: ctx.clock,
          logger: ctx.logger,
          ...(signer !== undefined ? { signer } : {}),
        });
      });
    },
    hooks: {
      async start(ctx) {
        const oona: Oona = ctx.resolve(Tokens.Oona);
        await oona.ensureGroups();
        housekeepers.set(ctx.run.runId, startHousekeeping(oona, ctx.options.housekeepingIntervalMs, ctx.logger));
      },
      async stop(ctx) {
        housekeepers.get(ctx.run.runId)?.();
        housekeepers.delete(ctx.run.runId);
        await ctx.resolve(Tokens.Oona).close();
      },
    },
  });
}
