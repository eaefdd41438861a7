import { definePlugin, Tokens } from '@esper/core';
import { OonaClient, oonaSettingsShape, pickOonaSettings, startHousekeeping } from '@esper/core/oona';
import { z } from 'zod';
import { MemoryBroker } from './broker/memory-backend.js';

/** Options of {@link oonaMemory}: the shared Oona settings plus the broker name. */
export const oonaMemorySchema = z.strictObject({
  ...oonaSettingsShape,
  broker: z.string().min(1).default('default').meta({
    env: 'OONA_MEMORY_BROKER',
    description: 'Name of the process-wide broker: runs that name the same broker share streams; give a run its own name to isolate it.',
  }),
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
  return definePlugin({
    name: '@esper/plugin-oona-memory',
    configKey: 'oona',
    configSchema: oonaMemorySchema,
    factoryOptions: options,
    provides: [Tokens.Oona],
    setup(ctx) {
      ctx.provide(Tokens.Oona, (r) => {
        const signer = r.tryResolve(Tokens.Signer);
        return new OonaClient({
          backend: MemoryBroker.named(ctx.options.broker, ctx.clock).backend(),
          settings: pickOonaSettings(ctx.options),
          clock: ctx.clock,
          logger: ctx.logger,
          ...(signer !== undefined ? { signer } : {}),
        });
      });
      let stopHousekeeping: (() => void) | undefined;
      return {
        async start(hc) {
          const oona = hc.resolve(Tokens.Oona);
          await oona.ensureGroups();
          stopHousekeeping = startHousekeeping(oona, hc.options.housekeepingIntervalMs, hc.logger);
        },
        async stop(hc) {
          stopHousekeeping?.();
          stopHousekeeping = undefined;
          await hc.resolve(Tokens.Oona).close();
        },
      };
    },
  });
}
