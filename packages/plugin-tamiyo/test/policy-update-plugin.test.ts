// Policy updates end to end through the plugin (decision 0064): a run with the GNN controller and
// the in-process Oona; a plugin publishes a signed update from its epoch-end hook, the Tamiyo
// plugin's consumer ingests it, and the next decisions come from the new weights.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { definePlugin, LeylineSigner, Tokens, type Oona } from '@esper/core';
import { startTestRun } from '@esper/core/testing';
import { CommandType, FieldReportSchema, type FieldReport } from '@esper/core/leyline';
import { oonaMemory } from '@esper/plugin-oona-memory';
import { describe, expect, test } from 'vitest';
import { POLICY_UPDATE_REJECTED_EVENT, policyUpdateGroup, publishPolicyUpdate, tamiyo } from '../src/index.js';
import { ARCHITECTURE_VERSION, initPolicyWeights } from '../src/policy/architecture.js';
import { savePolicyWeights } from '../src/policy/weights.js';
import { DORMANT, TRAINING, statePacket } from './gnn-harness.js';
import { until } from './policy-update-scenarios.js';

const security = { leylineSecret: 'policy-update-plugin-secret' };

/** Reference-size weights whose policy head prefers action 2 (PAUSE) over 0 (graft). */
async function pausingWeights(): Promise<string> {
  const params = initPolicyWeights(7);
  const bias = Float32Array.from(params.get('policy_head.bias')!.data as Float32Array);
  bias[0] = -0.5;
  bias[2] = 0.5;
  params.set('policy_head.bias', bias);
  const path = join(mkdtempSync(join(tmpdir(), 'tamiyo-policy-')), 'pause.ckpt');
  await savePolicyWeights(path, params);
  return path;
}

/** A plugin that publishes a policy update from its epoch-end hook: the run's secret at epoch 0, another key at epoch 1. */
function publisher(path: string) {
  return definePlugin({
    name: 'test:policy-publisher',
    configKey: 'testPolicyPublisher',
    requires: [Tokens.Oona, Tokens.Signer],
    setup() {
      return {
        async onEpochEnd({ epoch }, hc) {
          const oona = hc.resolve(Tokens.Oona);
          if (epoch === 0) await publishPolicyUpdate(oona, hc.resolve(Tokens.Signer), { path, policyVersion: 'pause-1' });
          if (epoch === 1) await publishPolicyUpdate(oona, new LeylineSigner('someone-else'), { path, policyVersion: 'forged-2', policyId: 'forged-2' });
        },
      };
    },
  });
}

/** Updates not yet handled by the Tamiyo of `oona`'s run: the backlog of its own policy-update group (-1 while it has none). */
async function policyBacklog(oona: Oona): Promise<number> {
  const group = (await oona.describeGroups!(oona.streams.policy)).find((g) => g.name === policyUpdateGroup(oona));
  return group === undefined ? -1 : group.pending + (group.lag ?? 0);
}

