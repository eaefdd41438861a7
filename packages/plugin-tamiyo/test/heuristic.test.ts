import { timestampMs } from '@bufbuild/protobuf/wkt';
import { priorityForPacket } from '@esper/core';
import { CommandType, MessagePriority, SeedOperation, TelemetryLevel } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { HeuristicController, NO_POLICY_REASON, hmacCommandSigning } from '../src/index.js';
import { S, flat, harness, packet, summary, type EpochSpec } from './packets.js';

/** The full life of one seed, from a plateau to FOSSILIZED, then the next germination. */
const LIFE: EpochSpec[] = [
  { epoch: 0, acc: 90 },
  { epoch: 1, acc: 90.1 },
  { epoch: 2, acc: 90.2 },
  { epoch: 3, acc: 90.3 },
  { epoch: 4, acc: 90.3, seeds: { hidden1: S.germinated, hidden2: S.dormant } },
  { epoch: 5, acc: 90.4, seeds: { hidden1: S.training, hidden2: S.dormant } },
  { epoch: 6, acc: 90.6, seeds: { hidden1: { stage: S.blending, alpha: 0.5 }, hidden2: S.dormant } },
  { epoch: 7, acc: 91, seeds: { hidden1: { stage: S.blending, alpha: 1 }, hidden2: S.dormant } },
  { epoch: 8, acc: 91.5, seeds: { hidden1: { stage: S.shadowing, alpha: 1 }, hidden2: S.dormant } },
  { epoch: 9, acc: 91.8, seeds: { hidden1: { stage: S.probationary, alpha: 1, counterfactual: 1.2 }, hidden2: S.dormant } },
  { epoch: 10, acc: 91.9, seeds: { hidden1: S.fossilized, hidden2: S.dormant } },
  { epoch: 11, acc: 91.9, seeds: { hidden1: S.fossilized, hidden2: S.dormant } },
];

describe('a seed from plateau to FOSSILIZED', () => {
  test('germinates at the first free slot with the rotation, then manages every stage', async () => {
    const { run } = harness({ minEpochsBeforeGerminate: 2, stabilizationEpochs: 0 });
    const commands = await run(LIFE);
    expect(commands.map(summary)).toStrictEqual([
      'wait (min_epochs_before_germinate)',
      'wait (min_epochs_before_germinate)',
      'wait (no_plateau)',
      'germinate@hidden1 BP001 (plateau)',
      'start_training@hidden1 (germinated)',
      'start_grafting@hidden1 (training_complete)',
      'wait (blending_in_progress)',
      'stabilize@hidden1 (alpha_reached_1)',
      'evaluate@hidden1 (shadowing)',
      'fossilize@hidden1 (improved)',
      // the plateau restarted at epoch 8 (a 0.5-point gain), so it is 2 epochs long here, 3 next
      'wait (no_plateau)',
      'germinate@hidden2 BP002 (plateau)',
    ]);
    expect(commands[3]!.annotations).toMatchObject({ rule: 'plateau', confidence: '0.6000', controller: 'heuristic', epoch: '3' });
    expect(commands[6]!.annotations).toMatchObject({ rule: 'blending_wait', seed_id: 'hidden1' });
    expect(commands[9]!.annotations).toMatchObject({ rule: 'probationary_fossilize', confidence: '0.2400' });
  });

  test('commands have the growth loop shapes: WAIT is an untargeted PAUSE, operations are SEED at the slot', async () => {
    const { run } = harness({ minEpochsBeforeGerminate: 2, stabilizationEpochs: 0 });
    const commands = await run(LIFE.slice(0, 5));
    const wait = commands[0]!;
    expect([wait.commandType, wait.targetSeedId, wait.payload.case, wait.issuedBy, wait.version]).toStrictEqual([
      CommandType.COMMAND_PAUSE,
      '',
      undefined,
      'tamiyo',
      1,
    ]);
    expect(wait.annotations).toMatchObject({ decision: 'wait', reason: 'min_epochs_before_germinate', rule: 'min_epochs' });
    const germinate = commands[3]!;
    expect([germinate.commandType, germinate.targetSeedId]).toStrictEqual([CommandType.COMMAND_SEED, 'hidden1']);
    expect(germinate.payload.case === 'seedOperation' && germinate.payload.value).toMatchObject({
      operation: SeedOperation.SEED_OP_GERMINATE,
      blueprintId: 'BP001',
    });
    const train = commands[4]!;
    expect(train.payload.case === 'seedOperation' && train.payload.value).toMatchObject({
      operation: SeedOperation.SEED_OP_START_TRAINING,
      blueprintId: '',
    });
  });
});

