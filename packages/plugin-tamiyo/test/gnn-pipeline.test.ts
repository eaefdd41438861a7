import { toBinary } from '@bufbuild/protobuf';
import { ManualClock, type Clock } from '@esper/core';
import { OonaClient } from '@esper/core/oona';
import {
  BusMessageType,
  CommandType,
  HealthStatus,
  MessagePriority,
  TelemetryLevel,
  TelemetryPacketSchema,
  type MessagePriority as Priority,
  type TelemetryPacket,
} from '@esper/core/leyline';
import { MemoryBroker } from '@esper/plugin-oona-memory';
import { afterEach, describe, expect, test } from 'vitest';
import { onnxRunnerFactory, type PolicyRunnerFactory } from '../src/backends/onnx-backend.js';
import { tamiyoConfigSchema } from '../src/config.js';
import { annotateCoverage, gnnDecisionTelemetry } from '../src/gnn/telemetry.js';
import type { BlueprintMetadata } from '../src/graph/builder.js';
import { RiskEngine } from '../src/risk/engine.js';
import { timeoutCommand } from '../src/gnn/controller.js';
import { DORMANT, TRAINING, gnnHarness, statePacket, type HarnessOptions } from './gnn-harness.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((c) => c()));
});

async function harness(options: HarnessOptions = {}) {
  const h = await gnnHarness(options);
  closers.push(() => h.controller.dispose());
  return h;
}

/** An Oona client on an in-process broker; `read(stream)` drains that stream's telemetry packets. */
async function bus(clock: Clock) {
  const broker = new MemoryBroker(clock);
  const settings = { group: 'tamiyo', consumer: 'c1', retryBackoffMs: 0, publishRetryBufferSize: 0, messageTtlMs: null };
  const oona = new OonaClient({ backend: broker.backend(), clock, settings });
  const reader = new OonaClient({ backend: broker.backend(), clock, settings: { ...settings, group: 'reader' } });
  await oona.ensureGroups();
  await reader.ensureGroups();
  closers.push(() => oona.close(), () => reader.close());
  const sink = async (packet: TelemetryPacket, priority: Priority) => {
    await oona.publish(BusMessageType.TELEMETRY, toBinary(TelemetryPacketSchema, packet), { priority });
  };
  const read = async (stream: string): Promise<string[]> => {
    const ids: string[] = [];
    while ((await reader.consume(TelemetryPacketSchema, (p) => void ids.push(p.packetId), { stream, count: 100 })) > 0);
    return ids;
  };
  return { sink, read };
}

const metric = (p: TelemetryPacket, name: string) => p.metrics.find((m) => m.name === name)?.value;
const descriptions = (p: TelemetryPacket) => p.events.map((e) => e.description);
const slowRunner = (state: { slow: boolean }): PolicyRunnerFactory => {
  const cpu = onnxRunnerFactory({ worker: false });
  return async (device, model) => {
    const real = await cpu(device, model);
    return { device, run: (f, o) => (state.slow ? new Promise((r) => setTimeout(() => r(real.run(f, o)), 40)) : real.run(f, o)), dispose: () => real.dispose() };
  };
};

/** The §10.1 metric names in order (optional ones included as this packet emits them). */
const REFERENCE_ORDER = [
  'tamiyo.validation_loss',
  'tamiyo.loss_delta',
  'tamiyo.conservative_mode',
  'tamiyo.inference.latency_ms',
  'tamiyo.gnn.inference.latency_ms',
  'tamiyo.gnn.compile_enabled',
  'tamiyo.gnn.compile_warm_ms',
  'tamiyo.policy.value_estimate',
  'tamiyo.policy.risk_index',
  'tamiyo.policy.risk_score',
  'tamiyo.gnn.feature_coverage',
];

