// tolaria() in a real run of the kernel, next to test plugins that provide the Controller and
// SeedExecutor ports: real MNIST digits (a subset), a few epochs, a sane accuracy.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger, createEsper, definePlugin, Tokens, type EsperEvents } from '@esper/core';
import { afterEach, describe, expect, it } from 'vitest';
import { tolaria } from '../src/index.js';
import { ScriptedController, TestExecutor } from './fixtures.js';

const executorPlugin = (executor: TestExecutor) =>
  definePlugin({
    name: 'test-executor',
    configKey: 'testExecutor',
    provides: [Tokens.SeedExecutor],
    setup(ctx) {
      ctx.provideValue(Tokens.SeedExecutor, executor);
    },
  });
const controllerPlugin = (controller: ScriptedController) =>
  definePlugin({
    name: 'test-controller',
    configKey: 'testController',
    provides: [Tokens.Controller],
    setup(ctx) {
      ctx.provideValue(Tokens.Controller, controller);
    },
  });

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe('tolaria() in a run', () => {
  it('trains the MNIST MLP host on real digits to a sane accuracy, with checkpoints in the run directory', async () => {
    const executor = new TestExecutor();
    const dir = mkdtempSync(join(tmpdir(), 'tolaria-run-'));
    const run = await createEsper({
      run: { dir, seed: 7 },
      plugins: [tolaria({ maxEpochs: 3, dataset: { trainSize: 4_000, validationSize: 1_000 } }), executorPlugin(executor), controllerPlugin(new ScriptedController())],
    }, { logger: new JsonLogger({ write: () => {} }) }).start({ runId: 'mnist-run' });
    stops.push(() => run.stop());
    const steps: EsperEvents['step:end'][] = [];
    run.events.on('step:end', (e) => {
      steps.push(e);
    });
    const ends: number[] = [];
    run.events.on('epoch:end', (e) => {
      ends.push(e.epoch);
    });

    const trainer = run.resolve(Tokens.Trainer);
    const accuracies: number[] = [];
    for await (const packet of trainer.run()) accuracies.push(packet.validationAccuracy);

    expect(accuracies).toHaveLength(3);
    expect(accuracies[2]!).toBeGreaterThan(90);
    expect(ends).toEqual([0, 1, 2]);
    // 4 000 / 64 = 62 steps per epoch in runs of K = 25: 25, 25, 12.
    expect(steps.slice(0, 3).map((s) => s.globalStep)).toEqual([25, 50, 62]);
    expect(executor.host?.slots.map((s) => [s.id, s.features, s.depth])).toEqual([['hidden1', 128, 1], ['hidden2', 128, 2]]);
    const m = trainer.metricsSnapshot();
    expect(m['tolaria.parameters_initial']).toBe(784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10);
    expect(m['tolaria.global_step']).toBe(186);
    for (const epoch of [0, 1, 2]) expect(existsSync(join(dir, 'mnist-run', 'checkpoints', `epoch-${epoch}.ckpt`))).toBe(true);
  }, 120_000);

  it('validates its options with the config: unknown keys and bad values are errors with the path', () => {
    expect(() => createEsper({ plugins: [tolaria({ maxEpochs: 1, training: { stepsPerRun: 0 } })] })).toThrow(/tolaria\.training\.stepsPerRun/);
    expect(() => createEsper({ plugins: [tolaria({ maxEpochs: 1, dataset: { name: 'cifar' as 'mnist' } })] })).toThrow(/tolaria\.dataset\.name/);
  });
});
