// The remote mode through the plugin: a service run (`tamiyo.service.enabled`) and a trainer run
// (`tamiyo.controller: 'remote'`) booted by the kernel on one in-process Oona broker.
import { Tokens } from '@esper/core';
import { startTestRun } from '@esper/core/testing';
import { oonaMemory } from '@esper/plugin-oona-memory';
import { describe, expect, test } from 'vitest';
import { HeuristicController, RemoteController, tamiyo } from '../src/index.js';
import { packet, summary } from './packets.js';

const security = { leylineSecret: 'service-plugin-test-secret' };
const EPOCHS = 8;

/** The code of a boot failure (the kernel wraps a hook's error as its cause). */
const codeOf = (e: unknown): unknown => (e as { cause?: { code?: unknown } }).cause?.code ?? (e as { code?: unknown }).code;

describe('tamiyo plugin, remote mode', () => {
  test('a trainer run with the remote controller is answered by a service run; its executor verifies the commands', async () => {
    const broker = `service-plugin-${process.pid}-${Date.now()}`;
    await using service = await startTestRun({
      plugins: [oonaMemory({ broker, group: 'tamiyo' }), tamiyo({ heuristic: { blueprintRotation: ['BP001'] }, service: { enabled: true } })],
      config: { security },
      runId: 'tamiyo-service',
    });
    await using trainer = await startTestRun({
      plugins: [oonaMemory({ broker, group: 'trainer' }), tamiyo({ controller: 'remote' })],
      config: { security },
      runId: 'trainer-1',
    });
    const controller = trainer.resolve(Tokens.Controller);
    expect(controller).toBeInstanceOf(RemoteController);
    expect((controller as RemoteController).replyStream).toBe('tamiyo.replies.trainer-1');

    const local = trainer.resolve(Tokens.CommandSigner);
    const decisions: string[] = [];
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const command = await controller.evaluateEpoch(packet({ epoch, acc: 50 }));
      expect(local.verify(command)).toEqual({ ok: true });
      decisions.push(summary(command));
    }
    // The service's heuristic decided them: the same as one in process (its plateau rule germinates BP001).
    const inProcess = new HeuristicController({ options: { blueprintRotation: ['BP001'] }, signer: local });
    const expected: string[] = [];
    for (let epoch = 0; epoch < EPOCHS; epoch++) expected.push(summary(await inProcess.evaluateEpoch(packet({ epoch, acc: 50 }))));
    expect(decisions).toEqual(expected);
    // evaluateStep goes the same way (`evaluate: step`).
    const step = await controller.evaluateStep(packet({ epoch: EPOCHS, acc: 50 }));
    expect(local.verify(step)).toEqual({ ok: true });
    expect(step.annotations.controller).toBe('heuristic');
    expect(decisions.some((d) => d.includes('BP001'))).toBe(true);
    expect(service.logs.some((l) => l.message.includes('serving decision requests'))).toBe(true);
  });

  test("a service whose own controller is 'remote' fails at start", async () => {
    const error = await startTestRun({
      plugins: [oonaMemory({ broker: `loop-${process.pid}` }), tamiyo({ controller: 'remote', service: { enabled: true } })],
      config: { security },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(codeOf(error)).toBe('ESPER_TAMIYO_SERVICE_LOOP');
  });

  test('the remote controller refuses a run without a shared secret', async () => {
    const error = await startTestRun({ plugins: [oonaMemory({ broker: `nosecret-${process.pid}` }), tamiyo({ controller: 'remote' })] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(codeOf(error)).toBe('ESPER_TAMIYO_REMOTE_SIGNING');
  });
});
