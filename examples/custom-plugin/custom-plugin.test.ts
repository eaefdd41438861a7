// The worked examples of docs/plugin-authoring.md, tested only through public APIs of @esper/core.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTelemetryPacket, createEsper, MissingProviderError, Tokens } from '@esper/core';
import { MessagePriority } from '@esper/core/leyline';
import { startTestRun } from '@esper/core/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';
import config from './esper.config.js';
import { epochReport, packetCounter, PacketCounterPort, type PacketCounts, type ReportLine } from './index.js';

let n = 0;
const packet = (source: string) => buildTelemetryPacket({ packetId: `p${(n += 1)}`, source, timestamp: 0 });

describe('example 1: a counting TelemetrySink', () => {
  it('receives every packet emitted on the Telemetry hub, next to the other sinks', async () => {
    await using t = await startTestRun({ plugins: [packetCounter({ ignore: ['debug'] })] });
    const telemetry = t.resolve(Tokens.Telemetry);
    await telemetry.emit(packet('tolaria'), MessagePriority.NORMAL);
    await telemetry.emit(packet('tamiyo'), MessagePriority.HIGH);
    await telemetry.emit(packet('debug'), MessagePriority.LOW);
    expect(t.resolve(PacketCounterPort).snapshot()).toEqual({ total: 2, bySource: { tolaria: 1, tamiyo: 1 } });
    expect(t.telemetry).toHaveLength(3); // the harness's own sink got them too
  });

  it('keeps one count per run', async () => {
    await using a = await startTestRun({ plugins: [packetCounter()], runId: 'a' });
    await using b = await startTestRun({ plugins: [packetCounter()], runId: 'b' });
    await a.emitTelemetry(packet('tolaria'));
    expect(a.resolve(PacketCounterPort).snapshot().total).toBe(1);
    expect(b.resolve(PacketCounterPort).snapshot().total).toBe(0);
  });
});

describe('example 2: a custom port', () => {
  it('is typed by its token', async () => {
    await using t = await startTestRun({ plugins: [packetCounter()] });
    expectTypeOf(() => t.resolve(PacketCounterPort).snapshot()).returns.toEqualTypeOf<PacketCounts>();
    expect(t.resolve(PacketCounterPort).snapshot().total).toBe(0);
  });
});

describe('example 3: a plugin that requires the port', () => {
  it('writes one awaited report line per epoch and a summary at run end', async () => {
    const t = await startTestRun({ plugins: [epochReport(), packetCounter()] });
    const read = (): ReportLine[] =>
      readFileSync(join(t.info.dir, 'epoch-report.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ReportLine);

    await t.emitTelemetry(packet('tolaria'));
    await t.emitTelemetry(packet('kasmina'));
    await t.epoch(0); // awaited: the line is on disk when epoch() resolves
    expect(read()).toEqual([{ epoch: 0, packets: 2, bySource: { tolaria: 1, kasmina: 1 } }]);

    await t.emitTelemetry(packet('tolaria'));
    await t.epoch(1);
    await t.fire('run:end', { runId: t.info.runId, epochs: 2, outcome: 'completed' });
    await t.stop();
    expect(read()).toEqual([
      { epoch: 0, packets: 2, bySource: { tolaria: 1, kasmina: 1 } },
      { epoch: 1, packets: 1, bySource: { tolaria: 1 } },
      { end: 'completed', epochs: 2, packets: 3 },
    ]);
  });

  it('does not boot without a provider of the port', async () => {
    await expect(startTestRun({ plugins: [epochReport()] })).rejects.toThrowError(MissingProviderError);
    await expect(startTestRun({ plugins: [epochReport()] })).rejects.toThrowError(
      /"@acme\/plugin-epoch-report" requires port acme\.PacketCounter, but nothing provides it/,
    );
  });

  it('boots after the counter whatever the config order (esper.config.ts)', () => {
    const esper = createEsper(config, { env: {} });
    expect(esper.plan.order.map((p) => p.plugin.name)).toEqual(['@acme/plugin-packet-counter', '@acme/plugin-epoch-report']);
    expect(esper.config.optionsOf('packetCounter')).toEqual({ ignore: ['debug'] });
  });
});
