import { create } from '@bufbuild/protobuf';
import { CommandVerifier, LeylineSigner, ManualClock, SystemClock, Tokens } from '@esper/core';
import { CommandType, SeedOperation, SeedStateSchema, SystemStatePacketSchema, type MessagePriority, type SystemStatePacket, type TelemetryPacket } from '@esper/core/leyline';
import { startTestRun } from '@esper/core/testing';
import { OnnxRuntime, serializeModel, type Feeds } from '@esper/onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { OnnxPolicyBackend, onnxRunnerFactory, type PolicyFallbackEvent, type PolicyRunnerFactory } from '../src/backends/onnx-backend.js';
import { GnnController } from '../src/gnn/controller.js';
import { DeferredGnnController } from '../src/gnn/plugin-glue.js';
import { PolicyGraphBuilder } from '../src/graph/builder.js';
import { hmacCommandSigning } from '../src/heuristic/commands.js';
import { tamiyo } from '../src/index.js';
import { REFERENCE_DIMS, initPolicyWeights, type PolicyDims } from '../src/policy/architecture.js';
import { decodeDecision, neutralDecision } from '../src/policy/decode.js';
import { buildPolicyGraph } from '../src/policy/graph.js';
import { packGraph, warmUpGraph } from '../src/policy/pack.js';
import { loadPolicyWeights, savePolicyWeights } from '../src/policy/weights.js';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SMALL: PolicyDims = { ...REFERENCE_DIMS, sageHidden: 16, gatHidden: 8, heads: 2, headHidden: 8 };
const DORMANT = 1;
const TRAINING = 3;
const BLENDING = 4;

function packet(stages: number[], epoch = 4): SystemStatePacket {
  return create(SystemStatePacketSchema, {
    version: 1,
    currentEpoch: epoch,
    validationLoss: 0.3,
    trainingRunId: 'run-gnn',
    packetId: `run-gnn-${epoch}`,
    trainingMetrics: { val_loss: 0.3, val_accuracy: 91 },
    seedStates: stages.map((stage, i) => create(SeedStateSchema, { seedId: `slot${i}`, stage, layerDepth: i + 1 })),
  });
}

const runtime = new OnnxRuntime();
afterAll(() => runtime.dispose());

/** A controller on SMALL dims with a recording telemetry sink and a real HMAC signer. */
async function harness(options: { createRunner?: PolicyRunnerFactory; devices?: ('cpu' | 'cuda' | 'webgpu')[]; stepTimeoutMs?: number; seed?: number; worker?: boolean } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const signer = new LeylineSigner('gnn-test-secret');
  const telemetry: { packet: TelemetryPacket; priority: MessagePriority }[] = [];
  const fallbacks: PolicyFallbackEvent[] = [];
  const backend = new OnnxPolicyBackend({
    devices: options.devices ?? ['cpu'],
    worker: options.worker ?? false,
    warmUpFeeds: packGraph(warmUpGraph(), SMALL),
    onFallback: (e) => fallbacks.push(e),
    ...(options.createRunner ? { createRunner: options.createRunner } : {}),
  });
  const controller = await GnnController.create({
    weights: initPolicyWeights(options.seed ?? 11, SMALL),
    dims: SMALL,
    backend,
    signer: hmacCommandSigning(signer, clock),
    blueprints: ['BP001', 'BP002'],
    stepTimeoutMs: options.stepTimeoutMs ?? 0,
    clock: new SystemClock(),
    telemetry: {
      emit: (p, priority) => {
        telemetry.push({ packet: p, priority });
        return Promise.resolve();
      },
    },
  });
  return { controller, telemetry, fallbacks, verifier: new CommandVerifier({ signer, clock }) };
}