describe('signing', () => {
  test("every command verifies with core's CommandVerifier; ids are unique; issued_at is the clock's", async () => {
    const { run, verifier, clock } = harness({ minEpochsBeforeGerminate: 2, stabilizationEpochs: 0 });
    const start = clock.nowMs();
    const commands = await run(LIFE);
    expect(commands.map((c) => verifier.verify(c))).toStrictEqual(commands.map(() => ({ ok: true })));
    expect(new Set(commands.map((c) => c.commandId)).size).toBe(commands.length);
    expect(commands.map((c) => timestampMs(c.issuedAt!))).toStrictEqual(commands.map((_, i) => start + 1000 * (i + 1)));
  });

  test('a command changed after signing is rejected', async () => {
    const { run, verifier } = harness({ minEpochsBeforeGerminate: 0, stabilizationEpochs: 0, plateauEpochsToGerminate: 1 });
    const [, germinate] = await run(flat(0, 1, 90));
    expect(summary(germinate!)).toBe('germinate@hidden1 BP001 (plateau)');
    germinate!.targetSeedId = 'hidden2';
    expect(verifier.verify(germinate!)).toStrictEqual({ ok: false, reason: 'invalid_signature' });
  });
});

describe('germination gates', () => {
  test('embargo: no germination for embargoEpochsAfterCull epochs after a cull', async () => {
    const { run, controller } = harness({ minEpochsBeforeGerminate: 0, stabilizationEpochs: 0, plateauEpochsToGerminate: 1 });
    const commands = await run([
      { epoch: 0, acc: 90 },
      { epoch: 1, acc: 90 },
      { epoch: 2, acc: 90, seeds: { hidden1: S.germinated, hidden2: S.dormant } },
      { epoch: 3, acc: 90, seeds: { hidden1: { stage: S.probationary, counterfactual: 0.3 }, hidden2: S.dormant } },
      { epoch: 4, acc: 90, seeds: { hidden1: S.culled, hidden2: S.dormant } },
      { epoch: 5, acc: 90, seeds: { hidden1: S.embargoed, hidden2: S.dormant } },
      ...flat(6, 8, 90),
    ]);
    expect(commands.map(summary)).toStrictEqual([
      'wait (no_plateau)',
      'germinate@hidden1 BP001 (plateau)',
      'start_training@hidden1 (germinated)',
      'cull@hidden1 (insufficient_improvement)',
      'wait (embargo)',
      'wait (embargo)',
      'wait (embargo)',
      'wait (embargo)',
      'germinate@hidden1 BP002 (plateau)',
    ]);
    expect(commands[4]!.annotations.rule).toBe('embargo');
    // The cull penalised BP001 (2.0), then the penalty halved each epoch and was dropped below 0.1.
    expect(controller.trackerState.penalties).toStrictEqual({ BP001: 0.125 });
    await run([{ epoch: 9, acc: 90, seeds: { hidden1: S.germinated, hidden2: S.dormant } }]);
    expect(controller.trackerState.penalties).toStrictEqual({});
  });

  test('stabilization: WAIT until stabilizationEpochs stable epochs in a row; the latch then stays set', async () => {
    const { run, controller } = harness({ minEpochsBeforeGerminate: 0, plateauEpochsToGerminate: 1 });
    const losses = [1.0, 0.5, 0.49, 0.485, 0.6, 0.59, 0.585, 0.58, 0.9];
    const full = { hidden1: S.fossilized, hidden2: S.fossilized };
    const commands = await run(losses.map((loss, epoch) => ({ epoch, acc: 90, loss, seeds: full })));
    expect(commands.map((c) => c.annotations.reason)).toStrictEqual([
      ...Array<string>(7).fill('host_not_stabilized'), // 0.5 improves too fast; 0.6 rises and resets the count
      'no_free_slot',
      'no_free_slot', // the loss spike does not clear the latch
    ]);
    expect(controller.trackerState.hostStabilized).toBe(true);
  });

  test('stabilizationEpochs = 0 disables the gate', async () => {
    const { run } = harness({ minEpochsBeforeGerminate: 0, plateauEpochsToGerminate: 1, stabilizationEpochs: 0 });
    expect((await run([{ epoch: 0, acc: 90, loss: 2, seeds: { hidden1: S.fossilized } }]))[0]!.annotations.reason).toBe('no_plateau');
  });

  test('a packet for an epoch already seen does not advance the plateau', async () => {
    const { run, controller } = harness();
    await run([{ epoch: 0, acc: 90 }, { epoch: 1, acc: 90 }, { epoch: 1, acc: 90 }]);
    expect(controller.trackerState.plateauEpochs).toBe(1);
  });
});

