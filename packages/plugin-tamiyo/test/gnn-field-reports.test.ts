import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeylineSigner, ManualClock } from '@esper/core';
import type { OonaClient } from '@esper/core/oona';
import { silentLogger } from '@esper/core/testing';
import { CommandType, FieldReportOutcome, type FieldReport } from '@esper/core/leyline';
import { afterEach, describe, expect, test } from 'vitest';
import { reportBus } from './report-bus.js';
import type { PolicyRunnerFactory } from '../src/backends/onnx-backend.js';
import { onnxRunnerFactory } from '../src/backends/onnx-backend.js';
import { FIELD_REPORT_INDEX_FILE, FieldReportLifecycle, oonaFieldReportPublisher, signPolicyUpdate, type FieldReportSettings } from '../src/index.js';
import { DORMANT, SECRET, TRAINING, gnnHarness, statePacket } from './gnn-harness.js';

const open: Array<{ close(): Promise<void> } | { dispose(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((o) => ('close' in o ? o.close() : o.dispose())));
});

/** The reports' bus (test/report-bus.ts), closed after each test. */
const bus = (clock: ManualClock) => reportBus(clock, open);

/** A field-report lifecycle and a GNN controller recording into it (the plugin's wiring), on one directory and clock. */
async function service(dir: string, clock: ManualClock, settings: Partial<FieldReportSettings>, oona?: OonaClient, createRunner?: PolicyRunnerFactory) {
  const lifecycle = await FieldReportLifecycle.open({
    path: join(dir, 'field_reports.log'),
    settings,
    clock,
    logger: silentLogger(),
    policyVersion: () => 'gnn',
    ...(oona ? { publisher: oonaFieldReportPublisher(oona) } : {}),
  });
  const h = await gnnHarness({ clock, fieldReports: lifecycle, ...(createRunner ? { createRunner, stepTimeoutMs: 5 } : {}) });
  open.push(h.controller, lifecycle);
  /** One decision (the growth loop's epoch call); the report is recorded behind it. */
  const decide = async (epoch: number, loss: number, stages: number[] = [TRAINING, DORMANT]) => {
    clock.advance(1000);
    return h.controller.evaluateEpoch(statePacket(stages, epoch, loss));
  };
  return { lifecycle, controller: h.controller, decide, telemetry: h.telemetry };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'tamiyo-gnn-fr-'));
const synth = (reports: readonly FieldReport[]) => reports.filter((r) => r.reportId.startsWith('fr-synth-'));
const readIndex = (dir: string) => JSON.parse(readFileSync(join(dir, FIELD_REPORT_INDEX_FILE), 'utf8')) as Record<string, Record<string, unknown>>;

