import { mkdtempSync, readFileSync, statSync, truncateSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { LeylineSigner, ManualClock } from '@esper/core';
import type { OonaClient } from '@esper/core/oona';
import { silentLogger } from '@esper/core/testing';
import {
  FieldReportOutcome,
  FieldReportSchema,
  TelemetryLevel,
  type FieldReport,
  type MessagePriority,
  type TelemetryPacket,
} from '@esper/core/leyline';
import { afterEach, describe, expect, test } from 'vitest';
import { reportBus } from './report-bus.js';
import {
  FIELD_REPORT_INDEX_FILE,
  FIELD_REPORT_WINDOWS_FILE,
  FieldReportLifecycle,
  FieldReportLog,
  HeuristicController,
  hmacCommandSigning,
  oonaFieldReportPublisher,
  type FieldReportSettings,
} from '../src/index.js';
import { packet } from './packets.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((o) => o.close()));
});

/** The reports' bus (test/report-bus.ts), closed after each test. */
const bus = (clock: ManualClock) => reportBus(clock, open);

/** A lifecycle and a heuristic controller recording into it, on one directory and clock. */
async function service(dir: string, clock: ManualClock, settings: Partial<FieldReportSettings>, oona?: OonaClient) {
  const telemetry: TelemetryPacket[] = [];
  const logs = silentLogger();
  const lifecycle = await FieldReportLifecycle.open({
    path: join(dir, 'field_reports.log'),
    settings,
    clock,
    logger: logs,
    policyVersion: () => 'heuristic',
    telemetry: { emit: (p: TelemetryPacket, _priority: MessagePriority) => (telemetry.push(p), Promise.resolve()) },
    ...(oona ? { publisher: oonaFieldReportPublisher(oona) } : {}),
  });
  open.push(lifecycle);
  const controller = new HeuristicController({
    options: { blueprintRotation: ['BP001'], minEpochsBeforeGerminate: 0, stabilizationEpochs: 0, plateauEpochsToGerminate: 1 },
    signer: hmacCommandSigning(new LeylineSigner('fr-test-secret'), clock),
    clock,
    fieldReports: lifecycle,
  });
  const decide = async (epoch: number, loss: number) => {
    clock.advance(1000);
    const command = await controller.evaluateEpoch(packet({ epoch, acc: 90, loss }));
    await lifecycle.idle();
    return command;
  };
  return { lifecycle, controller, decide, telemetry, logs };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'tamiyo-fr-'));
const synth = (reports: readonly FieldReport[]) => reports.filter((r) => r.reportId.startsWith('fr-synth-'));
const events = (packets: readonly TelemetryPacket[]) => packets.flatMap((p) => p.events.map((e) => e.description));
const readIndex = (dir: string) => JSON.parse(readFileSync(join(dir, FIELD_REPORT_INDEX_FILE), 'utf8')) as Record<string, Record<string, unknown>>;

