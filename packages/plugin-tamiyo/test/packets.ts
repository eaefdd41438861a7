import { create } from '@bufbuild/protobuf';
import { CommandVerifier, LeylineSigner, ManualClock } from '@esper/core';
import {
  SeedLifecycleStage,
  SeedStateSchema,
  SystemStatePacketSchema,
  type AdaptationCommand,
  type MessagePriority,
  type SystemStatePacket,
  type TelemetryPacket,
} from '@esper/core/leyline';
import { HeuristicController, hmacCommandSigning, type HeuristicOptionsInput } from '../src/index.js';

/** Stage short names for readable scenarios. */
export const S = {
  dormant: SeedLifecycleStage.SEED_STAGE_DORMANT,
  germinated: SeedLifecycleStage.SEED_STAGE_GERMINATED,
  training: SeedLifecycleStage.SEED_STAGE_TRAINING,
  blending: SeedLifecycleStage.SEED_STAGE_BLENDING,
  shadowing: SeedLifecycleStage.SEED_STAGE_SHADOWING,
  probationary: SeedLifecycleStage.SEED_STAGE_PROBATIONARY,
  fossilized: SeedLifecycleStage.SEED_STAGE_FOSSILIZED,
  culled: SeedLifecycleStage.SEED_STAGE_CULLED,
  embargoed: SeedLifecycleStage.SEED_STAGE_EMBARGOED,
} as const;

/** One seed (slot) of a packet: stage, and optionally α and the counterfactual contribution. */
export interface SeedSpec {
  readonly stage: SeedLifecycleStage;
  readonly alpha?: number;
  readonly counterfactual?: number;
}

/** The two slots of the quickstart host, at depths 1 and 2. */
export const SLOT_DEPTH: Readonly<Record<string, number>> = { hidden1: 1, hidden2: 2 };

/** One epoch as a test writes it. */
export interface EpochSpec {
  readonly epoch: number;
  /** Validation accuracy, points. */
  readonly acc: number;
  /** Validation loss; default 0.3. */
  readonly loss?: number;
  /** Seeds by slot id; default both slots DORMANT. */
  readonly seeds?: Readonly<Record<string, SeedSpec | SeedLifecycleStage>>;
}

/** A `SystemStatePacket` as Tolaria assembles it (accuracy in points, one `SeedState` per slot). */
export function packet(spec: EpochSpec): SystemStatePacket {
  const seeds = spec.seeds ?? { hidden1: S.dormant, hidden2: S.dormant };
  return create(SystemStatePacketSchema, {
    version: 1,
    currentEpoch: spec.epoch,
    validationAccuracy: spec.acc,
    validationLoss: spec.loss ?? 0.3,
    trainingRunId: 'run-test',
    packetId: `run-test-epoch-${spec.epoch}`,
    trainingMetrics: { val_accuracy: spec.acc, val_loss: spec.loss ?? 0.3 },
    seedStates: Object.entries(seeds).map(([id, s]) => {
      const seed: SeedSpec = typeof s === 'number' ? { stage: s } : s;
      const metrics: Record<string, number> = { epochs_in_stage: 0 };
      if (seed.alpha !== undefined) metrics.alpha = seed.alpha;
      if (seed.counterfactual !== undefined) metrics.counterfactual_contribution = seed.counterfactual;
      return create(SeedStateSchema, { seedId: id, stage: seed.stage, layerDepth: SLOT_DEPTH[id] ?? 1, metrics });
    }),
  });
}

/** A controller with a real HMAC signer on a manual clock, recording its telemetry. */
export function harness(options: HeuristicOptionsInput = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const signer = new LeylineSigner('tamiyo-test-secret');
  const telemetry: { packet: TelemetryPacket; priority: MessagePriority }[] = [];
  const controller = new HeuristicController({
    options: { blueprintRotation: ['BP001', 'BP002'], ...options },
    signer: hmacCommandSigning(signer, clock),
    clock,
    telemetry: {
      emit: (p, priority) => {
        telemetry.push({ packet: p, priority });
        return Promise.resolve();
      },
    },
  });
  const verifier = new CommandVerifier({ signer, clock });
  /** Feeds epochs in order; returns their commands. The clock moves 1 s per epoch. */
  const run = async (epochs: readonly EpochSpec[]): Promise<AdaptationCommand[]> => {
    const commands: AdaptationCommand[] = [];
    for (const spec of epochs) {
      clock.advance(1000);
      commands.push(await controller.evaluateEpoch(packet(spec)));
    }
    return commands;
  };
  return { controller, clock, signer, verifier, telemetry, run };
}

/** The decision a command carries: `[decision, target, reason]`, plus the blueprint for germinate. */
export function summary(command: AdaptationCommand): string {
  const op = command.annotations.decision ?? '?';
  const blueprint = command.payload.case === 'seedOperation' && command.payload.value.blueprintId !== '' ? ` ${command.payload.value.blueprintId}` : '';
  return `${op}${command.targetSeedId === '' ? '' : `@${command.targetSeedId}`}${blueprint} (${command.annotations.reason ?? '?'})`;
}

/** Flat-accuracy epochs `from..to` with the given seeds. */
export function flat(from: number, to: number, acc: number, seeds?: EpochSpec['seeds']): EpochSpec[] {
  const out: EpochSpec[] = [];
  for (let epoch = from; epoch <= to; epoch++) out.push({ epoch, acc, ...(seeds ? { seeds } : {}) });
  return out;
}