describe('policy updates through the tamiyo plugin', () => {
  test('an update published mid-run changes the decisions and the reported policy version; a wrongly signed one is rejected and changes nothing', { timeout: 60_000 }, async () => {
    const path = await pausingWeights();
    await using t = await startTestRun({
      plugins: [
        oonaMemory({ broker: `policy-plugin-${process.pid}-${Date.now()}` }),
        tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'], worker: false }, stepTimeoutMs: 0, policyUpdates: { blockMs: 50 } }),
        publisher(path),
      ],
      config: { security },
    });
    const oona = t.resolve(Tokens.Oona);
    const controller = t.resolve(Tokens.Controller);
    expect(t.logged('info', 'consuming policy updates')).toHaveLength(1);
    const settled = async (n: number) => until(async () => t.logged('info', 'policy update from Oona').length === n && (await policyBacklog(oona)) === 0, 30_000);

    // Epoch 0: the untrained policy grafts; the epoch end publishes the pausing weights.
    const before = await controller.evaluateEpoch(statePacket([DORMANT, TRAINING], 0));
    expect(before.commandType).toBe(CommandType.COMMAND_SEED);
    await t.epoch(0);
    await settled(1);
    const accepted = t.logged('info', 'policy update from Oona accepted');
    expect(accepted.map((l) => l.fields.policyVersion)).toStrictEqual([`${ARCHITECTURE_VERSION}@pause-1`]);

    // Epoch 1: the same situation now decides PAUSE from the policy (action 2).
    const after = await controller.evaluateEpoch(statePacket([DORMANT, TRAINING], 1));
    expect(after.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(after.annotations.policy_action).toBe('2');
    await t.epoch(1); // flushes the field reports, then publishes the forged update
    await settled(2);

    // The wrongly signed update: rejected with its reason (log and telemetry event), nothing changed.
    expect(t.logged('warn', 'policy update from Oona rejected').map((l) => l.fields.reason)).toStrictEqual(['invalid_signature']);
    const rejection = t.telemetry.flatMap((c) => c.packet.events).find((e) => e.description === POLICY_UPDATE_REJECTED_EVENT);
    expect(rejection?.attributes).toMatchObject({ reason: 'invalid_signature', policy_id: 'forged-2' });
    const still = await controller.evaluateEpoch(statePacket([DORMANT, TRAINING], 2));
    expect(still.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(still.annotations.policy_action).toBe('2');

    // Field reports name the version that decided: the architecture before the update, the update's after.
    const reports: FieldReport[] = [];
    await oona.consume(FieldReportSchema, (r) => void reports.push(r), { count: 100 });
    const versionOf = (commandId: string) => reports.find((r) => r.commandId === commandId)?.tamiyoPolicyVersion;
    expect(versionOf(before.commandId)).toBe(ARCHITECTURE_VERSION);
    expect(versionOf(after.commandId)).toBe(`${ARCHITECTURE_VERSION}@pause-1`);
  });

  test("service mode: an update reaches the service's run controllers, and a run served later starts on it", { timeout: 90_000 }, async () => {
    const path = await pausingWeights();
    const broker = `policy-service-${process.pid}-${Date.now()}`;
    await using service = await startTestRun({
      plugins: [
        oonaMemory({ broker, group: 'tamiyo' }),
        tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'], worker: false }, stepTimeoutMs: 0, service: { enabled: true }, policyUpdates: { blockMs: 50 } }),
      ],
      config: { security },
      runId: 'tamiyo-service',
    });
    const trainer = async (runId: string) =>
      startTestRun({
        plugins: [oonaMemory({ broker, group: `trainer-${runId}` }), tamiyo({ controller: 'remote', remote: { timeoutMs: 30_000 } })],
        config: { security },
        runId,
      });
    const packetOf = (runId: string, epoch: number) => Object.assign(statePacket([DORMANT, TRAINING], epoch), { trainingRunId: runId, packetId: `${runId}-${epoch}` });
    await using first = await trainer('trainer-1');
    const firstController = first.resolve(Tokens.Controller);
    expect((await firstController.evaluateEpoch(packetOf('trainer-1', 0))).commandType).toBe(CommandType.COMMAND_SEED);

    const oona = service.resolve(Tokens.Oona);
    await publishPolicyUpdate(oona, service.resolve(Tokens.Signer), { path, policyVersion: 'pause-svc' });
    await until(async () => service.logged('info', 'policy update from Oona accepted').length === 1 && (await policyBacklog(oona)) === 0, 30_000);

    // The run the service already held decides with the new weights…
    const again = await firstController.evaluateEpoch(packetOf('trainer-1', 1));
    expect(again.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(again.annotations.policy_action).toBe('2');
    // …and so does a run it starts serving after the update (the accepted update is replayed to it).
    await using second = await trainer('trainer-2');
    const late = await second.resolve(Tokens.Controller).evaluateEpoch(packetOf('trainer-2', 0));
    expect(late.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(late.annotations.policy_action).toBe('2');
  });

  test('tamiyo.policyUpdates.consume: false reads nothing; the heuristic controller never consumes', async () => {
    await using off = await startTestRun({
      plugins: [oonaMemory({ broker: `policy-off-${process.pid}-${Date.now()}` }), tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'], worker: false }, policyUpdates: { consume: false } })],
      config: { security },
    });
    expect(off.logged('info', 'consuming policy updates')).toHaveLength(0);
    await using heuristic = await startTestRun({
      plugins: [oonaMemory({ broker: `policy-heur-${process.pid}-${Date.now()}` }), tamiyo({ heuristic: { blueprintRotation: ['BP001'] }, policyUpdates: { consume: true } })],
      config: { security },
    });
    expect(heuristic.logged('info', 'consuming policy updates')).toHaveLength(0);
    expect(heuristic.logged('info', 'has no policy to update')).toHaveLength(1);
  });
});