describe('field-report lifecycle (P9)', () => {
  test('TAMIYO_FR_OBS_WINDOW_EPOCHS=2: two sequential evaluate calls produce an fr-synth- report with observation_window_epochs=2, durable in the log', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const s = await service(dir, clock, { observationWindowEpochs: 2 });

    const first = await s.decide(0, 0.5);
    let reports = s.lifecycle.reports();
    expect(reports.map((r) => [r.reportId, r.observationWindowEpochs])).toStrictEqual([[`field-report-${first.commandId}`, 1]]);
    expect(synth(reports)).toStrictEqual([]);
    expect(existsSync(join(dir, FIELD_REPORT_WINDOWS_FILE))).toBe(true);

    const second = await s.decide(1, 0.4);
    reports = s.lifecycle.reports();
    const synthesised = synth(reports);
    expect(synthesised.map((r) => r.reportId)).toStrictEqual([`fr-synth-${first.commandId}-0+2`]);
    expect(synthesised[0]).toMatchObject({
      observationWindowEpochs: 2,
      commandId: first.commandId,
      trainingRunId: 'run-test',
      outcome: FieldReportOutcome.SUCCESS, // loss fell over the window
      tamiyoPolicyVersion: 'heuristic',
    });
    expect(synthesised[0]!.metrics.loss_delta_total).toBeCloseTo(-0.1, 6);
    expect(synthesised[0]!.issuedAt).toStrictEqual(first.issuedAt);
    // Per-decision reports keep window 1 and unique ids.
    const steps = reports.filter((r) => !r.reportId.startsWith('fr-synth-'));
    expect(steps.map((r) => [r.reportId, r.observationWindowEpochs])).toStrictEqual([
      [`field-report-${first.commandId}`, 1],
      [`field-report-${second.commandId}`, 1],
    ]);
    expect(new Set(reports.map((r) => r.reportId)).size).toBe(reports.length);
    expect(events(s.telemetry)).toContain('field_report_synthesised');
    // The window of the second command is still open, on disk.
    expect(Object.keys(JSON.parse(readFileSync(join(dir, FIELD_REPORT_WINDOWS_FILE), 'utf8')) as object)).toStrictEqual([second.commandId]);

    // The synthesised id is the one in the log itself, not a relabel in memory (§17 item 9).
    await s.lifecycle.close();
    const log = await FieldReportLog.open({ path: join(dir, 'field_reports.log') });
    open.push(log);
    expect(synth(log.reports()).map((r) => r.reportId)).toStrictEqual([`fr-synth-${first.commandId}-0+2`]);
  });

  test('a transient publish failure leaves the retry index and backoff schedule in field_reports.index.json; a later publish succeeds and clears it', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const b = await bus(clock);
    const s = await service(dir, clock, { observationWindowEpochs: 5, retryBackoffMs: 1000, retryBackoffMultiplier: 2 }, b.oona);
    const first = await s.decide(0, 0.5);
    const second = await s.decide(1, 0.5);
    const firstId = `field-report-${first.commandId}`;
    const secondId = `field-report-${second.commandId}`;

    b.faults.failNext('append'); // the first report's publish fails once
    const failedAt = clock.nowMs();
    expect(await s.controller.flush()).toBe(false);
    expect(await b.published()).toStrictEqual([secondId]);
    let index = readIndex(dir);
    expect(index[firstId]).toMatchObject({ published: false, retry_count: 1, next_attempt_ms: failedAt + 2000 });
    expect(index[firstId]!.last_error).toEqual(expect.any(String));
    expect(index[secondId]).toStrictEqual({ published: true, retry_count: 0, next_attempt_ms: 0 });
    expect(events(s.telemetry)).toContain('field_report_retry');
    const summary = s.telemetry.find((p) => p.packetId === 'tamiyo-field-report-summary');
    expect(Object.fromEntries(summary!.metrics.map((m) => [m.name, m.value]))).toStrictEqual({
      'tamiyo.field_reports.published_total': 1,
      'tamiyo.field_reports.retries_total': 1,
      'tamiyo.field_reports.dropped_total': 0,
      'tamiyo.field_reports.pending_total': 1,
    });

    // Inside the backoff window nothing is attempted.
    clock.advance(1999);
    expect(await s.controller.flush()).toBe(false);
    expect(await b.published()).toStrictEqual([secondId]);

    clock.advance(1);
    expect(await s.controller.flush()).toBe(true);
    expect(await b.published()).toStrictEqual([secondId, firstId]);
    index = readIndex(dir);
    expect(index[firstId]).toStrictEqual({ published: true, retry_count: 1, next_attempt_ms: 0 });
    expect(s.lifecycle.stats()).toMatchObject({ published: 2, retries: 1, dropped: 0, pending: 0 });
    // Nothing is published twice.
    expect(await s.controller.flush()).toBe(true);
    expect(await b.published()).toStrictEqual([secondId, firstId]);
  });

  test('after the maximum retries a report is dropped and never retried again, even after a restart', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const b = await bus(clock);
    const s = await service(dir, clock, { observationWindowEpochs: 5, retryBackoffMs: 0, maxRetries: 1 }, b.oona);
    const command = await s.decide(0, 0.5);
    const id = `field-report-${command.commandId}`;
    b.faults.failAlways('append');
    expect(await s.lifecycle.publish()).toBe(false); // attempt 1: retry
    expect(await s.lifecycle.publish()).toBe(false); // attempt 2: over the maximum, dropped
    expect(readIndex(dir)[id]).toMatchObject({ published: false, retry_count: 2, dropped: true });
    expect(events(s.telemetry).filter((e) => e.startsWith('field_report_'))).toStrictEqual(['field_report_retry', 'field_report_drop']);
    const drop = s.telemetry.find((p) => p.events[0]?.description === 'field_report_drop')!;
    expect(drop.events[0]!.level).toBe(TelemetryLevel.WARNING);
    expect(drop.events[0]!.attributes).toMatchObject({ report_id: id, retry_count: '2' });

    b.faults.heal();
    expect(await s.lifecycle.publish()).toBe(true);
    await s.lifecycle.close();
    const again = await service(dir, clock, { observationWindowEpochs: 5, retryBackoffMs: 0, maxRetries: 1 }, b.oona);
    expect(await again.lifecycle.publish()).toBe(true);
    expect(await b.published()).toStrictEqual([]);
    // The dropped report is still in the log (never lost, just not sent).
    expect(again.lifecycle.reports().map((r) => r.reportId)).toContain(id);
  });

  test('a restart (a new instance on the same directory) loses no field report and publishes none twice; windows carry over', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const b = await bus(clock);
    const settings = { observationWindowEpochs: 2, retryBackoffMs: 0 };
    const a = await service(dir, clock, settings, b.oona);
    await a.decide(0, 0.5);
    await a.decide(1, 0.45);
    expect(await a.controller.flush()).toBe(true);
    const before = await b.published();
    expect(before).toHaveLength(3); // two per-decision reports and one window
    const last = await a.decide(2, 0.4); // recorded, not yet published
    await a.lifecycle.close();

    const restarted = await service(dir, clock, settings, b.oona);
    // The open window of the last decision survived: one more decision completes it.
    expect(Object.keys(restarted.lifecycle.openWindows())).toStrictEqual([last.commandId]);
    await restarted.decide(3, 0.35);
    expect(synth(restarted.lifecycle.reports()).map((r) => r.reportId)).toContain(`fr-synth-${last.commandId}-2+2`);
    expect(await restarted.controller.flush()).toBe(true);
    const all = await b.published();
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toStrictEqual(restarted.lifecycle.reports().map((r) => r.reportId).sort());
    expect(all.slice(0, 3)).toStrictEqual(before);
  });

  test('a torn tail is cut on replay: the reports before it are kept and published', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const s = await service(dir, clock, { observationWindowEpochs: 9 });
    const kept = await s.decide(0, 0.5);
    const path = join(dir, 'field_reports.log');
    const size = statSync(path).size;
    const torn = await s.decide(1, 0.5);
    await s.lifecycle.close();
    truncateSync(path, statSync(path).size - 5); // a crash in the middle of the second append

    const b = await bus(clock);
    const again = await service(dir, clock, { observationWindowEpochs: 9 }, b.oona);
    expect(again.lifecycle.store.cutBytes).toBeGreaterThan(0);
    expect(statSync(path).size).toBe(size);
    expect(again.lifecycle.reports().map((r) => r.reportId)).toStrictEqual([`field-report-${kept.commandId}`]);
    expect(again.logs.records.some((r) => r.message.includes('torn tail'))).toBe(true);
    expect(await again.lifecycle.publish()).toBe(true);
    expect(await b.published()).toStrictEqual([`field-report-${kept.commandId}`]);
    expect(torn.commandId).not.toBe(kept.commandId);
  });

  test('retention prunes settled reports past the window and keeps pending ones whatever their age', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const b = await bus(clock);
    const s = await service(dir, clock, { observationWindowEpochs: 9, retryBackoffMs: 0, retentionHours: 1 }, b.oona);
    const published = await s.decide(0, 0.5);
    expect(await s.lifecycle.publish()).toBe(true);
    const pending = await s.decide(1, 0.5);
    clock.advance(2 * 3_600_000);
    b.faults.failNext('append');
    expect(await s.lifecycle.publish()).toBe(false);
    const ids = s.lifecycle.reports().map((r) => r.reportId);
    expect(ids).toStrictEqual([`field-report-${pending.commandId}`]);
    expect(readIndex(dir)[`field-report-${published.commandId}`]).toBeUndefined();
  });

  test('a report id is appended once: a second append of the same id writes nothing', async () => {
    const dir = tempDir();
    const log = await FieldReportLog.open({ path: join(dir, 'field_reports.log') });
    open.push(log);
    const report = create(FieldReportSchema, { version: 1, reportId: 'fr-synth-x-0+2', issuedAt: timestampFromMs(Date.now()) });
    expect(await log.appendMany([report, report])).toBe(1);
    const size = statSync(log.path).size;
    await log.append(report);
    expect(statSync(log.path).size).toBe(size);
    expect(log.reports()).toHaveLength(1);
  });
});

