import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { MessagePriority, TelemetryPacketSchema } from '../../src/leyline/index.js';
import { createEsper, ManualClock, telemetryFile, Tokens } from '../../src/index.js';

describe('telemetryFile plugin', () => {
  it('writes every packet as a JSON line with its priority into the run directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-telemetry-'));
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
    const run = await createEsper(
      { plugins: [telemetryFile({ batchSize: 2 })], run: { dir, name: 't' } },
      { env: {}, clock: new ManualClock(), logger },
    ).start({ runId: 'run-1' });
    const [sink] = run.resolveAll(Tokens.TelemetrySink);
    const packet = (id: string) => create(TelemetryPacketSchema, { packetId: id, sourceSubsystem: 'tolaria' });
    await sink!.emit(packet('a'), MessagePriority.NORMAL);
    await sink!.emit(packet('b'), MessagePriority.NORMAL); // batch of 2 is written
    await sink!.emit(packet('c'), MessagePriority.LOW); // buffered until stop
    const path = join(dir, 'run-1', 'telemetry.jsonl');
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
    await sink!.emit(packet('d'), MessagePriority.CRITICAL); // critical flushes at once
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(4);
    await sink!.emit(packet('e'), MessagePriority.HIGH);
    await run.stop();
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { priority: string; packet: { packet_id: string; source_subsystem: string } });
    expect(lines.map((l) => l.packet.packet_id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(lines[3]!.priority).toBe('MESSAGE_PRIORITY_CRITICAL');
    expect(lines[0]!.packet.source_subsystem).toBe('tolaria');
  });

  it('keeps one file per run when runs of one plugin value overlap, through the Telemetry hub', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-telemetry-'));
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
    const esper = createEsper({ plugins: [telemetryFile({ batchSize: 100 })], run: { dir, name: 't' } }, { env: {}, clock: new ManualClock(), logger });
    const a = await esper.start({ runId: 'a' });
    const b = await esper.start({ runId: 'b' });
    const packet = (id: string) => create(TelemetryPacketSchema, { packetId: id, sourceSubsystem: 'tolaria' });
    await a.resolve(Tokens.Telemetry).emit(packet('a1'), MessagePriority.NORMAL);
    await b.resolve(Tokens.Telemetry).emit(packet('b1'), MessagePriority.NORMAL);
    await a.resolve(Tokens.Telemetry).emit(packet('a2'), MessagePriority.NORMAL);
    await b.stop(); // flushes and closes b's file only
    await a.resolve(Tokens.Telemetry).emit(packet('a3'), MessagePriority.NORMAL);
    await a.stop();
    const ids = (run: string) =>
      readFileSync(join(dir, run, 'telemetry.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { packet: { packet_id: string } }).packet.packet_id);
    expect(ids('a')).toEqual(['a1', 'a2', 'a3']);
    expect(ids('b')).toEqual(['b1']);
  });
});
