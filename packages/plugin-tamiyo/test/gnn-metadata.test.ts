import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, type BlueprintMetadataLookupOptions, type BlueprintMetadataSource, type BlueprintRecord } from '@esper/core';
import { CommandType, TelemetryLevel, type TelemetryPacket } from '@esper/core/leyline';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FileBlueprintMetadata } from '../src/metadata/file-source.js';
import { DORMANT, gnnHarness, statePacket, type HarnessOptions } from './gnn-harness.js';

let dir: string;
const closers: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tamiyo-metadata-'));
});
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((c) => c()));
  await rm(dir, { recursive: true, force: true });
});

async function harness(options: HarnessOptions) {
  const h = await gnnHarness(options);
  closers.push(() => h.controller.dispose());
  return h;
}

/** A metadata file of `records` (JSON), opened with re-checks on every lookup (or every `recheckMs`). */
async function metadataFile(records: readonly object[], clock: ManualClock, recheckMs = 0) {
  const path = join(dir, 'urza.json');
  await writeFile(path, JSON.stringify({ blueprints: records }));
  return { path, source: await FileBlueprintMetadata.open(path, { clock, recheckMs }) };
}

/**
 * A slow Urza: the real file-backed source behind a gate. Lookups wait until `release()`, so a
 * budget of a few ms passes deterministically; `lookups` counts the calls that reached it.
 */
