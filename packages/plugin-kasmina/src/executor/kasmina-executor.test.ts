// Gate wiring, failure procedure, control feeds and host checks, with the training observations
// given directly (test/ has the same paths with real ONNX training).
import type { StepObservation } from '@esper/core';
import { SeedLifecycleStage, SeedOperation, type TelemetryPacket } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { security } from '../../test/fixtures/commands.js';
import { tinyHost } from '../../test/fixtures/tiny-host.js';
import { residualMlp } from '../blueprints/residual-mlp.js';
import { KasminaBlueprintCatalog } from '../blueprints/catalog.js';
import { HostAttachError, HostNotAttachedError, UnknownSeedError } from '../errors.js';
import { KasminaExecutor, type SeedStageChange } from './kasmina-executor.js';
import type { ExecutorSettings } from './settings.js';

const S = SeedLifecycleStage;
const Op = SeedOperation;

function setup(settings: Partial<ExecutorSettings> = {}) {
  const sec = security();
  const changes: SeedStageChange[] = [];
  const packets: TelemetryPacket[] = [];
  const executor = new KasminaExecutor({
    verifier: sec.verifier,
    runSeed: 3,
    clock: sec.clock,
    settings: { blendingOptimizerSteps: 8, ...settings },
    onStageChanged: (c) => void changes.push(c),
    telemetry: { emit: (p) => void packets.push(p) },
  });
  executor.attachHost(tinyHost());
  const observe = (over: Partial<StepObservation> = {}) =>
    executor.observeSteps({ steps: 4, globalStep: 4, epoch: 0, loss: 0.5, hostGradNorm: 1, seedGradNorms: { hidden1: 0.2 }, ...over });
  const apply = (op: SeedOperation, target = 'hidden1', blueprint = '') => executor.applyCommand(sec.seed(op, target, blueprint));
  const stage = (id = 'hidden1') => executor.exportSeedStates().find((s) => s.seedId === id)!.stage;
  const failures = () => packets.flatMap((p) => p.events).filter((e) => e.description === 'gate_failure').map((e) => e.attributes);
  return { ...sec, executor, changes, packets, observe, apply, stage, failures };
}