describe('GNN decision telemetry (P5)', () => {
  test('metrics in the reference order, budgets as "%.1f" indicators, NORMAL priority for a quiet decision with one seed', async () => {
    const h = await harness({ stepTimeoutMs: 7.5, metadataTimeoutMs: 12 });
    const command = await h.controller.evaluateEpoch(statePacket([DORMANT], 2, 0.3, { step: 40 }));
    expect(command.commandType).toBe(CommandType.COMMAND_SEED);
    const { packet, priority } = h.telemetry.at(-1)!;
    const names = packet.metrics.map((m) => m.name);
    expect(names.slice(0, REFERENCE_ORDER.length)).toStrictEqual(REFERENCE_ORDER);
    const rest = names.slice(REFERENCE_ORDER.length);
    const coverageTypes = rest.filter((n) => n.startsWith('tamiyo.gnn.feature_coverage.'));
    expect(coverageTypes).toEqual(expect.arrayContaining(['tamiyo.gnn.feature_coverage.edges.layer_connects', 'tamiyo.gnn.feature_coverage.node.seed']));
    expect(rest.slice(coverageTypes.length)).toStrictEqual([
      'tamiyo.blending.method_index',
      'tamiyo.blending.schedule_start',
      'tamiyo.blending.schedule_end',
      'tamiyo.selection.seed_index',
      'tamiyo.selection.seed_score',
      'tamiyo.selection.blueprint_index',
      'tamiyo.breaker.inference_state',
      'tamiyo.breaker.metadata_state',
      'tamiyo.breaker.inference_failures',
      'tamiyo.breaker.metadata_failures',
      'tamiyo.decision.latency_ms',
      'tamiyo.gnn.inference_ms',
      'tamiyo.gnn.seed_count',
    ]);
    expect(packet.metrics.find((m) => m.name === 'tamiyo.blending.method_index')!.attributes.method).toBe(command.annotations.blending_method);
    expect(metric(packet, 'tamiyo.breaker.inference_state')).toBe(1);
    const indicators = packet.systemHealth!.indicators;
    expect(indicators).toMatchObject({
      timeout_budget_ms: '7.5',
      metadata_timeout_budget_ms: '12.0',
      policy: 'tamiyo_g',
      policy_arch: 'tamiyo_gnn_v1',
      mode: '0',
      policy_compile: '1',
      step_index: '40',
      priority: 'MESSAGE_PRIORITY_NORMAL',
      blending_method: command.annotations.blending_method,
    });
    expect(Number(indicators.timeout_budget_ms)).toBe(7.5);
    expect(priority).toBe(MessagePriority.NORMAL);
    expect(packet.systemHealth!.status).toBe(HealthStatus.HEALTHY);
    // Events: the risk engine's INFO signal, then the port's decision event last.
    expect(descriptions(packet)).toStrictEqual(['policy_risk_signal', 'gnn_decision']);
    // Coverage annotations are signed with the command.
    expect(command.annotations).toMatchObject({ feature_coverage: expect.stringMatching(/^\d\.\d{3}$/), coverage_types: expect.stringContaining('edges.layer_connects') });
    // The builder's full per-key map (56 keys) is longer than 1024 characters, so it is not attached.
    expect(command.annotations.coverage_map).toBeUndefined();
    const small = timeoutCommand(1);
    delete small.annotations.coverage_types; // the timeout command's "{}" is kept, as every annotation present
    annotateCoverage(small, new Map([['global.loss', 1], ['seed.risk', 0]]));
    expect(small.annotations).toMatchObject({ feature_coverage: '0.500', coverage_map: '{"global.loss":1,"seed.risk":0}', coverage_types: '{"edges.layer_connects":0,"node.global":1,"node.seed":0}' });
    expect(h.verifier.verify(command)).toEqual({ ok: true });
  });

  test('timeouts: timeout_inference first, then the breaker and conservative-mode events; HIGH, and CRITICAL once the breaker opens', async () => {
    const state = { slow: false };
    const h = await harness({ createRunner: slowRunner(state), stepTimeoutMs: 5 });
    state.slow = true;
    for (let i = 0; i < 3; i++) await h.controller.evaluateStep(statePacket([DORMANT], i));
    const packets = h.telemetry.map((t) => t.packet);
    expect(descriptions(packets[0]!)).toStrictEqual(['timeout_inference', 'breaker_event', 'conservative_entered', 'gnn_decision']);
    expect(packets[0]!.events[0]!.attributes.budget_ms).toBe('5.0');
    expect(h.telemetry[0]!.priority).toBe(MessagePriority.HIGH);
    expect(packets[0]!.systemHealth!.indicators.priority).toBe('MESSAGE_PRIORITY_HIGH');
    expect(packets[0]!.systemHealth!.indicators.mode).toBe('1');
    expect(packets[0]!.systemHealth!.summary).toBe('timeout_inference');
    // The third failure opens the inference breaker: a CRITICAL breaker_event.
    const third = packets[2]!;
    expect(third.events.find((e) => e.description === 'breaker_event')).toMatchObject({ level: TelemetryLevel.CRITICAL, attributes: { action: 'open', component: 'inference' } });
    expect(h.telemetry[2]!.priority).toBe(MessagePriority.CRITICAL);
    expect(metric(third, 'tamiyo.breaker.inference_state')).toBe(2);
    expect(metric(third, 'tamiyo.conservative_mode')).toBe(1);
    await new Promise((r) => setTimeout(r, 60)); // abandoned runs settle before the session closes
  });

  test('a CRITICAL decision (quarantined blueprint) published through Oona lands on the emergency stream; a quiet one on the telemetry stream', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const b = await bus(clock);
    let quarantine = false;
    const h = await harness({ clock, sink: b.sink, metadata: (): BlueprintMetadata => ({ risk: 0.1, quarantine_only: quarantine }) });
    const quiet = await h.controller.evaluateEpoch(statePacket([DORMANT], 0));
    expect(quiet.commandType).toBe(CommandType.COMMAND_SEED);
    quarantine = true;
    const gated = await h.controller.evaluateEpoch(statePacket([TRAINING, DORMANT], 1));
    expect(gated.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(gated.annotations).toMatchObject({ risk_reason: 'bp_quarantine', blueprint_tier: expect.any(String), blueprint_risk: '0.10' });
    expect(h.verifier.verify(gated)).toEqual({ ok: true });
    const critical = h.telemetry[1]!;
    expect(critical.priority).toBe(MessagePriority.CRITICAL);
    expect(critical.packet.systemHealth!.status).toBe(HealthStatus.CRITICAL);
    expect(critical.packet.systemHealth!.indicators.tier).toBe(gated.annotations.blueprint_tier);
    expect(metric(critical.packet, 'tamiyo.blueprint.risk')).toBeCloseTo(0.1);
    expect(await b.read('oona.emergency')).toStrictEqual([critical.packet.packetId]);
    expect(await b.read('oona.telemetry')).toStrictEqual([h.telemetry[0]!.packet.packetId]);
  });

  test('very low coverage (average 0.1): degraded_inputs WARNING → HIGH → the emergency stream', async () => {
    // The graph builder's structural keys (blueprint, parameters, edges) are always covered, so no
    // packet brings the mean near 0.1; the coverage map is given to the same engine and packet builder.
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const b = await bus(clock);
    const coverage = new Map(Array.from({ length: 10 }, (_, i) => [`global.k${i}`, i === 0 ? 1 : 0] as const));
    const engine = new RiskEngine({ clock });
    const command = timeoutCommand(1);
    command.commandId = 'cmd-low-coverage';
    const packet = statePacket([DORMANT], 1);
    const risk = engine.evaluate(command, { packet, timedOut: false, blueprintTimedOut: false, lossDelta: 0, coverage });
    expect(risk.events.at(-1)).toMatchObject({ description: 'degraded_inputs', level: TelemetryLevel.WARNING, attributes: { coverage_avg: '0.100', missing_features: '9' } });
    const out = gnnDecisionTelemetry(
      {
        command,
        packet,
        lossDelta: 0,
        conservative: risk.conservative,
        policyMs: 1,
        latencyMs: 1,
        inferenceMs: 0,
        compileEnabled: true,
        warmUpMs: 0,
        fallbacks: 0,
        device: 'cpu',
        architecture: 'tamiyo_gnn_v1',
        policyVersion: 'tamiyo_gnn_v1',
        budgetMs: 5,
        metadataBudgetMs: 10,
        seeds: 1,
        coverage,
        events: risk.events,
      },
      clock,
    );
    expect(out.systemHealth!.indicators.priority).toBe('MESSAGE_PRIORITY_HIGH');
    await b.sink(out, MessagePriority.HIGH);
    expect(await b.read('oona.emergency')).toStrictEqual([out.packetId]);
  });
});

