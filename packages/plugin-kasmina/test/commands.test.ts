// Command handling through the executor's public surface: security, no-ops, rejections.
import { create } from '@bufbuild/protobuf';
import { AdaptationCommandSchema, CommandType, SeedLifecycleStage, SeedOperation, TelemetryLevel, type TelemetryPacket } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { IllegalTransitionError, KasminaBlueprintCatalog, KasminaExecutor, UnknownBlueprintError, assertKnownBlueprints, transition, unknownBlueprintIds, type SeedStageChange } from '../src/index.js';
import { security } from './fixtures/commands.js';
import { tinyHost } from './fixtures/tiny-host.js';

const S = SeedLifecycleStage;
const Op = SeedOperation;

function setup() {
  const sec = security();
  const changes: SeedStageChange[] = [];
  const packets: TelemetryPacket[] = [];
  const executor = new KasminaExecutor({
    verifier: sec.verifier,
    runSeed: 1,
    clock: sec.clock,
    onStageChanged: (c) => void changes.push(c),
    telemetry: { emit: (p) => void packets.push(p) },
  });
  executor.attachHost(tinyHost());
  const events = () => packets.flatMap((p) => p.events);
  const snapshot = () => ({ states: executor.exportSeedStates().map((s) => ({ ...s })), version: executor.topologyVersion, changes: changes.length });
  return { ...sec, executor, changes, packets, events, snapshot };
}

describe('command security', () => {
  test('an unsigned command is rejected as missing_signature and changes nothing', async () => {
    const { executor, seed, snapshot, events } = setup();
    const command = seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp');
    delete command.annotations.signature;
    const before = snapshot();
    expect(await executor.applyCommand(command)).toStrictEqual({ applied: false, commandId: command.commandId, reason: 'missing_signature' });
    expect(snapshot()).toStrictEqual(before);
    expect(events()).toContainEqual(expect.objectContaining({ description: 'command_rejected', level: TelemetryLevel.ERROR, attributes: { reason: 'missing_signature', command_id: command.commandId } }));
  });

  test('a command changed after signing is rejected as invalid_signature', async () => {
    const { executor, seed, snapshot } = setup();
    const command = seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp');
    command.targetSeedId = 'hidden2';
    const before = snapshot();
    expect(await executor.applyCommand(command)).toMatchObject({ applied: false, reason: 'invalid_signature' });
    expect(snapshot()).toStrictEqual(before);
  });

  test('a replayed command is rejected as nonce_replayed; a stale one as stale_command', async () => {
    const { executor, seed, clock } = setup();
    const command = seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp');
    expect(await executor.applyCommand(command)).toMatchObject({ applied: true });
    expect(await executor.applyCommand(command)).toMatchObject({ applied: false, reason: 'nonce_replayed' });
    const stale = seed(Op.SEED_OP_START_TRAINING, 'hidden1');
    clock.advance(61_000);
    expect(await executor.applyCommand(stale)).toMatchObject({ applied: false, reason: 'stale_command' });
    expect(executor.exportSeedStates()[0]!.stage).toBe(S.SEED_STAGE_GERMINATED);
  });
});

