// A state packet for the GNN policy tests and the parity exporter (scripts/export-parity-inputs.ts):
// fixed training figures, and seeds given by id, stage, depth, risk and blend permission.
import { create } from '@bufbuild/protobuf';
import { SeedStateSchema, SystemStatePacketSchema, type SystemStatePacket } from '@esper/core/leyline';

/** One seed of {@link policyStatePacket}: depth defaults to 1, risk to 0; `blend` sets `blend_allowed`. */
export interface PolicySeed {
  readonly id: string;
  readonly stage: number;
  readonly depth?: number;
  readonly risk?: number;
  readonly blend?: number;
}

/** A packet of run `runId` at `epoch` (packet id `<runId>-<epoch>`) with these seeds. */
export function policyStatePacket(runId: string, seeds: readonly PolicySeed[], epoch = 3): SystemStatePacket {
  return create(SystemStatePacketSchema, {
    version: 1,
    currentEpoch: epoch,
    validationLoss: 0.4,
    trainingLoss: 0.5,
    globalStep: 1200n,
    trainingRunId: runId,
    packetId: `${runId}-${epoch}`,
    trainingMetrics: { val_loss: 0.4, train_loss: 0.5, samples_per_s: 4000, epochs_total: 10 },
    seedStates: seeds.map((s) =>
      create(SeedStateSchema, { seedId: s.id, stage: s.stage, layerDepth: s.depth ?? 1, riskScore: s.risk ?? 0, metrics: s.blend === undefined ? {} : { blend_allowed: s.blend } }),
    ),
  });
}