describe('tamiyo() plugin with field reports', () => {
  test('with Oona in the run, each decision is logged under <run.dir>/tamiyo and published at the next epoch end and at run end', async () => {
    const { startTestRun } = await import('@esper/core/testing');
    const { oonaMemory } = await import('@esper/plugin-oona-memory');
    const { Tokens } = await import('@esper/core');
    const { tamiyo } = await import('../src/index.js');
    await using t = await startTestRun({
      plugins: [oonaMemory(), tamiyo({ heuristic: { blueprintRotation: ['BP001'] } })],
      config: { tamiyo: { fieldReports: { observationWindowEpochs: 2 } } },
    });
    const controller = t.resolve(Tokens.Controller);
    const first = await controller.evaluateEpoch(packet({ epoch: 0, acc: 90 }));
    const p1 = packet({ epoch: 1, acc: 90 });
    await t.fire('epoch:end', { runId: 'test-run', epoch: 1, packet: p1 });
    const dir = join(t.info.dir, 'tamiyo');
    expect(readIndex(dir)[`field-report-${first.commandId}`]).toMatchObject({ published: true });
    const second = await controller.evaluateEpoch(p1);
    await t.fire('run:end', { runId: 'test-run', epochs: 2, outcome: 'completed' });
    const index = readIndex(dir);
    expect(Object.keys(index).sort()).toStrictEqual(
      [`field-report-${first.commandId}`, `field-report-${second.commandId}`, `fr-synth-${first.commandId}-0+2`].sort(),
    );
    expect(Object.values(index).every((e) => e.published === true)).toBe(true);
    const summaries = t.telemetry.filter((c) => c.packet.packetId === 'tamiyo-field-report-summary');
    expect(summaries.length).toBe(2);
  });

  test('without Oona no field reports are recorded and flush() is true', async () => {
    const { startTestRun } = await import('@esper/core/testing');
    const { Tokens } = await import('@esper/core');
    const { tamiyo } = await import('../src/index.js');
    await using t = await startTestRun({ plugins: [tamiyo({ heuristic: { blueprintRotation: ['BP001'] } })] });
    const controller = t.resolve(Tokens.Controller);
    await controller.evaluateEpoch(packet({ epoch: 0, acc: 90 }));
    expect(await controller.flush()).toBe(true);
    expect(existsSync(join(t.info.dir, 'tamiyo', 'field_reports.log'))).toBe(false);
    expect(t.logs.some((l) => l.message.includes('no Oona'))).toBe(true);
  });
});