describe('policy decoding', () => {
  const graph = new PolicyGraphBuilder().build(packet([BLENDING, BLENDING, BLENDING]), 'BP001');
  const ctx = { packet: packet([DORMANT, DORMANT, DORMANT]), graph, policyVersion: 'tamiyo_gnn_v1' };
  const logits = (k: number) => Float32Array.from({ length: 32 }, (_, i) => (i === k ? 8 : 0));
  const outputs = (k: number) => ({
    policy_logits: logits(k),
    policy_params: [0.2, 0, 0, 0],
    param_delta: [0.2],
    blending_logits: [0, 3, 1],
    schedule_params: [1.5, -2.5],
    risk_logits: [0, 0, 2, 0, 0],
    value: [0.25],
    breaker_logits: [0, 1],
    seed_scores: [0.1, 2.5, 0.4],
    blueprint_scores: [0.3],
  });

  test('action 0 → SEED GERMINATE of the best-scored free seed with the blueprint node, α, method and schedule', () => {
    const { command, lastAction } = decodeDecision(outputs(0), ctx);
    expect(command.commandType).toBe(CommandType.COMMAND_SEED);
    expect(command.targetSeedId).toBe('slot1');
    expect(command.payload.case).toBe('seedOperation');
    const op = command.payload.value as { operation: SeedOperation; blueprintId: string; parameters: Record<string, number> };
    expect(op.operation).toBe(SeedOperation.SEED_OP_GERMINATE);
    expect(op.blueprintId).toBe('BP001');
    expect(op.parameters.alpha).toBeCloseTo(0.3);
    expect(op.parameters.blending_method_index).toBe(1);
    expect(command.annotations).toMatchObject({ blending_method: 'cosine', blending_schedule_units: 'fraction_0_1', policy_action: '0', decision: 'germinate', selected_seed: 'slot1' });
    const start = Number(command.annotations.blending_schedule_start);
    const end = Number(command.annotations.blending_schedule_end);
    expect(0 <= start && start <= end && end <= 1).toBe(true);
    expect(lastAction.riskIndex).toBe(2);
    expect(lastAction.valueEstimate).toBeCloseTo(0.25);
  });

  test('a graft only targets a DORMANT seed; with none free it is a WAIT with no_seed_candidates', () => {
    const busy = { ...ctx, packet: packet([DORMANT, TRAINING, DORMANT]) };
    expect(decodeDecision(outputs(0), busy).command.targetSeedId).toBe('slot2');
    const full = decodeDecision(outputs(0), { ...ctx, packet: packet([TRAINING, TRAINING, TRAINING]) }).command;
    expect(full.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(full.targetSeedId).toBe('');
    expect(full.annotations).toMatchObject({ decision: 'wait', risk_reason: 'no_seed_candidates', policy_action: '0' });
  });

  test('actions 1, 3, 4 and 17 → OPTIMIZER, breaker open/close, PAUSE (raw class kept in policy_action)', () => {
    expect(decodeDecision(outputs(1), ctx).command.commandType).toBe(CommandType.COMMAND_OPTIMIZER);
    expect(decodeDecision(outputs(3), ctx).command.commandType).toBe(CommandType.COMMAND_CIRCUIT_BREAKER);
    expect(decodeDecision(outputs(4), ctx).command.commandType).toBe(CommandType.COMMAND_CIRCUIT_BREAKER);
    const pause = decodeDecision(outputs(17), ctx).command;
    expect(pause.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(pause.annotations).toMatchObject({ policy_action: '17', reason: 'policy', decision: 'wait' });
  });

  test('fallback seed scores when the model gives none', () => {
    const g = new PolicyGraphBuilder().build(packet([DORMANT, BLENDING, DORMANT]), 'BP001');
    const { lastAction } = decodeDecision({ ...outputs(2), seed_scores: [] }, { ...ctx, graph: g, packet: packet([DORMANT, BLENDING, DORMANT]) });
    expect(lastAction.selectedSeedIndex).toBe(1);
  });

  test('the neutral PAUSE of the no-seed fast path', () => {
    const { command, lastAction } = neutralDecision({ packet: packet([]), policyVersion: 'v' }, 'no_seed_candidates');
    expect(command.annotations).toMatchObject({ policy_action: '2', policy_param_delta: '0.000000', policy_risk_score: '0.000000', risk_reason: 'no_seed_candidates' });
    expect(lastAction.selectedSeedIndex).toBe(-1);
  });
});

describe('policy weights', () => {
  test('seeded: the same seed gives the same weights and outputs; another seed differs; evaluation is deterministic', async () => {
    const graph = new PolicyGraphBuilder().build(packet([DORMANT, TRAINING]), 'BP001');
    const feeds = packGraph(graph, SMALL);
    const run = async (seed: number) => {
      const s = await runtime.createSession(buildPolicyGraph(initPolicyWeights(seed, SMALL), SMALL));
      return [[...((await s.run(feeds)).risk_logits!.data as Float32Array)], [...((await s.run(feeds)).risk_logits!.data as Float32Array)]];
    };
    const [a1, a2] = await run(5);
    const [b1] = await run(5);
    const [c1] = await run(6);
    expect(a2).toEqual(a1);
    expect(b1).toEqual(a1);
    expect(c1).not.toEqual(a1);
  });

  test('weights round-trip through a checkpoint file; foreign or damaged files are ESPER_TAMIYO_POLICY_WEIGHTS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tamiyo-weights-'));
    const w = initPolicyWeights(3, SMALL);
    await savePolicyWeights(join(dir, 'policy.ckpt'), w, SMALL);
    const loaded = await loadPolicyWeights(join(dir, 'policy.ckpt'), SMALL);
    expect(serializeModel(buildPolicyGraph(loaded, SMALL))).toEqual(serializeModel(buildPolicyGraph(w, SMALL)));
    writeFileSync(join(dir, 'junk.ckpt'), 'not a checkpoint');
    await expect(loadPolicyWeights(join(dir, 'junk.ckpt'), SMALL)).rejects.toMatchObject({ code: 'ESPER_TAMIYO_POLICY_WEIGHTS' });
    await expect(loadPolicyWeights(join(dir, 'policy.ckpt'))).rejects.toMatchObject({ code: 'ESPER_TAMIYO_POLICY_WEIGHTS' });
  });
});