describe('command dispatch', () => {
  test('WAIT (COMMAND_PAUSE, empty target) is applied as a no-op', async () => {
    const { executor, wait, snapshot } = setup();
    const before = snapshot();
    const command = wait();
    expect(await executor.applyCommand(command)).toStrictEqual({ applied: true, commandId: command.commandId });
    expect(snapshot()).toStrictEqual(before);
  });

  test('an illegal transition is rejected with its reason and changes nothing; driving the table directly throws a typed error', async () => {
    const { executor, seed, snapshot, events } = setup();
    const before = snapshot();
    expect(await executor.applyCommand(seed(Op.SEED_OP_START_GRAFTING, 'hidden1'))).toMatchObject({
      applied: false,
      reason: 'illegal_transition:SEED_STAGE_DORMANT->SEED_STAGE_BLENDING',
    });
    expect(await executor.applyCommand(seed(Op.SEED_OP_FOSSILIZE, 'hidden2'))).toMatchObject({ applied: false, reason: 'illegal_transition:SEED_STAGE_DORMANT->SEED_STAGE_FOSSILIZED' });
    expect(await executor.applyCommand(seed(Op.SEED_OP_CULL, 'hidden2'))).toMatchObject({ applied: false, reason: 'illegal_transition:SEED_STAGE_DORMANT->SEED_STAGE_CULLED' });
    expect(snapshot()).toStrictEqual(before);
    expect(events().filter((e) => e.description === 'seed_operation_rejected')).toHaveLength(3);
    const seedLike = { stage: S.SEED_STAGE_DORMANT };
    expect(() => transition(seedLike, S.SEED_STAGE_BLENDING)).toThrow(IllegalTransitionError);
    expect(seedLike.stage).toBe(S.SEED_STAGE_DORMANT);
  });

  test('an unknown blueprint fails G0 with the reason in the outcome and in telemetry; the slot stays DORMANT', async () => {
    const { executor, seed, snapshot, events, changes } = setup();
    const before = snapshot();
    expect(await executor.applyCommand(seed(Op.SEED_OP_GERMINATE, 'hidden1', 'transformer-xl'))).toMatchObject({
      applied: false,
      reason: 'gate_failed:SEED_GATE_G0_SANITY: unknown blueprint transformer-xl',
    });
    expect(snapshot()).toStrictEqual(before);
    expect(changes).toEqual([]);
    expect(events()).toContainEqual(expect.objectContaining({
      description: 'gate_event',
      level: TelemetryLevel.WARNING,
      attributes: { seed_id: 'hidden1', gate: 'SEED_GATE_G0_SANITY', passed: 'false', blueprint_id: 'transformer-xl', reason: 'unknown blueprint transformer-xl' },
    }));
    expect(events()).toContainEqual(expect.objectContaining({ description: 'gate_failure', attributes: { seed_id: 'hidden1', gate: 'SEED_GATE_G0_SANITY', reason: 'unknown blueprint transformer-xl' } }));
    // Out-of-bounds blueprint options fail the same way.
    expect(await executor.applyCommand(seed(Op.SEED_OP_GERMINATE, 'hidden1', 'residual-mlp', { hidden: 0 }))).toMatchObject({ applied: false, reason: 'gate_failed:SEED_GATE_G0_SANITY: parameter hidden out of bounds [1, 4096]' });
  });

  test('a config check finds unknown blueprint ids before training', () => {
    const catalog = new KasminaBlueprintCatalog();
    expect(catalog.list().map((d) => d.blueprintId)).toEqual(['residual-mlp', 'residual-mlp-wide']);
    expect(unknownBlueprintIds(catalog, ['residual-mlp', 'conv', 'conv', 'mlp'])).toEqual(['conv', 'mlp']);
    expect(() => assertKnownBlueprints(catalog, ['residual-mlp-wide'])).not.toThrow();
    expect(() => assertKnownBlueprints(catalog, ['residual-mlp', 'conv'], 'tamiyo.heuristic.blueprintRotation')).toThrow(UnknownBlueprintError);
    expect(() => assertKnownBlueprints(catalog, ['conv'], 'tamiyo.heuristic.blueprintRotation')).toThrow(
      'Unknown blueprint id "conv" in tamiyo.heuristic.blueprintRotation. Kasmina\'s catalogue holds: "residual-mlp", "residual-mlp-wide".',
    );
  });

  test('unknown seeds, unsupported commands and operations are rejected with a reason', async () => {
    const { executor, seed, sign } = setup();
    expect(await executor.applyCommand(seed(Op.SEED_OP_GERMINATE, 'hidden9', 'residual-mlp'))).toMatchObject({ applied: false, reason: 'unknown_seed:hidden9' });
    expect(await executor.applyCommand(seed(Op.SEED_OP_FINE_TUNE, 'hidden1'))).toMatchObject({ applied: false, reason: 'unsupported_operation:SEED_OP_FINE_TUNE' });
    expect(await executor.applyCommand(sign(create(AdaptationCommandSchema, { commandType: CommandType.COMMAND_OPTIMIZER })))).toMatchObject({ applied: false, reason: 'unsupported_command:COMMAND_OPTIMIZER' });
    expect(await executor.applyCommand(sign(create(AdaptationCommandSchema, { commandType: CommandType.COMMAND_SEED, targetSeedId: 'hidden1' })))).toMatchObject({ applied: false, reason: 'missing_seed_operation' });
    expect((await executor.applyCommand(sign(create(AdaptationCommandSchema, { commandType: CommandType.COMMAND_PAUSE, targetSeedId: 'hidden1' })))).applied).toBe(false);
  });
});