describe('GNN controller field reports (P9)', () => {
  test('TAMIYO_FR_OBS_WINDOW_EPOCHS=2: two sequential evaluate calls produce an fr-synth- report with observation_window_epochs=2', async () => {
    const clock = new ManualClock();
    const s = await service(tempDir(), clock, { observationWindowEpochs: 2 });
    const first = await s.decide(0, 0.5);
    await s.lifecycle.idle();
    expect(s.lifecycle.reports().map((r) => [r.reportId, r.observationWindowEpochs])).toStrictEqual([[`field-report-${first.commandId}`, 1]]);

    const second = await s.decide(1, 0.4);
    await s.lifecycle.idle();
    const reports = s.lifecycle.reports();
    const synthesised = synth(reports);
    expect(synthesised.map((r) => r.reportId)).toStrictEqual([`fr-synth-${first.commandId}-0+2`]);
    expect(synthesised[0]).toMatchObject({ observationWindowEpochs: 2, commandId: first.commandId, trainingRunId: 'run-gnn', tamiyoPolicyVersion: 'tamiyo_gnn_v1', outcome: FieldReportOutcome.SUCCESS });
    expect(synthesised[0]!.metrics.loss_delta_total).toBeCloseTo(-0.1, 6);
    // The per-decision report carries the policy's record and the loss delta of tamiyo §4 step 5.
    const step2 = reports.find((r) => r.reportId === `field-report-${second.commandId}`)!;
    expect(step2.metrics.loss_delta).toBeCloseTo(-0.1, 6);
    expect(Object.keys(step2.metrics)).toEqual(expect.arrayContaining(['value_estimate', 'risk_score', 'param_delta', 'selected_seed_score', 'blending_schedule_start']));
    expect(first.commandType).toBe(CommandType.COMMAND_SEED);
    expect(reports.find((r) => r.reportId === `field-report-${first.commandId}`)!.blueprintId).toBe('BP001');
  });

  test('each report names the policy version that decided (an accepted update renames it from then on)', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const lifecycle = await FieldReportLifecycle.open({ path: join(tempDir(), 'field_reports.log'), clock, policyVersion: () => 'gnn', settings: { observationWindowEpochs: 1 } });
    const signer = new LeylineSigner(SECRET);
    const h = await gnnHarness({ clock, fieldReports: lifecycle, updates: { signer } });
    open.push(h.controller, lifecycle);
    const before = await h.controller.evaluateEpoch(statePacket([DORMANT], 0));
    const update = signPolicyUpdate({ policyId: 'meta-7', tamiyoPolicyVersion: 'tamiyo_gnn_v1@meta-7', issuedAtMs: clock.nowMs() }, { format: 'metadata' }, signer);
    expect(await h.controller.ingestPolicyUpdate(update)).toMatchObject({ accepted: true });
    const after = await h.controller.evaluateEpoch(statePacket([DORMANT], 1));
    await lifecycle.idle();
    const version = (commandId: string) => lifecycle.reports().filter((r) => r.commandId === commandId).map((r) => [r.reportId.slice(0, 8), r.tamiyoPolicyVersion]);
    expect(version(before.commandId)).toStrictEqual([['field-re', 'tamiyo_gnn_v1'], ['fr-synth', 'tamiyo_gnn_v1']]);
    expect(version(after.commandId)).toStrictEqual([['field-re', 'tamiyo_gnn_v1@meta-7'], ['fr-synth', 'tamiyo_gnn_v1@meta-7']]);
  });

  test('a timeout decision is reported too: NEUTRAL, with the timeout note', async () => {
    const clock = new ManualClock();
    const cpu = onnxRunnerFactory({ worker: false });
    let slow = false;
    const createRunner: PolicyRunnerFactory = async (device, model) => {
      const real = await cpu(device, model);
      return { device, run: (f, o) => (slow ? new Promise((r) => setTimeout(() => r(real.run(f, o)), 60)) : real.run(f, o)), dispose: () => real.dispose() };
    };
    const s = await service(tempDir(), clock, { observationWindowEpochs: 3 }, undefined, createRunner);
    slow = true;
    const command = await s.controller.evaluateStep(statePacket([DORMANT], 0, 0.5));
    expect(command.annotations.risk_reason).toBe('timeout_inference');
    await s.lifecycle.idle();
    const [report] = s.lifecycle.reports();
    expect(report).toMatchObject({ reportId: `field-report-${command.commandId}`, outcome: FieldReportOutcome.NEUTRAL, notes: 'timeout_inference' });
    await new Promise((r) => setTimeout(r, 80)); // let the abandoned run settle before the session closes
  });

  test('a transient publish failure leaves the retry index and backoff schedule in field_reports.index.json; a later flush publishes and clears it', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const b = await bus(clock);
    const s = await service(dir, clock, { observationWindowEpochs: 5, retryBackoffMs: 1000, retryBackoffMultiplier: 2 }, b.oona);
    const first = await s.decide(0, 0.5);
    const firstId = `field-report-${first.commandId}`;

    b.faults.failNext('append');
    const failedAt = clock.nowMs();
    expect(await s.controller.flush()).toBe(false);
    expect(readIndex(dir)[firstId]).toMatchObject({ published: false, retry_count: 1, next_attempt_ms: failedAt + 2000 });
    expect(await b.published()).toStrictEqual([]);

    clock.advance(2000);
    expect(await s.controller.flush()).toBe(true);
    expect(readIndex(dir)[firstId]).toStrictEqual({ published: true, retry_count: 1, next_attempt_ms: 0 });
    expect(await b.published()).toStrictEqual([firstId]);
  });

  test('a restart of the service loses no field report and publishes none twice (closed mid-flight, reopened on the same directory)', async () => {
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
    // Mid-flight: a decision whose report is still queued, a publish cycle that one failed
    // append interrupts, and a decision after it; then the service goes down without waiting.
    await a.decide(2, 0.4);
    b.faults.failNext('append');
    const cycle = a.controller.flush();
    const last = await a.decide(3, 0.38);
    const closing = Promise.all([a.lifecycle.close(), a.controller.dispose()]);
    expect(await cycle).toBe(false);
    await closing;

    const restarted = await service(dir, clock, settings, b.oona);
    expect(Object.keys(restarted.lifecycle.openWindows())).toStrictEqual([last.commandId]);
    await restarted.decide(4, 0.36);
    expect(await restarted.controller.flush()).toBe(true);
    const all = await b.published();
    // Each report of the log went out exactly once, and the first cycle's ids were not sent again.
    expect(new Set(all).size).toBe(all.length);
    await restarted.lifecycle.idle();
    const logged = restarted.lifecycle.reports().map((r) => r.reportId);
    expect([...all].sort()).toStrictEqual([...logged].sort());
    expect(all.slice(0, 3)).toStrictEqual(before);
    expect(synth(restarted.lifecycle.reports()).map((r) => r.reportId)).toContain(`fr-synth-${last.commandId}-3+2`);
    expect(restarted.lifecycle.stats().pending).toBe(0);
  });
});