describe('management', () => {
  test.each([
    ['TRAINING', 'training_cull', (alpha: number) => ({ stage: S.training, alpha })],
    ['BLENDING', 'blending_cull', (alpha: number) => ({ stage: S.blending, alpha })],
  ] as const)('%s: culled when accuracy fell by more than the limit after cullAfterEpochsWithoutImprovement', async (_, rule, seed) => {
    const { run } = harness({ trainingEpochsBeforeGrafting: 10 });
    const accs = [90, 90, 89, 88.5, 88, 87.9];
    const commands = await run(accs.map((acc, epoch) => ({ epoch, acc, seeds: { hidden1: epoch === 0 ? S.germinated : seed(0.4) } })));
    expect(commands.slice(1, 5).map((c) => c.annotations.decision)).toStrictEqual(['wait', 'wait', 'wait', 'wait']);
    expect(summary(commands[5]!)).toBe('cull@hidden1 (accuracy_dropped)');
    expect(commands[5]!.annotations.rule).toBe(rule);
  });

  test('BLENDING: STABILIZE only once α is exactly 1 (the last float32 below 1 still waits)', async () => {
    const { run } = harness();
    const blending = (alpha: number) => ({ hidden1: { stage: S.blending, alpha }, hidden2: S.dormant });
    const commands = await run([
      { epoch: 0, acc: 90, seeds: blending(0.5) },
      { epoch: 1, acc: 90, seeds: blending(Math.fround(1 - 2 ** -24)) },
      { epoch: 2, acc: 90, seeds: blending(1) },
    ]);
    expect(commands.map(summary)).toStrictEqual([
      'wait (blending_in_progress)',
      'wait (blending_in_progress)',
      'stabilize@hidden1 (alpha_reached_1)',
    ]);
  });

  test('TRAINING: a drop within the limit is not culled', async () => {
    const { run } = harness({ trainingEpochsBeforeGrafting: 10 });
    const accs = [90, 90, 89, 88.5, 88, 88.1];
    const commands = await run(accs.map((acc, epoch) => ({ epoch, acc, seeds: { hidden1: epoch === 0 ? S.germinated : S.training } })));
    expect(summary(commands[5]!)).toBe('wait (training_in_progress)');
  });

  test('TRAINING: START_GRAFTING after trainingEpochsBeforeGrafting epochs', async () => {
    const { run } = harness({ trainingEpochsBeforeGrafting: 2 });
    const commands = await run([0, 1, 2].map((epoch) => ({ epoch, acc: 90, seeds: { hidden1: epoch === 0 ? S.germinated : S.training } })));
    expect(commands.map(summary)).toStrictEqual([
      'start_training@hidden1 (germinated)',
      'wait (training_in_progress)',
      'start_grafting@hidden1 (training_complete)',
    ]);
  });

  // Germinated at epoch 1 from a 90.0 % host; evaluated in PROBATIONARY at epoch 2.
  test.each([
    ['fossilize: contribution above the minimum', 91, 1.2, 'fossilize@hidden1 (improved)', 'probationary_fossilize', '0.2400'],
    ['cull: contribution at or below the minimum', 91, 0.3, 'cull@hidden1 (insufficient_improvement)', 'probationary_cull', '1.0000'],
    ['hostage: contributes while the model got worse', 89, 0.5, 'cull@hidden1 (hostage)', 'probationary_hostage', '1.0000'],
    ['no hostage at a contribution of 0.1 or less', 89, 0.05, 'cull@hidden1 (insufficient_improvement)', 'probationary_cull', '1.0000'],
    ['no counterfactual: total improvement decides (fossilize)', 91, undefined, 'fossilize@hidden1 (improved)', 'probationary_fossilize', '0.2000'],
    ['no counterfactual: total improvement decides (cull)', 90.3, undefined, 'cull@hidden1 (insufficient_improvement)', 'probationary_cull', '1.0000'],
  ] as const)('PROBATIONARY %s', async (_, acc, counterfactual, expected, rule, confidence) => {
    const { run } = harness();
    const probationary = counterfactual === undefined ? { stage: S.probationary } : { stage: S.probationary, counterfactual };
    const commands = await run([
      { epoch: 0, acc: 90 },
      { epoch: 1, acc: 90, seeds: { hidden1: S.germinated, hidden2: S.dormant } },
      { epoch: 2, acc, seeds: { hidden1: probationary, hidden2: S.dormant } },
    ]);
    expect(summary(commands[2]!)).toBe(expected);
    expect(commands[2]!.annotations).toMatchObject({ rule, confidence });
  });

  test('a waiting seed does not hold up the next one; seeds are taken by layer depth whatever the packet order', async () => {
    const { run } = harness();
    const [first, second] = await run([
      { epoch: 0, acc: 90, seeds: { hidden2: S.germinated, hidden1: { stage: S.blending, alpha: 0.3 } } },
      { epoch: 1, acc: 90, seeds: { hidden2: S.germinated, hidden1: S.germinated } },
    ]);
    expect(summary(first!)).toBe('start_training@hidden2 (germinated)');
    expect(summary(second!)).toBe('start_training@hidden1 (germinated)');
  });
});