describe('risk engine in the GNN pipeline (tamiyo §4 step 7)', () => {
  test('a loss spike (validation loss up by more than 0.15) makes the GNN controller answer PAUSE with risk_reason=loss_spike and a WARNING event', async () => {
    const h = await harness();
    expect((await h.controller.evaluateEpoch(statePacket([DORMANT, DORMANT], 3, 0.3))).commandType).toBe(CommandType.COMMAND_SEED);
    const command = await h.controller.evaluateEpoch(statePacket([TRAINING, DORMANT], 4, 0.5));
    expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(command.annotations).toMatchObject({ risk_reason: 'loss_spike', decision: 'wait', policy_action: '0' });
    expect(command.targetSeedId).toBe('');
    expect(h.verifier.verify(command)).toEqual({ ok: true }); // the signature covers the risk annotations
    const { packet, priority } = h.telemetry.at(-1)!;
    const spike = packet.events.find((e) => e.description === 'loss_spike')!;
    expect(spike).toMatchObject({ level: TelemetryLevel.WARNING, attributes: { delta: '0.200' } });
    expect(metric(packet, 'tamiyo.loss_delta')).toBeCloseTo(0.2, 6);
    expect(metric(packet, 'tamiyo.conservative_mode')).toBe(1);
    expect(priority).toBe(MessagePriority.HIGH);
    expect(packet.systemHealth).toMatchObject({ status: HealthStatus.DEGRADED, summary: 'loss_spike' });
    // The blueprint rotation only moves after a delivered graft.
    expect(h.controller.currentBlueprint).toBe('BP002');
  });
});

