// Example 3 of docs/plugin-authoring.md: a plugin that requires the custom port and writes one
// report line per epoch, awaited by the trainer before the next epoch starts.
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { definePlugin } from '@esper/core';
import { z } from 'zod';
import { PacketCounterPort } from './packet-counter.js';

/** Options of {@link epochReport}: the `epochReport` config section. */
export const epochReportSchema = z.strictObject({
  /** Report file, relative to the run directory. */
  file: z.string().min(1).default('epoch-report.jsonl'),
});

/** One line of the report. */
export type ReportLine =
  | { readonly epoch: number; readonly packets: number; readonly bySource: Readonly<Record<string, number>> }
  | { readonly end: string; readonly epochs: number; readonly packets: number };

/**
 * Plugin: appends `{"epoch":3,"packets":12,"bySource":{…}}` to `<run dir>/epoch-report.jsonl` at
 * each epoch end (packets counted during that epoch), and a summary line when training ends.
 */
export function epochReport(options: Partial<z.input<typeof epochReportSchema>> = {}) {
  return definePlugin({
    name: '@acme/plugin-epoch-report',
    configKey: 'epochReport',
    configSchema: epochReportSchema,
    factoryOptions: options,
    requires: [PacketCounterPort], // boot fails with ESPER_KERNEL_MISSING_PROVIDER without a counter
    hookTimeoutsMs: { onEpochEnd: 2_000 },
    setup(ctx) {
      const path = join(ctx.run.dir, ctx.options.file);
      // This run's state, closed over by the hooks below.
      let write: ((line: ReportLine) => Promise<void>) | undefined;
      let before: Readonly<Record<string, number>> = {};
      let seen = 0;

      return {
        async init() {
          await mkdir(ctx.run.dir, { recursive: true });
          const file = await open(path, 'a');
          ctx.onDispose(() => file.close()); // cleanup registered where the resource is acquired
          write = (line) => file.appendFile(`${JSON.stringify(line)}\n`, 'utf8');
        },
        async onEpochEnd({ epoch }, hc) {
          const now = hc.resolve(PacketCounterPort).snapshot(); // typed: PacketCounts
          const bySource = Object.fromEntries(
            Object.entries(now.bySource)
              .map(([source, n]) => [source, n - (before[source] ?? 0)] as const)
              .filter(([, n]) => n > 0),
          );
          await write?.({ epoch, packets: now.total - seen, bySource });
          before = now.bySource;
          seen = now.total;
        },
        async onRunEnd({ outcome, epochs }, hc) {
          await write?.({ end: outcome, epochs, packets: hc.resolve(PacketCounterPort).snapshot().total });
        },
      };
    },
  });
}
