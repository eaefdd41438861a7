// A seed walks to FOSSILIZED through real training; another is culled and its slot comes back.
import { SeedLifecycleStage, SeedOperation, TelemetryLevel, type TelemetryPacket } from '@esper/core/leyline';
import { OnnxRuntime } from '@esper/onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { KasminaExecutor, type SeedStageChange } from '../src/index.js';
import { security } from './fixtures/commands.js';
import { Harness } from './fixtures/harness.js';
import { batches, tinyHost } from './fixtures/tiny-host.js';

const S = SeedLifecycleStage;
const Op = SeedOperation;
const runtime = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => runtime.dispose());

const stageOf = (executor: KasminaExecutor, id: string) => executor.exportSeedStates().find((s) => s.seedId === id)!;

describe('the growth lifecycle with real training', () => {
  test('hidden1 blends in and fossilizes; hidden2 is culled, embargoed, and its slot returns to DORMANT', async () => {
    const sec = security();
    const changes: SeedStageChange[] = [];
    const packets: TelemetryPacket[] = [];
    const executor = new KasminaExecutor({
      verifier: sec.verifier,
      runSeed: 5,
      clock: sec.clock,
      settings: { blendingOptimizerSteps: 8, embargoEpochs: 1 },
      onStageChanged: async (c) => {
        await Promise.resolve();
        changes.push(c);
      },
      telemetry: { emit: (p) => void packets.push(p) },
    });
    const host = tinyHost();
    executor.attachHost(host);
    const harness = new Harness(runtime, host, executor);
    const data = batches(9, 40);
    let next = 0;
    const chunk = () => data.slice(next, (next += 4));
    const apply = async (op: SeedOperation, target: string, blueprint = '') => executor.applyCommand(sec.seed(op, target, blueprint));

    // Epoch 0: both slots germinate and start training.
    expect(executor.exportSeedStates().map((s) => [s.seedId, s.stage])).toEqual([['hidden1', S.SEED_STAGE_DORMANT], ['hidden2', S.SEED_STAGE_DORMANT]]);
    expect(await apply(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp')).toMatchObject({ applied: true });
    expect(await apply(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp-wide')).toMatchObject({ applied: true });
    expect(await apply(Op.SEED_OP_START_TRAINING, 'hidden1')).toMatchObject({ applied: true });
    expect(await apply(Op.SEED_OP_START_TRAINING, 'hidden2')).toMatchObject({ applied: true });
    await harness.train(chunk());
    await harness.train(chunk());

    // Epoch 1: hidden1 → BLENDING; α moves strictly inside (0, 1), STABILIZE waits for α = 1.
    harness.epoch = 1;
    await executor.updateEpoch(1);
    expect(stageOf(executor, 'hidden1').metrics.epochs_in_stage).toBe(1);
    expect(await apply(Op.SEED_OP_START_GRAFTING, 'hidden1')).toMatchObject({ applied: true });
    expect(executor.controlFeeds()['seed/hidden1/alpha']!.data).toEqual(Float32Array.of(0));
    await harness.train(chunk());
    const alpha = stageOf(executor, 'hidden1').metrics.alpha!;
    expect(alpha).toBeGreaterThan(0);
    expect(alpha).toBeLessThan(1);
    expect(alpha).toBe(0.5);
    expect(executor.controlFeeds()['seed/hidden1/alpha']!.data).toEqual(Float32Array.of(0.5));
    expect(await apply(Op.SEED_OP_STABILIZE, 'hidden1')).toMatchObject({ applied: false, reason: 'alpha_not_reached: alpha 0.5000 < 1 after 4 of 8 blending steps' });
    expect(stageOf(executor, 'hidden1').stage).toBe(S.SEED_STAGE_BLENDING);
    await harness.train(chunk());
    expect(stageOf(executor, 'hidden1').metrics.alpha).toBe(1);

    // hidden2 is culled: it leaves the graph at once.
    const before = executor.topologyVersion;
    expect(await apply(Op.SEED_OP_CULL, 'hidden2')).toMatchObject({ applied: true });
    expect(executor.topologyVersion).toBe(before + 1);
    expect(stageOf(executor, 'hidden2').stage).toBe(S.SEED_STAGE_EMBARGOED);
    expect(Object.keys(executor.compose().seedParameters)).toEqual(['hidden1']);
    expect(await apply(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp')).toMatchObject({ applied: false, reason: 'illegal_transition:SEED_STAGE_EMBARGOED->SEED_STAGE_GERMINATED' });
    await harness.train(chunk());

    // Epoch 2: hidden1 stabilizes, is evaluated and fossilizes; the embargo of hidden2 ends.
    harness.epoch = 2;
    await executor.updateEpoch(2);
    expect(stageOf(executor, 'hidden2').stage).toBe(S.SEED_STAGE_DORMANT);
    expect(executor.blueprintOf('hidden2')).toBeUndefined();
    expect(await apply(Op.SEED_OP_STABILIZE, 'hidden1')).toMatchObject({ applied: true });
    await harness.train(chunk());
    expect(await apply(Op.SEED_OP_EVALUATE, 'hidden1')).toMatchObject({ applied: true });
    await harness.train(chunk());
    expect(await apply(Op.SEED_OP_FOSSILIZE, 'hidden1')).toMatchObject({ applied: true });
    expect(stageOf(executor, 'hidden1').stage).toBe(S.SEED_STAGE_FOSSILIZED);
    // A fossilized seed stays in the graph with α = 1 and keeps training with the host.
    expect(executor.compose().seedParameters.hidden1).toHaveLength(4);
    expect(executor.controlFeeds()['seed/hidden1/alpha']!.data).toEqual(Float32Array.of(1));
    const results = await harness.train(chunk());
    expect(Number.isFinite(results[3]!.loss)).toBe(true);
    expect(await apply(Op.SEED_OP_CULL, 'hidden1')).toMatchObject({ applied: false, reason: 'illegal_transition:SEED_STAGE_FOSSILIZED->SEED_STAGE_CULLED' });

    // The freed slot takes a new seed, with new parameter names (generation 2).
    expect(await apply(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp')).toMatchObject({ applied: true });
    expect(executor.compose().seedParameters.hidden2![0]).toBe('seed/hidden2/g2/down.w');
    await harness.train(chunk());

    const path = (id: string) => changes.filter((c) => c.seedId === id).map((c) => `${S[c.to]}@${c.epoch}`);
    expect(path('hidden1')).toEqual([
      'SEED_STAGE_GERMINATED@0', 'SEED_STAGE_TRAINING@0', 'SEED_STAGE_BLENDING@1', 'SEED_STAGE_SHADOWING@2', 'SEED_STAGE_PROBATIONARY@2', 'SEED_STAGE_FOSSILIZED@2',
    ]);
    expect(path('hidden2')).toEqual([
      'SEED_STAGE_GERMINATED@0', 'SEED_STAGE_TRAINING@0', 'SEED_STAGE_CULLED@1', 'SEED_STAGE_EMBARGOED@1', 'SEED_STAGE_RESETTING@2', 'SEED_STAGE_DORMANT@2', 'SEED_STAGE_GERMINATED@2',
    ]);
    expect(changes.find((c) => c.seedId === 'hidden2' && c.to === S.SEED_STAGE_CULLED)).toMatchObject({ from: S.SEED_STAGE_TRAINING, blueprintId: 'residual-mlp-wide', reason: 'SEED_OP_CULL' });
    expect(changes.find((c) => c.to === S.SEED_STAGE_FOSSILIZED)).toMatchObject({ seedId: 'hidden1', blueprintId: 'residual-mlp', reason: 'SEED_OP_FOSSILIZE' });

    // Every gate passed on entry, and said so in telemetry.
    const gateEvents = packets.flatMap((p) => p.events).filter((e) => e.description === 'gate_event');
    expect(gateEvents.filter((e) => e.attributes.seed_id === 'hidden1').map((e) => [e.attributes.gate, e.attributes.passed])).toEqual([
      ['SEED_GATE_G0_SANITY', 'true'], ['SEED_GATE_G1_GRADIENT_HEALTH', 'true'], ['SEED_GATE_G2_STABILITY', 'true'], ['SEED_GATE_G3_INTERFACE', 'true'], ['SEED_GATE_G4_SYSTEM_IMPACT', 'true'],
    ]);
    expect(gateEvents.some((e) => e.attributes.gate === 'SEED_GATE_G5_RESET' && e.attributes.passed === 'true')).toBe(true);
    expect(packets.every((p) => p.sourceSubsystem === 'kasmina')).toBe(true);
    const states = executor.exportSeedStates();
    expect(states.map((s) => s.layerDepth)).toEqual([1, 2]);
    expect(stageOf(executor, 'hidden1').metrics).toMatchObject({ alpha: 1, blend_steps: 12, training_steps: 8, isolation_violations: 0, parameters: 8 * 2 * 2 + 2 + 8 });
    expect(stageOf(executor, 'hidden1').ageEpochs).toBe(2);
    expect(packets.flatMap((p) => p.events).every((e) => e.level !== TelemetryLevel.ERROR)).toBe(true);
    await harness.dispose();
  });
});
