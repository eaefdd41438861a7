// Scenarios through the public surface, with real ONNX training on a tiny synthetic host.
import { SeedOperation } from '@esper/core/leyline';
import { OnnxRuntime } from '@esper/onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { KasminaExecutor, type SeedStageChange } from '../src/index.js';
import { security } from './fixtures/commands.js';
import { Harness, bytesOf } from './fixtures/harness.js';
import { batches, tinyHost } from './fixtures/tiny-host.js';

const Op = SeedOperation;
const runtime = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => runtime.dispose());

function setup(settings: ConstructorParameters<typeof KasminaExecutor>[0]['settings'] = {}) {
  const sec = security();
  const changes: SeedStageChange[] = [];
  const executor = new KasminaExecutor({ verifier: sec.verifier, runSeed: 42, clock: sec.clock, settings, onStageChanged: (c) => void changes.push(c) });
  const host = tinyHost();
  executor.attachHost(host);
  return { ...sec, executor, host, changes };
}

describe('grafting leaves the host function unchanged', () => {
  test('right after GERMINATE and in TRAINING the outputs are bit-identical to the host alone; after CULL they equal the host without the seed', async () => {
    const { executor, host, seed } = setup();
    const composed = new Harness(runtime, host, executor);
    const bare = new Harness(runtime, host);
    const [probe] = batches(1, 1, 32);
    const hostOut = await bare.evaluate(probe!);

    expect(await executor.applyCommand(seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp'))).toMatchObject({ applied: true });
    expect(await executor.applyCommand(seed(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp-wide'))).toMatchObject({ applied: true });
    expect(executor.topologyVersion).toBe(2);
    expect(Object.keys(executor.compose().seedParameters)).toEqual(['hidden1', 'hidden2']);
    let out = await composed.evaluate(probe!);
    expect(bytesOf(out.logits!).equals(bytesOf(hostOut.logits!))).toBe(true);
    expect(bytesOf(out.loss!).equals(bytesOf(hostOut.loss!))).toBe(true);

    // TRAINING: α = 0, straight-through. Train, then compare with the host alone at the same host values.
    await executor.applyCommand(seed(Op.SEED_OP_START_TRAINING, 'hidden1'));
    await composed.train(batches(2, 4));
    await bare.load(composed.parameters);
    out = await composed.evaluate(probe!);
    const hostNow = await bare.evaluate(probe!);
    expect(bytesOf(out.logits!).equals(bytesOf(hostNow.logits!))).toBe(true);

    // CULL: the seed leaves the graph; the composition is the host's (with the other seed at α = 0).
    await executor.applyCommand(seed(Op.SEED_OP_CULL, 'hidden1'));
    await executor.applyCommand(seed(Op.SEED_OP_CULL, 'hidden2'));
    expect(executor.topologyVersion).toBe(4);
    expect(executor.compose().graph).toBe(host.graph);
    expect(executor.compose().controlInputs).toEqual([]);
    out = await composed.evaluate(probe!);
    expect(bytesOf(out.logits!).equals(bytesOf(hostNow.logits!))).toBe(true);
    await composed.dispose();
    await bare.dispose();
  });
});

describe('a seed in TRAINING learns without touching the host', () => {
  test.each([
    ['adam, seed grafted before the first step', { kind: 'adam' } as const, 0],
    ['adam, seed grafted after 8 host-only steps (optimizer state carried)', { kind: 'adam' } as const, 2],
    ['SGD with momentum, seed grafted after 8 host-only steps', { kind: 'sgd', momentum: 0.9 } as const, 2],
  ])('%s: host parameters after N steps are bit-identical to the run without the seed; the seed changed', async (_name, optimizer, warmupChunks) => {
    const { executor, host, seed } = setup();
    const withSeed = new Harness(runtime, host, executor, { optimizer, lr: 0.05 });
    const without = new Harness(runtime, host, undefined, { optimizer, lr: 0.05 });
    const data = batches(3, 4 * (warmupChunks + 3));
    const chunks = Array.from({ length: data.length / 4 }, (_, i) => data.slice(4 * i, 4 * i + 4));
    for (const chunk of chunks.slice(0, warmupChunks)) {
      await withSeed.train(chunk);
      await without.train(chunk);
    }
    await executor.applyCommand(seed(Op.SEED_OP_GERMINATE, 'hidden2', 'residual-mlp', { hidden: 4 }));
    expect(await executor.applyCommand(seed(Op.SEED_OP_START_TRAINING, 'hidden2'))).toMatchObject({ applied: true });
    const seedNames = executor.compose().seedParameters.hidden2!;
    expect(seedNames).toEqual(['seed/hidden2/g1/down.w', 'seed/hidden2/g1/down.b', 'seed/hidden2/g1/up.w', 'seed/hidden2/g1/up.b']);
    const seedBefore = new Map(seedNames.map((n) => [n, withSeed.parameters.get(n).data.slice()]));
    expect(executor.controlFeeds()['seed/hidden2/in_gate']!.data).toEqual(Float32Array.of(0));

    for (const chunk of chunks.slice(warmupChunks)) {
      const a = await withSeed.train(chunk);
      const b = await without.train(chunk);
      expect(a.map((r) => r.loss)).toEqual(b.map((r) => r.loss));
      expect(a.map((r) => r.gradNorms.host)).toEqual(b.map((r) => r.gradNorms.global));
    }
    for (const name of host.graph.parameters.keys()) {
      expect(bytesOf(withSeed.parameters.get(name)).equals(bytesOf(without.parameters.get(name))), name).toBe(true);
    }
    for (const name of seedNames.filter((n) => n.endsWith('.w'))) {
      expect(bytesOf(withSeed.parameters.get(name)).equals(Buffer.from(seedBefore.get(name)!.buffer)), name).toBe(false);
    }
    const state = executor.exportSeedStates().find((s) => s.seedId === 'hidden2')!;
    expect(state.metrics.training_steps).toBe(12);
    expect(state.metrics.seed_grad_norm).toBeGreaterThan(0);
    expect(state.metrics.isolation_violations).toBe(0);
    await withSeed.dispose();
    await without.dispose();
  });
});