describe('blueprint rotation', () => {
  test('skips a blueprint at or over the penalty threshold; takes the least-penalised when all are', async () => {
    const { run } = harness({
      minEpochsBeforeGerminate: 0,
      stabilizationEpochs: 0,
      plateauEpochsToGerminate: 1,
      embargoEpochsAfterCull: 0,
      blueprintPenaltyDecayRatio: 1,
      blueprintPenaltyThreshold: 1.5,
    });
    const cull = { stage: S.probationary, counterfactual: 0 };
    const keep = { stage: S.probationary, counterfactual: 2 };
    const commands = await run([
      { epoch: 0, acc: 90 },
      { epoch: 1, acc: 90 },
      { epoch: 2, acc: 90, seeds: { hidden1: cull, hidden2: S.dormant } },
      { epoch: 3, acc: 90, seeds: { hidden1: S.culled, hidden2: S.dormant } },
      { epoch: 4, acc: 90, seeds: { hidden1: S.dormant, hidden2: keep } },
      { epoch: 5, acc: 90, seeds: { hidden1: S.dormant, hidden2: S.fossilized } },
      { epoch: 6, acc: 90, seeds: { hidden1: cull, hidden2: S.fossilized } },
      { epoch: 7, acc: 90, seeds: { hidden1: S.culled, hidden2: S.fossilized } },
      { epoch: 8, acc: 90, seeds: { hidden1: S.dormant, hidden2: S.fossilized } },
    ]);
    expect(commands.map(summary)).toStrictEqual([
      'wait (no_plateau)',
      'germinate@hidden1 BP001 (plateau)',
      'cull@hidden1 (insufficient_improvement)',
      'germinate@hidden2 BP002 (plateau)', // BP001 now carries 2.0 ≥ 1.5
      'fossilize@hidden2 (improved)',
      'germinate@hidden1 BP002 (plateau)', // the rotation is back at BP001, which is skipped
      'cull@hidden1 (insufficient_improvement)',
      'wait (no_free_slot)',
      'germinate@hidden1 BP001 (plateau_all_blueprints_penalised)', // both at 2.0: the first from the cursor
    ]);
  });
});

