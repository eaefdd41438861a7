// The kasmina() plugin in a real run: ports, config, signed commands, lifecycle events, telemetry.
import { Tokens, definePlugin } from '@esper/core';
import { startTestRun } from '@esper/core/testing';
import { create } from '@bufbuild/protobuf';
import { AdaptationCommandSchema, CommandSeedOperationSchema, CommandType, SeedLifecycleStage, SeedOperation } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { KasminaExecutor, kasmina, kasminaPluginSchema } from '../src/index.js';
import { tinyHost } from './fixtures/tiny-host.js';

const S = SeedLifecycleStage;

/** A plugin that records the seed:stage-changed lifecycle event. */
function recorder(into: unknown[]) {
  return definePlugin({
    name: 'test-stage-recorder',
    configKey: 'stageRecorder',
    setup: () => ({ onSeedStageChanged: (payload) => void into.push(payload) }),
  });
}

const germinate = (target: string, blueprintId: string) =>
  create(AdaptationCommandSchema, {
    commandType: CommandType.COMMAND_SEED,
    targetSeedId: target,
    payload: { case: 'seedOperation', value: create(CommandSeedOperationSchema, { operation: SeedOperation.SEED_OP_GERMINATE, blueprintId }) },
  });

describe('kasmina()', () => {
  test('provides the SeedExecutor and the BlueprintCatalog; commands signed by the run CommandSigner apply; stage changes are lifecycle events', async () => {
    const stages: unknown[] = [];
    await using run = await startTestRun({ plugins: [kasmina({ embargoEpochs: 1 }), recorder(stages)], config: { run: { seed: 11 } } });
    const executor = run.resolve(Tokens.SeedExecutor);
    expect(executor).toBeInstanceOf(KasminaExecutor);
    expect(run.resolve(Tokens.BlueprintCatalog).list().map((d) => d.blueprintId)).toEqual(['residual-mlp', 'residual-mlp-wide']);
    executor.attachHost(tinyHost());
    const signer = run.resolve(Tokens.CommandSigner);
    const command = signer.sign(germinate('hidden1', 'residual-mlp'));
    expect(await executor.applyCommand(command)).toMatchObject({ applied: true });
    expect(await executor.applyCommand(command)).toMatchObject({ applied: false, reason: 'nonce_replayed' });
    expect(await executor.applyCommand(germinate('hidden2', 'residual-mlp'))).toMatchObject({ applied: false, reason: 'missing_signature' });
    expect(stages).toEqual([{ seedId: 'hidden1', from: S.SEED_STAGE_DORMANT, to: S.SEED_STAGE_GERMINATED, epoch: 0, blueprintId: 'residual-mlp', reason: 'SEED_OP_GERMINATE' }]);
    // Seeded with the run seed: the same run seed gives the same seed parameters.
    const down = executor.compose().graph.initializers.get('seed/hidden1/g1/down.w')!.data;
    const again = new KasminaExecutor({ verifier: { verify: () => ({ ok: true }) }, runSeed: 11 });
    again.attachHost(tinyHost());
    await again.applyCommand(germinate('hidden1', 'residual-mlp'));
    expect(again.compose().graph.initializers.get('seed/hidden1/g1/down.w')!.data).toEqual(down);
    const kasminaPackets = run.telemetry.filter((t) => t.packet.sourceSubsystem === 'kasmina');
    expect(kasminaPackets.flatMap((t) => t.packet.events.map((e) => e.description))).toEqual(
      expect.arrayContaining(['seed_operation', 'gate_event', 'seed_stage', 'command_rejected']),
    );
  });

  test('its options: defaults, env overrides, unknown keys rejected', async () => {
    const options = kasminaPluginSchema.parse({});
    expect(options).toMatchObject({ blendingOptimizerSteps: 200, alphaRamp: 'linear', embargoEpochs: 2, maxLossRatio: 1.5, latencyBudgetMs: 10 });
    await using run = await startTestRun({ plugins: [kasmina()], env: { KASMINA_BLENDING_OPTIMIZER_STEPS: '64' } });
    expect((run.resolve(Tokens.SeedExecutor) as KasminaExecutor).settings).toMatchObject({ blendingOptimizerSteps: 64, embargoEpochs: 2, sigmoidTemperatureRatio: 0.1 });
    await using tuned = await startTestRun({ plugins: [kasmina({ confidenceGate: { gateK: 2, alphaHi: 0.8 } })] });
    expect((tuned.resolve(Tokens.SeedExecutor) as KasminaExecutor).settings.confidenceGate).toEqual({ gateK: 2, gateTau: 0.2, alphaLo: 0, alphaHi: 0.8 });
    await expect(startTestRun({ plugins: [kasmina()], config: { kasmina: { blendSteps: 3 } } })).rejects.toThrow(/blendSteps/);
    expect(() => kasminaPluginSchema.parse({ alphaRamp: 'cosine' })).toThrow();
  });
});
