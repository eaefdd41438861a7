// Examples 1 and 2 of docs/plugin-authoring.md: a TelemetrySink that counts packets, and the
// custom port through which other plugins read the counts.
import { definePlugin, definePort, Tokens, type TelemetrySink } from '@esper/core';
import type { TelemetryPacket } from '@esper/core/leyline';
import { z } from 'zod';

/** What other plugins may ask the counter: packets seen so far, in total and per source. */
export interface PacketCounter {
  snapshot(): PacketCounts;
}

/** Packet counts at one moment. */
export interface PacketCounts {
  readonly total: number;
  readonly bySource: Readonly<Record<string, number>>;
}

/**
 * The custom port. Third-party port names carry a namespace (`acme.` here, or `@acme/x:`);
 * the same name and definition from two copies of this module give the same token.
 */
export const PacketCounterPort = definePort<PacketCounter>('acme.PacketCounter', {
  description: 'telemetry packets seen so far, in total and per source subsystem',
});

/** The counter itself: plain code, testable without the kernel. */
export class CountingSink implements TelemetrySink, PacketCounter {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(private readonly ignore: ReadonlySet<string> = new Set()) {}

  emit(packet: TelemetryPacket): void {
    if (this.ignore.has(packet.sourceSubsystem)) return;
    this.total += 1;
    this.bySource.set(packet.sourceSubsystem, (this.bySource.get(packet.sourceSubsystem) ?? 0) + 1);
  }

  snapshot(): PacketCounts {
    return { total: this.total, bySource: Object.fromEntries(this.bySource) };
  }
}

/** Options of {@link packetCounter}: the `packetCounter` config section. */
export const packetCounterSchema = z.strictObject({
  /** Source subsystems whose packets are not counted. */
  ignore: z.array(z.string().min(1)).default([]),
});

/**
 * Plugin: counts every telemetry packet of the run (it is a `TelemetrySink`, so the kernel's
 * `Telemetry` hub delivers each packet to it) and exposes the counts as {@link PacketCounterPort}.
 */
export function packetCounter(options: Partial<z.input<typeof packetCounterSchema>> = {}) {
  return definePlugin({
    name: '@acme/plugin-packet-counter',
    configKey: 'packetCounter',
    configSchema: packetCounterSchema,
    factoryOptions: options,
    provides: [Tokens.TelemetrySink, PacketCounterPort],
    setup(ctx) {
      // One counter per run: setup runs once for each run, so nothing is shared between runs.
      const counter = new CountingSink(new Set(ctx.options.ignore));
      ctx.provideValue(Tokens.TelemetrySink, counter);
      ctx.provideValue(PacketCounterPort, counter);
    },
  });
}