describe('the Controller port', () => {
  test('evaluateStep returns a signed WAIT; policy updates are refused; flush resolves true', async () => {
    const { controller, verifier } = harness();
    const command = await controller.evaluateStep(packet({ epoch: 3, acc: 90 }));
    expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(command.annotations).toMatchObject({ decision: 'wait', rule: 'epoch_step', reason: 'heuristic_decides_per_epoch' });
    expect(verifier.verify(command)).toStrictEqual({ ok: true });
    expect(await controller.ingestPolicyUpdate()).toStrictEqual({ accepted: false, reason: NO_POLICY_REASON });
    expect(NO_POLICY_REASON).toBe('heuristic controller has no policy');
    expect(await controller.flush()).toBe(true);
  });

  test('an already aborted signal rejects with its reason and changes nothing', async () => {
    const { controller, run, telemetry } = harness();
    await run(flat(0, 2, 90));
    const before = controller.trackerState;
    const reason = new Error('deadline');
    await expect(controller.evaluateEpoch(packet({ epoch: 3, acc: 90 }), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(controller.trackerState).toStrictEqual(before);
    expect(telemetry).toHaveLength(3);
  });

  test('a decision whose deadline passes while it is made is not committed', async () => {
    const options = { blueprintRotation: ['BP001', 'BP002'], minEpochsBeforeGerminate: 0, stabilizationEpochs: 0, plateauEpochsToGerminate: 1 };
    const deadline = new AbortController();
    const { clock, signer } = harness();
    const sign = hmacCommandSigning(signer, clock);
    let abortOnSign = false;
    const controller = new HeuristicController({
      options,
      clock,
      signer: {
        sign: (command) => {
          if (abortOnSign) deadline.abort(new DOMException('controller deadline', 'TimeoutError'));
          return sign.sign(command);
        },
      },
    });
    await controller.evaluateEpoch(packet({ epoch: 0, acc: 90 }));
    const before = controller.trackerState;
    abortOnSign = true;
    await expect(controller.evaluateEpoch(packet({ epoch: 1, acc: 90 }), { signal: deadline.signal })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(controller.trackerState).toStrictEqual(before);
    // The same epoch again, in time: the plateau is counted once and the rotation starts at BP001.
    abortOnSign = false;
    expect(summary(await controller.evaluateEpoch(packet({ epoch: 1, acc: 90 })))).toBe('germinate@hidden1 BP001 (plateau)');
    expect(controller.trackerState.plateauEpochs).toBe(1);
  });
});

describe('telemetry', () => {
  test('one packet per decision, with the signals, the decision event and normal priority', async () => {
    const { run, telemetry } = harness({ minEpochsBeforeGerminate: 2, stabilizationEpochs: 0 });
    const commands = await run(LIFE.slice(0, 4));
    expect(telemetry).toHaveLength(4);
    const { packet: germination, priority } = telemetry[3]!;
    expect(priority).toBe(MessagePriority.NORMAL);
    expect(priorityForPacket(germination)).toBe(MessagePriority.NORMAL);
    expect(germination.sourceSubsystem).toBe('tamiyo');
    expect(germination.packetId).toBe(`tamiyo-decision-${commands[3]!.commandId}`);
    const metric = (name: string) => germination.metrics.find((m) => m.name === name);
    expect([metric('tamiyo.validation_accuracy')?.value, metric('tamiyo.validation_accuracy')?.unit]).toStrictEqual([expect.closeTo(90.3, 4), 'pct']);
    expect(metric('tamiyo.heuristic.plateau_epochs')?.value).toBe(3);
    expect(metric('tamiyo.heuristic.host_stabilized')?.value).toBe(1);
    expect(metric('tamiyo.decision.confidence')?.value).toBeCloseTo(0.6);
    expect(germination.events).toHaveLength(1);
    expect(germination.events[0]).toMatchObject({
      description: 'heuristic_decision',
      level: TelemetryLevel.INFO,
      attributes: { decision: 'germinate', rule: 'plateau', reason: 'plateau', seed_id: 'hidden1', blueprint_id: 'BP001', command_id: commands[3]!.commandId, epoch: '3' },
    });
    expect(germination.systemHealth?.summary).toBe('plateau');
    expect(germination.systemHealth?.indicators).toMatchObject({ controller: 'heuristic', decision: 'germinate', rule: 'plateau' });
  });
});
