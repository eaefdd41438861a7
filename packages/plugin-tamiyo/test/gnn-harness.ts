import { create } from '@bufbuild/protobuf';
import { CommandVerifier, LeylineSigner, ManualClock, type Clock } from '@esper/core';
import { SeedStateSchema, SystemStatePacketSchema, type MessagePriority, type SystemStatePacket, type TelemetryPacket } from '@esper/core/leyline';
import type { ParameterSet } from '@esper/onnx';
import { OnnxPolicyBackend, type PolicyRunnerFactory } from '../src/backends/onnx-backend.js';
import { GnnController, type GnnControllerInit } from '../src/gnn/controller.js';
import { hmacCommandSigning } from '../src/heuristic/commands.js';
import { REFERENCE_DIMS, initPolicyWeights, type PolicyDims } from '../src/policy/architecture.js';
import { packGraph, warmUpGraph } from '../src/policy/pack.js';

/** Small policy dims: the reference's architecture at a width the tests run in milliseconds. */
export const SMALL: PolicyDims = { ...REFERENCE_DIMS, sageHidden: 16, gatHidden: 8, heads: 2, headHidden: 8 };
/** The signing key of the harness (commands and policy updates). */
export const SECRET = 'gnn-pipeline-secret';
export const DORMANT = 1;
export const TRAINING = 3;

/** A packet of one run with one seed per stage (slot<i> at depth i+1). */
export function statePacket(stages: readonly number[], epoch: number, loss = 0.3, extra: { metrics?: Record<string, number>; step?: number } = {}): SystemStatePacket {
  return create(SystemStatePacketSchema, {
    version: 1,
    currentEpoch: epoch,
    globalStep: BigInt(extra.step ?? 0),
    validationLoss: loss,
    trainingRunId: 'run-gnn',
    packetId: `run-gnn-step-${epoch}`,
    trainingMetrics: { val_loss: loss, val_accuracy: 91, ...extra.metrics },
    seedStates: stages.map((stage, i) => create(SeedStateSchema, { seedId: `slot${i}`, stage, layerDepth: i + 1 })),
  });
}

/** Options of {@link gnnHarness}; anything of {@link GnnControllerInit} may be overridden. */
export type HarnessOptions = Partial<Omit<GnnControllerInit, 'backend' | 'signer'>> & {
  readonly createRunner?: PolicyRunnerFactory;
  readonly worker?: boolean;
  /** SCHED_FIFO for the worker runner's thread (`tamiyo.gnn.realtime`). */
  readonly realtimePriority?: number;
  readonly seed?: number;
  readonly weights?: ParameterSet;
  /** Where telemetry goes besides the recorded list. */
  readonly sink?: (packet: TelemetryPacket, priority: MessagePriority) => Promise<void>;
};

/** A GNN controller on {@link SMALL} dims, in-thread CPU inference, a real HMAC signer and a recording telemetry sink. */
export async function gnnHarness(options: HarnessOptions = {}) {
  const clock: Clock = options.clock ?? new ManualClock(Date.UTC(2026, 0, 1));
  const signer = new LeylineSigner(SECRET);
  const telemetry: { packet: TelemetryPacket; priority: MessagePriority }[] = [];
  const backend = new OnnxPolicyBackend({
    devices: ['cpu'],
    worker: options.worker ?? false,
    warmUpFeeds: packGraph(warmUpGraph(), SMALL),
    ...(options.createRunner ? { createRunner: options.createRunner } : {}),
    ...(options.realtimePriority !== undefined ? { realtimePriority: options.realtimePriority } : {}),
  });
  const controller = await GnnController.create({
    blueprints: ['BP001', 'BP002'],
    stepTimeoutMs: 0,
    ...options,
    weights: options.weights ?? initPolicyWeights(options.seed ?? 11, SMALL),
    dims: SMALL,
    backend,
    signer: hmacCommandSigning(signer, clock),
    clock,
    telemetry: {
      emit: async (packet, priority) => {
        telemetry.push({ packet, priority });
        await options.sink?.(packet, priority);
      },
    },
  });
  return { controller, telemetry, signer, clock, verifier: new CommandVerifier({ signer, clock }) };
}