class GatedMetadata implements BlueprintMetadataSource {
  lookups = 0;
  private open = false;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly inner: BlueprintMetadataSource) {}
  async lookup(id: string, options?: BlueprintMetadataLookupOptions): Promise<BlueprintRecord | undefined> {
    this.lookups++;
    if (!this.open) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.inner.lookup(id, options);
  }
  release(): void {
    this.open = true;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

const BP001 = { blueprint_id: 'BP001', name: 'residual', tier: 'SAFE', risk: 0.1, stage: 2, allowed_parameters: { alpha: { min: 0, max: 1 } } };
const metric = (p: TelemetryPacket, name: string) => p.metrics.find((m) => m.name === name)?.value;
const named = (p: TelemetryPacket, description: string) => p.events.filter((e) => e.description === description);
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('GNN controller: blueprint metadata through the BlueprintMetadata port (decision 0065)', () => {
  test('a slow metadata source: each SEED past the budget is timeout_urza (WARNING, budget_ms) and a metadata breaker failure; the third opens it; the late result fills the cache', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { source: file } = await metadataFile([BP001], clock, 3_600_000);
    const slow = new GatedMetadata(file);
    const h = await harness({ clock, blueprints: ['BP001'], metadataSource: slow, metadataTimeoutMs: 5 });
    const packet = (epoch: number) => statePacket([DORMANT], epoch, 0.3);

    for (let i = 1; i <= 3; i++) {
      const command = await h.controller.evaluateStep(packet(i));
      expect(command.commandType).toBe(CommandType.COMMAND_SEED);
      expect(command.annotations.risk_reason).toBe('timeout_urza');
      expect(command.annotations.blueprint_risk).toBeUndefined();
      expect(h.verifier.verify(command)).toEqual({ ok: true });
      const p = h.telemetry.at(-1)!.packet;
      expect(named(p, 'timeout_urza')).toEqual([expect.objectContaining({ level: TelemetryLevel.WARNING, attributes: { budget_ms: '5.0' } })]);
      const breaker = named(p, 'breaker_event')[0]!;
      expect(breaker.attributes).toMatchObject({ component: 'metadata', reason: 'timeout_urza', failures: String(i), action: i < 3 ? 'count' : 'open' });
      expect(breaker.level).toBe(i < 3 ? TelemetryLevel.WARNING : TelemetryLevel.CRITICAL);
      expect(metric(p, 'tamiyo.breaker.metadata_failures')).toBe(i);
      expect(p.systemHealth!.indicators.metadata_timeout_budget_ms).toBe('5.0');
    }
    expect(h.controller.risk.breakerSnapshot().metadata).toMatchObject({ state: 2, failures: 3 });
    // One lookup for the blueprint in flight (pre-warm), joined by every decision, never restarted.
    expect(slow.lookups).toBe(1);

    slow.release();
    while (h.controller.metadataCache?.fresh('BP001') === undefined) await settle();
    clock.advance(150); // past the breaker's 100 ms cool-down
    const served = await h.controller.evaluateStep(packet(4));
    expect(served.annotations).toMatchObject({ risk_reason: 'policy', blueprint_risk: '0.10', blueprint_tier: 'BLUEPRINT_TIER_SAFE', blueprint_stage: '2' });
    const p = h.telemetry.at(-1)!.packet;
    expect(named(p, 'timeout_urza')).toEqual([]);
    expect(named(p, 'breaker_event')[0]!.attributes).toEqual({ component: 'metadata', action: 'close' });
    expect(h.controller.risk.breakerSnapshot().metadata).toMatchObject({ state: 1, failures: 0 });
    expect(slow.lookups).toBe(1);
  });

  test('evaluateEpoch has no metadata deadline: it waits for the slow source and gates with its record', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { source: file } = await metadataFile([{ ...BP001, quarantine_only: true }], clock);
    const slow = new GatedMetadata(file);
    const h = await harness({ clock, blueprints: ['BP001'], metadataSource: slow, metadataTimeoutMs: 1 });
    const decision = h.controller.evaluateEpoch(statePacket([DORMANT], 1));
    await new Promise((r) => setTimeout(r, 20));
    slow.release();
    const command = await decision;
    expect(command.annotations.risk_reason).toBe('bp_quarantine');
    expect(named(h.telemetry.at(-1)!.packet, 'timeout_urza')).toEqual([]);
  });

  test('a quarantined record → bp_quarantine PAUSE (CRITICAL), blueprint annotations from the record', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { source } = await metadataFile([{ ...BP001, tier: 'HIGH_RISK', quarantine_only: true }], clock);
    const h = await harness({ clock, blueprints: ['BP001'], metadataSource: source, metadataTimeoutMs: 5_000 });
    const command = await h.controller.evaluateStep(statePacket([DORMANT], 1));
    expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(command.annotations).toMatchObject({ risk_reason: 'bp_quarantine', blueprint_tier: 'BLUEPRINT_TIER_HIGH_RISK', blueprint_risk: '0.10', seed_id: 'slot0' });
    expect(command.targetSeedId).toBe('');
    const p = h.telemetry.at(-1)!.packet;
    expect(named(p, 'bp_quarantine')).toEqual([expect.objectContaining({ level: TelemetryLevel.CRITICAL, attributes: { tier: 'BLUEPRINT_TIER_HIGH_RISK' } })]);
    expect(p.systemHealth!.indicators.tier).toBe('BLUEPRINT_TIER_HIGH_RISK');
    expect(h.verifier.verify(command)).toEqual({ ok: true });
  });

  test('a BSDS block with hazard CRITICAL → bsds_hazard_critical PAUSE; without risk_score the descriptor risk stands', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const bsds = { hazard_band: 'critical', handling_class: 'RESTRICTED', provenance: 'URABRASK', issued_at: '2026-01-01T00:00:00Z' };
    const { source } = await metadataFile([{ ...BP001, bsds }], clock);
    const h = await harness({ clock, blueprints: ['BP001'], metadataSource: source });
    const command = await h.controller.evaluateEpoch(statePacket([DORMANT], 1));
    expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(command.annotations).toMatchObject({
      risk_reason: 'bsds_hazard_critical',
      blueprint_risk: '0.10',
      bsds_hazard_band: 'CRITICAL',
      bsds_handling_class: 'RESTRICTED',
      bsds_provenance: 'URABRASK',
    });
    const p = h.telemetry.at(-1)!.packet;
    expect(named(p, 'bsds_hazard_critical')).toEqual([expect.objectContaining({ level: TelemetryLevel.CRITICAL, attributes: { hazard: 'CRITICAL', provenance: 'URABRASK' } })]);
    expect(metric(p, 'tamiyo.blueprint.risk')).toBeCloseTo(0.1);
  });

  test('cache TTL: a record edited in the file is seen only once the cached entry is older than metadataCacheTtlMs', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { path, source } = await metadataFile([BP001], clock);
    const h = await harness({ clock, blueprints: ['BP001'], metadataSource: source, metadataCacheTtlMs: 60_000 });
    expect((await h.controller.evaluateEpoch(statePacket([DORMANT], 1))).commandType).toBe(CommandType.COMMAND_SEED);
    // An operator quarantines BP001 in the running service.
    await writeFile(path, JSON.stringify({ blueprints: [{ ...BP001, quarantine_only: true, description: 'quarantined by the operator' }] }));
    clock.advance(59_000);
    expect((await h.controller.evaluateEpoch(statePacket([DORMANT], 2))).annotations.risk_reason).toBe('policy');
    clock.advance(1_000);
    const gated = await h.controller.evaluateEpoch(statePacket([DORMANT], 3));
    expect(gated.annotations.risk_reason).toBe('bp_quarantine');
  });

  test('a failing source: metadata_error WARNING, the decision goes on without blueprint gating; no breaker failure', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const broken: BlueprintMetadataSource = { lookup: () => Promise.reject(new Error('urza unreachable')) };
    const h = await harness({ clock, blueprints: ['BP001'], metadataSource: broken });
    const command = await h.controller.evaluateStep(statePacket([DORMANT], 1));
    expect(command.commandType).toBe(CommandType.COMMAND_SEED);
    const p = h.telemetry.at(-1)!.packet;
    expect(named(p, 'metadata_error')).toEqual([expect.objectContaining({ level: TelemetryLevel.WARNING, attributes: { blueprint_id: 'BP001', error: 'urza unreachable' } })]);
    expect(metric(p, 'tamiyo.breaker.metadata_failures')).toBe(0);
  });
});
