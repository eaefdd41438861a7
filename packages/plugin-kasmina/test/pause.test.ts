// Seed pause and resume (COMMAND_PAUSE with a target; reference kasmina §7.8, decision 0068),
// through the public surface with real ONNX training on the tiny host.
import { create } from '@bufbuild/protobuf';
import { AdaptationCommandSchema, CommandType, SeedLifecycleStage, SeedOperation } from '@esper/core/leyline';
import { OnnxRuntime } from '@esper/onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { recordingExecutor } from './fixtures/recording.js';
import { Harness, bytesOf } from './fixtures/harness.js';
import { batches } from './fixtures/tiny-host.js';

const Op = SeedOperation;
const S = SeedLifecycleStage;
const runtime = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => runtime.dispose());

function setup() {
  const t = recordingExecutor({ blendingOptimizerSteps: 16 });
  const pause = (target: string, annotations: Record<string, string> = {}) =>
    t.executor.applyCommand(t.sign(create(AdaptationCommandSchema, { commandType: CommandType.COMMAND_PAUSE, targetSeedId: target, issuedBy: 'test', annotations })));
  const state = (id = 'hidden1') => t.executor.exportSeedStates().find((s) => s.seedId === id)!;
  const events = (name: string) => t.events(name).map((e) => e.attributes);
  return { ...t, pause, state, events };
}

describe('pausing a seed substitutes the identity', () => {
  test('a paused BLENDING seed leaves the host function, stands still, refuses lifecycle moves, and resumes where it stopped', async () => {
    const t = setup();
    const composed = new Harness(runtime, t.host, t.executor);
    const bare = new Harness(runtime, t.host);
    const [probe] = batches(1, 1, 32);
    await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp'));
    await t.executor.applyCommand(t.seed(Op.SEED_OP_START_TRAINING, 'hidden1'));
    await composed.train(batches(2, 4));
    expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_START_GRAFTING, 'hidden1'))).toMatchObject({ applied: true });
    await composed.train(batches(7, 4, 16));
    const alpha = t.state().metrics.alpha!;
    expect(alpha).toBeGreaterThan(0);
    // While blending the seed changes the output.
    await bare.load(composed.parameters);
    expect(bytesOf((await composed.evaluate(probe!)).logits!).equals(bytesOf((await bare.evaluate(probe!)).logits!))).toBe(false);

    const version = t.executor.topologyVersion;
    expect(await t.pause('hidden1')).toMatchObject({ applied: true });
    // Same graph; the seed's parameters are now frozen for the trainer (a new version, recompiled).
    expect(t.executor.topologyVersion).toBe(version + 1);
    expect(t.executor.compose().frozenParameters).toEqual(t.executor.compose().seedParameters.hidden1);
    expect(t.state()).toMatchObject({ stage: S.SEED_STAGE_BLENDING, metrics: expect.objectContaining({ paused: 1, alpha }) });
    expect(t.events('seed_paused')).toEqual([expect.objectContaining({ seed_id: 'hidden1', stage: 'SEED_STAGE_BLENDING' })]);
    // The control inputs are those of the model without the seed: bit-identical to the host alone.
    expect(t.executor.controlFeeds()).toEqual(t.executor.controlFeeds({ counterfactual: 'hidden1' }));
    await bare.load(composed.parameters);
    expect(bytesOf((await composed.evaluate(probe!)).logits!).equals(bytesOf((await bare.evaluate(probe!)).logits!))).toBe(true);

    // Training on: α and the blending clock stand still, the seed's parameters do not move (no optimizer update).
    const seedNames = t.executor.compose().seedParameters.hidden1!;
    const before = composed.parameters;
    await composed.train(batches(9, 4, 16));
    const after = composed.parameters;
    expect(t.state().metrics).toMatchObject({ alpha, paused: 1 });
    for (const name of seedNames) expect(bytesOf(after.get(name)).equals(bytesOf(before.get(name))), name).toBe(true);
    // Lifecycle moves wait for a resume.
    expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_STABILIZE, 'hidden1'))).toMatchObject({ applied: false, reason: expect.stringMatching(/^seed_paused:hidden1: resume it first/) });

    // Resume (the annotation is read case-insensitively): its own controls return, α advances again.
    expect(await t.pause('hidden1', { resume: 'TRUE' })).toMatchObject({ applied: true });
    expect(t.events('seed_resumed')).toEqual([expect.objectContaining({ seed_id: 'hidden1', blueprint_id: 'residual-mlp', cache: 'hit' })]);
    expect(t.state().metrics.paused).toBe(0);
    expect(t.executor.topologyVersion).toBe(version + 2);
    expect(t.executor.compose().frozenParameters).toBeUndefined();
    await composed.train(batches(11, 4, 16));
    expect(t.state().metrics.alpha!).toBeGreaterThan(alpha);
    await bare.load(composed.parameters);
    expect(bytesOf((await composed.evaluate(probe!)).logits!).equals(bytesOf((await bare.evaluate(probe!)).logits!))).toBe(false);
    await composed.dispose();
    await bare.dispose();
  });

  test('a paused seed can be culled, and the slot comes back unpaused', async () => {
    const t = setup();
    await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp'));
    expect(await t.pause('hidden1', { resume: 'false' })).toMatchObject({ applied: true });
    expect(await t.executor.applyCommand(t.seed(Op.SEED_OP_CULL, 'hidden1'))).toMatchObject({ applied: true });
    expect(t.state()).toMatchObject({ stage: S.SEED_STAGE_EMBARGOED, metrics: expect.objectContaining({ paused: 0 }) });
    expect(Object.keys(t.executor.controlFeeds())).toEqual([]);
  });

  test('pause and resume are idempotent; free slots and unknown seeds are refused with a reason', async () => {
    const t = setup();
    expect(await t.pause('hidden1')).toMatchObject({ applied: false, reason: 'not_grafted:hidden1: a SEED_STAGE_DORMANT slot has no seed to pause' });
    expect(await t.pause('hidden9')).toMatchObject({ applied: false, reason: 'unknown_seed:hidden9' });
    expect(t.events('seed_operation_rejected').map((e) => e.operation)).toEqual(['pause', 'pause']);
    await t.executor.applyCommand(t.seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp'));
    expect(await t.pause('hidden1')).toMatchObject({ applied: true });
    expect(await t.pause('hidden1')).toMatchObject({ applied: true });
    expect(t.state().metrics.paused).toBe(1);
    expect(await t.pause('hidden1', { resume: 'true' })).toMatchObject({ applied: true });
    expect(await t.pause('hidden1', { resume: 'true' })).toMatchObject({ applied: true });
    expect(t.state().metrics.paused).toBe(0);
    // The empty target is still the growth loop's WAIT.
    expect(await t.executor.applyCommand(t.wait())).toMatchObject({ applied: true });
    const last = t.packets.at(-1)!;
    expect(last.metrics.find((m) => m.name === 'kasmina.seeds.paused')?.value).toBe(0);
  });
});
