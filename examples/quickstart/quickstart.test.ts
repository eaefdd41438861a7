// The quickstart, end to end: the config validates (TypeScript and JSON), the in-memory Oona
// carries a packet into the telemetry sink, `esper run` refuses an unknown controller or blueprint
// before training, and `esper run`, shortened to 7 epochs, trains the MNIST host past 92 %
// validation accuracy while a seed germinates, trains and blends in; the run directory and the
// printed summary show its path.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary } from '@bufbuild/protobuf';
import { createEsper, loadConfigFile, ManualClock, Tokens, type OonaMessage } from '@esper/core';
import { BusMessageType, MessagePriority, TelemetryPacketSchema } from '@esper/core/leyline';
import { runCli, type CommandLogLine } from 'esper';
import { describe, expect, it } from 'vitest';
import { here, readRun, runQuickstart } from './test-helpers.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const PLUGINS = '@esper/plugin-oona-memory, @esper/core/telemetry-file, @esper/plugin-kasmina, @esper/plugin-tamiyo, @esper/plugin-tolaria';

describe('examples/quickstart', () => {
  it.each(['esper.config.ts', 'esper.config.json'])('%s validates through the CLI', async (file) => {
    const out: string[] = [];
    const code = await runCli(['validate', join(here, file)], { stdout: (t) => out.push(t), stderr: (t) => out.push(t), env: {} });
    expect(out.join('')).toContain(`5 plugins (${PLUGINS})`);
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

  it.each([
    ['an unknown controller', `{ ...base, tamiyo: { ...base.tamiyo, controller: 'learned' } }`, 'tamiyo.controller: expected one of "heuristic", "gnn", "remote", got "learned"', '[ESPER_CONFIG_INVALID]'],
    [
      'an unknown blueprint',
      `{ ...base, tamiyo: { heuristic: { ...base.tamiyo?.heuristic, blueprintRotation: ['conv9'] } } }`,
      'names a blueprint the blueprint catalogue does not have: "conv9"',
      '[ESPER_KERNEL_HOOK_FAILED ← ESPER_TAMIYO_UNKNOWN_BLUEPRINT]',
    ],
  ])('esper run refuses %s before training, with its code and no stack trace', async (_, override, message, code) => {
    const file = join(here, `.bad-${randomBytes(4).toString('hex')}.config.ts`);
    writeFileSync(file, `import base from './esper.config.js';\nexport default ${override};\n`);
    const out = mkdtempSync(join(tmpdir(), 'esper-quickstart-bad-'));
    let stdout = '';
    let stderr = '';
    try {
      const exit = await runCli(['run', file, '--out', out], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {}, cwd: here });
      expect(exit).toBe(1);
    } finally {
      rmSync(file, { force: true });
    }
    expect(stderr).toContain(message);
    expect(stderr).toContain(code);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe('');
    expect(readdirSync(out)).toEqual([]);
  });

  it('esper run, shortened to 7 epochs: ≥ 92 % validation accuracy, and the run directory and summary show the seed’s path', { timeout: 180_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'esper-quickstart-run-'));
    const { code, stdout, stderr } = await runQuickstart(here, 7, out);
    expect(stderr).toBe('');
    expect(code).toBe(0);

    const { runId, dir, summary } = readRun(out);
    expect(summary.outcome).toBe('completed');
    expect(summary.epochs).toHaveLength(7);
    expect(summary.finalValAccuracy).toBeGreaterThanOrEqual(92);

    // The seed's path: germinated at a slot of the host with a blueprint, trained, blended in.
    const seed = summary.seeds.find((s) => s.path.some((p) => p.stage === 'BLENDING'));
    expect(seed, JSON.stringify(summary.seeds)).toBeDefined();
    expect(['hidden1', 'hidden2']).toContain(seed!.slot);
    expect(seed!.blueprintId).toMatch(/^residual-mlp/);
    const stages = seed!.path.map((p) => p.stage);
    expect(stages.slice(0, 3)).toEqual(['GERMINATED', 'TRAINING', 'BLENDING']);
    expect(seed!.path.every((p) => p.epoch !== undefined)).toBe(true);
    expect(summary.parameters.final).toBeGreaterThan(summary.parameters.initial!);

    // The run directory: resolved config, telemetry, commands, a checkpoint per epoch, summary,
    // and Tamiyo's field reports (one per decision, published through Oona at each epoch end).
    expect(readdirSync(dir).sort()).toEqual(['checkpoints', 'commands.ndjson', 'config.json', 'run.log', 'summary.json', 'tamiyo', 'telemetry.jsonl']);
    expect(readdirSync(join(dir, 'tamiyo'))).toEqual(expect.arrayContaining(['field_reports.log', 'field_reports.index.json']));
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((n) => `epoch-${n}.ckpt`));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { tolaria: { maxEpochs: number } };
    expect(config.tolaria.maxEpochs).toBe(7);
    const commands = readFileSync(join(dir, 'commands.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CommandLogLine);
    expect(commands).toHaveLength(7);
    expect(commands).toContainEqual(expect.objectContaining({ outcome: 'applied', operation: 'SEED_OP_GERMINATE', target: seed!.slot }));
    const sources = new Set(
      readFileSync(join(dir, 'telemetry.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { packet: { source_subsystem: string } }).packet.source_subsystem),
    );
    expect([...sources]).toEqual(expect.arrayContaining(['tolaria', 'tamiyo', 'kasmina']));

    // The printed summary: accuracy per epoch and the seed's row.
    expect(stdout).toContain(`Run ${runId} completed 7 epochs`);
    expect(stdout).toMatch(new RegExp(`${seed!.slot}\\s+${seed!.blueprintId}\\s+\\S.*GERMINATED e\\d+ → TRAINING e\\d+ → BLENDING e\\d+`));
  });
});
