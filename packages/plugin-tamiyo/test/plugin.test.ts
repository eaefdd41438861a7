import { create } from '@bufbuild/protobuf';
import { ConfigValidationError, definePlugin, HookFailedError, Tokens, type AnyPlugin } from '@esper/core';
import { BlueprintDescriptorSchema, CommandType } from '@esper/core/leyline';
import { startTestRun } from '@esper/core/testing';
import { describe, expect, test } from 'vitest';
import { HeuristicController, NoBlueprintsError, tamiyo, UnknownBlueprintError } from '../src/index.js';
import { packet, summary } from './packets.js';

/** A plugin that provides a BlueprintCatalog of the given ids. */
function catalog(ids: readonly string[]): AnyPlugin {
  const descriptors = ids.map((blueprintId) => create(BlueprintDescriptorSchema, { blueprintId, name: blueprintId }));
  return definePlugin({
    name: 'test-blueprint-catalog',
    configKey: 'testCatalog',
    provides: [Tokens.BlueprintCatalog],
    setup(ctx) {
      ctx.provideValue(Tokens.BlueprintCatalog, {
        get: (id) => descriptors.find((d) => d.blueprintId === id),
        list: () => descriptors,
      });
    },
  });
}

describe('tamiyo() plugin', () => {
  test('provides the heuristic Controller: config thresholds apply, commands verify with the run CommandSigner, telemetry goes to the sinks', async () => {
    await using t = await startTestRun({
      plugins: [tamiyo({ heuristic: { blueprintRotation: ['BP001'] } })],
      config: { tamiyo: { heuristic: { minEpochsBeforeGerminate: 0, stabilizationEpochs: 0, plateauEpochsToGerminate: 1 } } },
    });
    const controller = t.resolve(Tokens.Controller);
    expect(controller).toBeInstanceOf(HeuristicController);
    const commands = [
      await controller.evaluateEpoch(packet({ epoch: 0, acc: 90 })),
      await controller.evaluateEpoch(packet({ epoch: 1, acc: 90 })),
    ];
    expect(commands.map(summary)).toStrictEqual(['wait (no_plateau)', 'germinate@hidden1 BP001 (plateau)']);
    const signer = t.resolve(Tokens.CommandSigner);
    expect(commands.map((c) => signer.verify(c))).toStrictEqual([{ ok: true }, { ok: true }]);
    const decisions = t.telemetry.filter((c) => c.packet.sourceSubsystem === 'tamiyo');
    expect(decisions.map((d) => d.packet.events[0]?.attributes.command_id)).toStrictEqual(commands.map((c) => c.commandId));
  });

  test('an empty rotation takes every blueprint of the catalogue, in its order', async () => {
    await using t = await startTestRun({ plugins: [catalog(['BP002', 'BP001']), tamiyo()] });
    expect((t.resolve(Tokens.Controller) as HeuristicController).rotation).toStrictEqual(['BP002', 'BP001']);
  });

  test('a rotation of catalogued blueprints boots; a WAIT step command is a PAUSE', async () => {
    await using t = await startTestRun({ plugins: [catalog(['BP001', 'BP002']), tamiyo({ heuristic: { blueprintRotation: ['BP002'] } })] });
    const command = await t.resolve(Tokens.Controller).evaluateStep(packet({ epoch: 0, acc: 10 }));
    expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
  });

  test('an unknown blueprint fails the boot at start, naming it and the known ones', async () => {
    const boot = startTestRun({ plugins: [catalog(['BP001', 'BP002']), tamiyo({ heuristic: { blueprintRotation: ['BP001', 'BP404'] } })] });
    const error = await boot.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HookFailedError);
    expect((error as HookFailedError).hook).toBe('start');
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(UnknownBlueprintError);
    expect(cause).toMatchObject({ code: 'ESPER_TAMIYO_UNKNOWN_BLUEPRINT', unknown: ['BP404'], known: ['BP001', 'BP002'] });
    expect((cause as Error).message).toContain('"BP404"');
    expect((cause as Error).message).toContain('Known blueprints: "BP001", "BP002"');
  });

  test('no rotation and no catalogue is a clear error at start', async () => {
    await expect(startTestRun({ plugins: [tamiyo()] })).rejects.toMatchObject({
      cause: expect.objectContaining({ code: 'ESPER_TAMIYO_NO_BLUEPRINTS' }) as unknown,
    });
    expect(new NoBlueprintsError('x').message).toContain('blueprintRotation');
  });

  test('an unknown controller name is a config error that lists the valid names', async () => {
    const error = await startTestRun({ plugins: [tamiyo()], config: { tamiyo: { controller: 'learned' } } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigValidationError);
    const issues = (error as ConfigValidationError).issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'tamiyo.controller' });
    expect(issues[0]!.message).toBe('expected one of "heuristic", "gnn", "remote", got "learned"');
  });

  test('unknown heuristic options are config errors with their path', async () => {
    const error = await startTestRun({ plugins: [tamiyo()], config: { tamiyo: { heuristic: { plateauEpochs: 2 } } } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as ConfigValidationError).issues.map((i) => i.path)).toStrictEqual(['tamiyo.heuristic.plateauEpochs']);
  });
});