async function training(t: ReturnType<typeof setup>) {
  await t.apply(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp');
  await t.apply(Op.SEED_OP_START_TRAINING);
}

describe('a failed gate culls the seed and says why', () => {
  test('G2: START_GRAFTING before the seed trained → CULLED → EMBARGOED, removed from the graph', async () => {
    const t = setup();
    await training(t);
    const version = t.executor.topologyVersion;
    expect(await t.apply(Op.SEED_OP_START_GRAFTING)).toMatchObject({ applied: false, reason: 'gate_failed:SEED_GATE_G2_STABILITY: seed has not trained' });
    expect(t.stage()).toBe(S.SEED_STAGE_EMBARGOED);
    expect(t.executor.topologyVersion).toBe(version + 1);
    expect(t.executor.compose().seedParameters).toEqual({});
    expect(Object.keys(t.executor.controlFeeds())).toEqual([]);
    expect(t.changes.slice(-2).map((c) => [c.from, c.to, c.reason])).toEqual([
      [S.SEED_STAGE_TRAINING, S.SEED_STAGE_CULLED, 'gate_failed:SEED_GATE_G2_STABILITY: seed has not trained'],
      [S.SEED_STAGE_CULLED, S.SEED_STAGE_EMBARGOED, 'gate_failed:SEED_GATE_G2_STABILITY: seed has not trained'],
    ]);
    expect(t.failures()).toEqual([{ seed_id: 'hidden1', gate: 'SEED_GATE_G2_STABILITY', reason: 'seed has not trained' }]);
  });

  test('G2: a kernel that took longer to build and splice than the latency budget', async () => {
    const sec = security();
    const slow = residualMlp({ id: 'slow-mlp', name: 'slow', hiddenRatio: 0.5 });
    // Building this blueprint's parameters takes 25 ms on the executor's clock.
    const catalog = new KasminaBlueprintCatalog([{ ...slow, parameters: (f, o) => (sec.clock.advance(25), slow.parameters(f, o)) }]);
    const executor = new KasminaExecutor({ verifier: sec.verifier, runSeed: 1, clock: sec.clock, catalog, settings: { latencyBudgetMs: 10 } });
    executor.attachHost(tinyHost());
    await executor.applyCommand(sec.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'slow-mlp'));
    expect(executor.exportSeedStates()[0]!.metrics.kernel_latency_ms).toBe(25);
    await executor.applyCommand(sec.seed(Op.SEED_OP_START_TRAINING, 'hidden1'));
    executor.observeSteps({ steps: 4, globalStep: 4, epoch: 0, loss: 0.5, hostGradNorm: 1, seedGradNorms: { hidden1: 0.2 } });
    expect(await executor.applyCommand(sec.seed(Op.SEED_OP_START_GRAFTING, 'hidden1'))).toMatchObject({ applied: false, reason: 'gate_failed:SEED_GATE_G2_STABILITY: latency budget exceeded' });
    expect(executor.exportSeedStates()[0]!.stage).toBe(S.SEED_STAGE_EMBARGOED);
  });

  test('isolation: a non-finite seed gradient while TRAINING is a violation, and G2 then fails', async () => {
    const t = setup();
    await training(t);
    t.observe({ seedGradNorms: { hidden1: Number.NaN } });
    expect(t.executor.exportSeedStates()[0]!.metrics.isolation_violations).toBe(1);
    t.executor.finalizeStep(4);
    await t.apply(Op.SEED_OP_START_GRAFTING).then((o) => expect(o).toMatchObject({ reason: 'gate_failed:SEED_GATE_G2_STABILITY: gradient isolation violations present' }));
    expect(t.packets.flatMap((p) => p.events).some((e) => e.description === 'violation_recorded' && e.attributes.seed_id === 'hidden1')).toBe(true);
  });

  test('G1: a non-finite host gradient blocks TRAINING and culls from GERMINATED', async () => {
    const t = setup();
    await t.apply(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp');
    t.observe({ hostGradNorm: Number.POSITIVE_INFINITY, seedGradNorms: { hidden1: 0 } });
    expect(await t.apply(Op.SEED_OP_START_TRAINING)).toMatchObject({ reason: 'gate_failed:SEED_GATE_G1_GRADIENT_HEALTH: host gradient not finite' });
    expect(t.stage()).toBe(S.SEED_STAGE_EMBARGOED);
  });

  test('G4: the training loss rose too far since blending began', async () => {
    const t = setup({ maxLossRatio: 1.5 });
    await training(t);
    t.observe({ loss: 0.5 });
    await t.apply(Op.SEED_OP_START_GRAFTING);
    t.observe({ steps: 8, loss: 0.6 });
    expect(await t.apply(Op.SEED_OP_STABILIZE)).toMatchObject({ applied: true });
    t.observe({ loss: 0.9 });
    expect(await t.apply(Op.SEED_OP_EVALUATE)).toMatchObject({ applied: false, reason: 'gate_failed:SEED_GATE_G4_SYSTEM_IMPACT: training loss rose from 0.500000 to 0.900000, more than 1.5×' });
    expect(t.stage()).toBe(S.SEED_STAGE_EMBARGOED);
  });
});

describe('embargo and reset', () => {
  test('the stages change when updateEpoch is called, even when the caller does not await it', async () => {
    const t = setup({ embargoEpochs: 1 });
    await training(t);
    await t.apply(Op.SEED_OP_CULL);
    const announced = t.changes.length;
    const done = t.executor.updateEpoch(1);
    expect(t.stage()).toBe(S.SEED_STAGE_DORMANT);
    expect(t.changes).toHaveLength(announced);
    await done;
    expect(t.changes.slice(announced).map((c) => [c.to, c.reason])).toEqual([[S.SEED_STAGE_RESETTING, 'embargo_elapsed'], [S.SEED_STAGE_DORMANT, 'reset']]);
  });

  test('embargoEpochs counts epoch boundaries; 0 frees the slot at the next one', async () => {
    for (const [embargoEpochs, freeAt] of [[0, 1], [2, 2]] as const) {
      const t = setup({ embargoEpochs });
      await training(t);
      await t.apply(Op.SEED_OP_CULL);
      await t.executor.updateEpoch(1);
      expect(t.stage()).toBe(freeAt === 1 ? S.SEED_STAGE_DORMANT : S.SEED_STAGE_EMBARGOED);
      await t.executor.updateEpoch(2);
      expect(t.stage()).toBe(S.SEED_STAGE_DORMANT);
      expect(t.executor.exportSeedStates()[0]!.metrics).toMatchObject({ alpha: 0, parameters: 0, training_steps: 0, isolation_violations: 0 });
    }
  });
});

describe('control feeds and composition', () => {
  test('per-stage control values, and the counterfactual of a seed', async () => {
    const t = setup();
    await t.apply(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp');
    const values = (feeds: Record<string, { data: unknown }>) => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k.replace('seed/hidden1/', ''), [...(v.data as Float32Array)]]));
    const convex = { alpha_vec: Array(8).fill(1), residual: [0], confidence: [0], gate_k: [0], gate_tau: [0], alpha_lo: [0], alpha_hi: [1] };
    expect(values(t.executor.controlFeeds())).toEqual({ alpha: [0], st: [0], in_gate: [0], host_gate: [1], ...convex });
    await t.apply(Op.SEED_OP_START_TRAINING);
    expect(values(t.executor.controlFeeds())).toEqual({ alpha: [0], st: [1], in_gate: [0], host_gate: [1], ...convex });
    t.observe();
    await t.apply(Op.SEED_OP_START_GRAFTING);
    t.observe({ steps: 2 });
    expect(values(t.executor.controlFeeds())).toEqual({ alpha: [0.25], st: [0], in_gate: [1], host_gate: [0], ...convex });
    expect(values(t.executor.controlFeeds({ counterfactual: 'hidden1' }))).toEqual({ alpha: [0], st: [0], in_gate: [0], host_gate: [1], ...convex });
    expect(() => t.executor.controlFeeds({ counterfactual: 'hidden2' })).toThrow(UnknownSeedError);
    expect(t.executor.compose().controlInputs).toEqual(Object.keys(t.executor.controlFeeds()));
  });

  test('compose() is memoised per topology version; ownerOf and blueprintOf name the seed', async () => {
    const t = setup();
    const bare = t.executor.compose();
    expect(t.executor.compose()).toBe(bare);
    expect(bare).toMatchObject({ topologyVersion: 0, controlInputs: [], seedParameters: {} });
    await t.apply(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp-wide');
    const grown = t.executor.compose();
    expect(grown).not.toBe(bare);
    expect(grown.topologyVersion).toBe(1);
    expect(t.executor.compose()).toBe(grown);
    expect(t.executor.ownerOf('seed/hidden2/g1/up.w')).toBe('hidden2');
    expect(t.executor.ownerOf('fc1.w')).toBeNull();
    expect(t.executor.blueprintOf('hidden2')).toBe('residual-mlp-wide');
    expect(t.executor.blueprintOf('hidden1')).toBeUndefined();
  });

  test('attachHost checks the host once; compose needs it', () => {
    const sec = security();
    const executor = new KasminaExecutor({ verifier: sec.verifier, runSeed: 0 });
    expect(() => executor.compose()).toThrow(HostNotAttachedError);
    const host = tinyHost();
    expect(() => executor.attachHost({ ...host, slots: [{ id: 'h', tensor: 'nope', features: 8, depth: 1 }] })).toThrow(/does not have/);
    expect(() => executor.attachHost({ ...host, slots: [{ ...host.slots[0]!, features: 5 }] })).toThrow(/not float32 \[batch, 5\]/);
    expect(() => executor.attachHost({ ...host, slots: [host.slots[0]!, { ...host.slots[0]!, id: 'again' }] })).toThrow(HostAttachError);
    executor.attachHost(host);
    expect(() => executor.attachHost(host)).toThrow(/already attached/);
  });

  test('a failing stage-change listener is logged and does not undo the change', async () => {
    const sec = security();
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {}, child() { return logger; } };
    const executor = new KasminaExecutor({ verifier: sec.verifier, runSeed: 0, logger, onStageChanged: () => { throw new Error('listener down'); } });
    executor.attachHost(tinyHost());
    expect(await executor.applyCommand(sec.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp'))).toMatchObject({ applied: true });
    expect(executor.exportSeedStates()[0]!.stage).toBe(S.SEED_STAGE_GERMINATED);
    expect(warnings).toEqual(['seed:stage-changed listener failed']);
  });
});
