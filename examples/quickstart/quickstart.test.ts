// The quickstart config, booted end to end: the in-memory Oona carries a telemetry packet
// from a publisher to a consumer group (NORMAL priority: HIGH and CRITICAL go to the
// emergency stream, as in the reference), the file sink records it, and the run stops cleanly.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, fromBinary } from '@bufbuild/protobuf';
import { createEsper, loadConfigFile, ManualClock, Tokens, type OonaMessage } from '@esper/core';
import { BusMessageType, MessagePriority, TelemetryPacketSchema } from '@esper/core/leyline';
import { runCli } from 'esper';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

describe('examples/quickstart', () => {
  it.each(['esper.config.ts', 'esper.config.json'])('%s validates through the CLI', async (file) => {
    const out: string[] = [];
    const code = await runCli(['validate', join(here, file)], { stdout: (t) => out.push(t), stderr: (t) => out.push(t) });
    expect(out.join('')).toContain('2 plugins (@esper/plugin-oona-memory, @esper/core/telemetry-file)');
    expect(code).toBe(0);
  });

  it('boots, moves a telemetry packet through Oona into the sink, and stops', async () => {
    const config = (await loadConfigFile(join(here, 'esper.config.ts'))) as { run: object };
    const dir = mkdtempSync(join(tmpdir(), 'esper-quickstart-'));
    const run = await createEsper(
      { ...config, run: { ...config.run, dir }, oona: { group: 'quickstart', broker: `quickstart-${process.pid}` } },
      { env: {}, clock: new ManualClock(1_700_000_000_000), logger: silent },
    ).start({ runId: 'run-1' });

    const oona = run.resolve(Tokens.Oona);
    const [sink] = run.resolveAll(Tokens.TelemetrySink);
    const packet = create(TelemetryPacketSchema, { packetId: 'p-1', sourceSubsystem: 'quickstart' });
    expect(await oona.publishMessage(TelemetryPacketSchema, packet, { priority: MessagePriority.NORMAL })).toBe(true);

    const received: OonaMessage[] = [];
    const handled = await oona.consume((m) => void received.push(m), { stream: oona.streams.telemetry, count: 10 });
    expect(handled).toBe(1);
    expect(received[0]!.messageType).toBe(BusMessageType.TELEMETRY);
    const decoded = fromBinary(TelemetryPacketSchema, received[0]!.payload);
    expect(decoded.packetId).toBe('p-1');
    await sink!.emit(decoded, MessagePriority.NORMAL);
    expect(await oona.backlog(oona.streams.telemetry)).toBe(0);

    await run.stop();
    const lines = readFileSync(join(dir, 'run-1', 'telemetry.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { packet: { packet_id: string } }).packet.packet_id)).toEqual(['p-1']);
  });
});