describe('blend-mode annotations (P8)', () => {
  const blend = (input: Record<string, unknown>) => tamiyoConfigSchema.parse({ blendAnnotations: input }).blendAnnotations;
  const channels = (c: number) => (): BlueprintMetadata => ({ graph: { layers: [{ layer_id: 'L0', output_channels: c }] } });

  test('with defaults a SEED command has no blend_mode', async () => {
    const h = await harness({ blend: blend({}) });
    const command = await h.controller.evaluateEpoch(statePacket([TRAINING, DORMANT], 1));
    expect(command.commandType).toBe(CommandType.COMMAND_SEED);
    expect(Object.keys(command.annotations).filter((k) => k.startsWith('blend_mode') || k.startsWith('alpha') || k.startsWith('gate_'))).toStrictEqual([]);
  });

  test('flag on, CONFIDENCE: blend_mode, override source and the four gate values ("%.4f"), signed', async () => {
    const h = await harness({ blend: blend({ enabled: true, mode: 'CONFIDENCE', confidenceGateK: 4, confidenceGateTau: 0.2, alphaLo: 0.1, alphaHi: 0.9 }) });
    const command = await h.controller.evaluateEpoch(statePacket([DORMANT], 1));
    expect(command.annotations).toMatchObject({ blend_mode: 'CONFIDENCE', blend_mode_source: 'override', gate_k: '4.0000', gate_tau: '0.2000', alpha_lo: '0.1000', alpha_hi: '0.9000' });
    expect(h.verifier.verify(command)).toEqual({ ok: true });
  });

  test('flag on, CHANNEL, max 8, first layer with 4 output channels: alpha_vec_len "4" and a 4-long alpha_vec', async () => {
    const h = await harness({ blend: blend({ enabled: true, mode: 'CHANNEL', alphaVecMax: 8 }), metadata: channels(4) });
    const command = await h.controller.evaluateEpoch(statePacket([DORMANT], 1));
    expect(command.commandType).toBe(CommandType.COMMAND_SEED);
    expect(command.annotations).toMatchObject({ blend_mode: 'CHANNEL', blend_mode_source: 'override', alpha_vec_len: '4' });
    expect(JSON.parse(command.annotations.alpha_vec!)).toStrictEqual([1, 1, 1, 1]);
  });

  test('CHANNEL with more channels than the maximum omits alpha_vec; CONVEX is the heuristic source; no annotations without a SEED', async () => {
    const wide = await harness({ blend: blend({ enabled: true, mode: 'CHANNEL', alphaVecMax: 8 }), metadata: channels(16) });
    const a = (await wide.controller.evaluateEpoch(statePacket([DORMANT], 1))).annotations;
    expect(a.blend_mode).toBe('CHANNEL');
    expect(a.alpha_vec).toBeUndefined();
    expect(a.alpha_vec_len).toBeUndefined();
    const convex = await harness({ blend: blend({ enabled: true }) });
    expect((await convex.controller.evaluateEpoch(statePacket([DORMANT], 1))).annotations).toMatchObject({ blend_mode: 'CONVEX', blend_mode_source: 'heuristic' });
    // The no-seed fast path and a WAIT carry none.
    expect((await convex.controller.evaluateEpoch(statePacket([], 2))).annotations.blend_mode).toBeUndefined();
    expect((await convex.controller.evaluateEpoch(statePacket([TRAINING], 3))).annotations.blend_mode).toBeUndefined();
  });
});