describe('GnnController', () => {
  test('an untrained policy grafts a free seed; the command verifies; telemetry has the warm-up metric', async () => {
    const { controller, telemetry, verifier } = await harness();
    const command = await controller.evaluateEpoch(packet([TRAINING, DORMANT]));
    expect(command.commandType).toBe(CommandType.COMMAND_SEED);
    expect(command.targetSeedId).toBe('slot1');
    expect(verifier.verify(command)).toEqual({ ok: true });
    const metrics = telemetry[0]!.packet.metrics.map((m) => m.name);
    expect(metrics).toEqual(expect.arrayContaining(['tamiyo.gnn.compile_warm_ms', 'tamiyo.gnn.inference_ms', 'tamiyo.decision.latency_ms']));
    expect(telemetry[0]!.packet.metrics.find((m) => m.name === 'tamiyo.gnn.compile_warm_ms')!.value).toBeGreaterThan(0);
    // The blueprint node moves on after a germination.
    expect(controller.currentBlueprint).toBe('BP002');
    await controller.dispose();
  });

  test('a seedless packet takes the fast path: WAIT with no_seed_candidates, no inference', async () => {
    const { controller } = await harness();
    const command = await controller.evaluateStep(packet([]));
    expect(command.annotations).toMatchObject({ decision: 'wait', risk_reason: 'no_seed_candidates', policy_action: '2' });
    await controller.dispose();
  });

  test('a GPU that fails at run time falls back to CPU and KEEPS the CPU result (not a spurious PAUSE)', async () => {
    const cpu = onnxRunnerFactory({ worker: false });
    let gpuRuns = 0;
    const createRunner: PolicyRunnerFactory = async (device, model) => {
      if (device === 'cpu') return cpu(device, model);
      // A "GPU" whose warm-up works and whose decision runs fail.
      const real = await cpu('cpu', model);
      return {
        device,
        run: (feeds: Feeds, o) => (++gpuRuns > 1 ? Promise.reject(new Error('CUDA error: an illegal memory access was encountered')) : real.run(feeds, o)),
        dispose: () => real.dispose(),
      };
    };
    const { controller, telemetry, fallbacks } = await harness({ devices: ['cuda', 'cpu'], createRunner });
    expect(controller.session.device).toBe('cuda');
    const command = await controller.evaluateEpoch(packet([DORMANT, DORMANT]));
    expect(command.commandType).toBe(CommandType.COMMAND_SEED);
    expect(controller.session.device).toBe('cpu');
    expect(fallbacks).toEqual([expect.objectContaining({ from: 'cuda', to: 'cpu', phase: 'run' })]);
    expect(telemetry[0]!.packet.metrics.find((m) => m.name === 'tamiyo.gnn.compile_fallback_total')?.value).toBe(1);
    expect(telemetry[0]!.packet.systemHealth?.indicators.policy_device).toBe('cpu');
    await controller.dispose();
  });

  test('devices that cannot load (no CUDA or WebGPU here) fall back to CPU at load, counted', async () => {
    const { controller, fallbacks } = await harness({ devices: ['cuda', 'webgpu', 'cpu'] });
    if (controller.session.device === 'cpu') {
      expect(fallbacks.length).toBeGreaterThanOrEqual(1);
      expect(controller.session.fallbacks).toBe(fallbacks.length);
    }
    expect((await controller.evaluateEpoch(packet([DORMANT]))).commandType).toBe(CommandType.COMMAND_SEED);
    await controller.dispose();
  });

  test('P1: a decision past the step budget is the timeout PAUSE with a HIGH timeout_inference packet; the late result changes nothing', async () => {
    const cpu = onnxRunnerFactory({ worker: false });
    let slow = false;
    const createRunner: PolicyRunnerFactory = async (device, model) => {
      const real = await cpu(device, model);
      return { device, run: async (f, o) => (slow ? new Promise((r) => setTimeout(() => r(real.run(f, o)), 60)) : real.run(f, o)), dispose: () => real.dispose() };
    };
    const { controller, telemetry } = await harness({ createRunner, stepTimeoutMs: 5 });
    const before = controller.lastAction;
    slow = true;
    const started = performance.now();
    const command = await controller.evaluateStep(packet([DORMANT]));
    expect(performance.now() - started).toBeLessThan(45);
    expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(command.annotations).toMatchObject({ policy_action: 'timeout', policy_param_delta: '0.0', risk_reason: 'timeout_inference', decision: 'wait' });
    const last = telemetry.at(-1)!;
    expect(last.packet.events.map((e) => e.description)).toContain('timeout_inference');
    expect(last.packet.events.find((e) => e.description === 'timeout_inference')!.attributes.budget_ms).toBe('5.0');
    expect(last.packet.systemHealth?.indicators.priority).toBe('MESSAGE_PRIORITY_HIGH');
    await new Promise((r) => setTimeout(r, 100));
    expect(controller.lastAction).toBe(before);
    // The epoch path has no step budget; the timeout entered conservative mode, so the decision is
    // a conservative PAUSE until three stable decisions in a row (decision 0059), then the graft.
    const held = await controller.evaluateEpoch(packet([DORMANT]));
    expect(held.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(held.annotations.risk_reason).toBe('conservative_mode');
    await controller.evaluateEpoch(packet([DORMANT]));
    await controller.evaluateEpoch(packet([DORMANT]));
    expect((await controller.evaluateEpoch(packet([DORMANT]))).commandType).toBe(CommandType.COMMAND_SEED);
    await controller.dispose();
  });

  test('P1 on a real worker: a tiny budget abandons the run and returns within it; the next decision still works', async () => {
    const { controller } = await harness({ worker: true, stepTimeoutMs: 0.01 });
    const started = performance.now();
    const command = await controller.evaluateStep(packet([DORMANT, DORMANT, DORMANT, DORMANT]));
    expect(performance.now() - started).toBeLessThan(40);
    expect(command.annotations.risk_reason, JSON.stringify(command.annotations)).toBe('timeout_inference');
    // The next decision runs the policy (its answer is the conservative PAUSE after a timeout).
    const next = await controller.evaluateEpoch(packet([DORMANT]));
    expect(next.annotations).toMatchObject({ policy_action: '0', risk_reason: 'conservative_mode' });
    await controller.dispose();
  });

  test('a caller deadline aborts evaluateEpoch with its reason', async () => {
    const { controller } = await harness();
    const abort = new AbortController();
    abort.abort(new Error('tolaria deadline'));
    await expect(controller.evaluateEpoch(packet([DORMANT]), { signal: abort.signal })).rejects.toThrow('tolaria deadline');
    await controller.dispose();
  });
});

describe('tamiyo({ controller: "gnn" })', () => {
  test('boots with the reference-size policy, decides, signs with the run signer and persists its normaliser and registries', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tamiyo-gnn-run-'));
    let registryDir = '';
    {
      await using t = await startTestRun({
        plugins: [tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'] } })],
        config: { run: { dir } },
      });
      const controller = t.resolve(Tokens.Controller);
      expect(controller).toBeInstanceOf(DeferredGnnController);
      const command = await controller.evaluateEpoch(packet([DORMANT, TRAINING]));
      expect(command.commandType).toBe(CommandType.COMMAND_SEED);
      expect(command.payload.case === 'seedOperation' && command.payload.value.blueprintId).toBe('BP001');
      expect(t.resolve(Tokens.CommandSigner).verify(command)).toEqual({ ok: true });
      expect(await controller.flush()).toBe(true);
      registryDir = join(t.info.dir, 'tamiyo');
    }
    expect(readdirSync(registryDir).sort()).toEqual(expect.arrayContaining(['gnn_norms.json', 'seed_registry.json', 'blueprint_registry.json']));
  });
});

describe('graft parameters and the blueprint', () => {
  test('parameters the blueprint does not allow go to annotations (Kasmina G0 refuses them)', () => {
    const p = packet([DORMANT]);
    const graph = new PolicyGraphBuilder().build(p, 'residual-mlp');
    const outputs = { policy_logits: Float32Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)), policy_params: [0.1, 0, 0, 0], seed_scores: [1], schedule_params: [0, 0], blending_logits: [1, 0, 0] };
    const { command } = decodeDecision(outputs, { packet: p, graph, policyVersion: 'v', allowedParameters: ['hidden'] });
    expect(command.payload.case === 'seedOperation' && command.payload.value.parameters).toEqual({});
    expect(command.annotations).toMatchObject({ policy_alpha: '0.2000', policy_blending_method_index: '0', blending_method: 'linear' });
  });
});
