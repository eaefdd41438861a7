import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LeylineSigner, Tokens } from '@esper/core';
import { startTestRun } from '@esper/core/testing';
import { CommandType } from '@esper/core/leyline';
import { oonaMemory } from '@esper/plugin-oona-memory';
import { describe, expect, test } from 'vitest';
import { FIELD_REPORT_INDEX_FILE, signPolicyUpdate, tamiyo } from '../src/index.js';
import { DORMANT, TRAINING, statePacket } from './gnn-harness.js';

describe('tamiyo({ controller: "gnn" }) in a run with Oona', () => {
  test('field reports of GNN decisions are logged under <run.dir>/tamiyo and published by flush(); updates verify with the run signer', { timeout: 120_000 }, async () => {
    await using t = await startTestRun({
      plugins: [oonaMemory(), tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'] } })],
      config: { security: { leylineSecret: 'gnn-plugin-secret' }, tamiyo: { fieldReports: { observationWindowEpochs: 2 } } },
    });
    const controller = t.resolve(Tokens.Controller);
    const first = await controller.evaluateEpoch(statePacket([DORMANT, TRAINING], 0));
    expect(first.commandType).toBe(CommandType.COMMAND_SEED);
    const second = await controller.evaluateEpoch(statePacket([TRAINING, TRAINING], 1));
    expect(await controller.flush()).toBe(true);
    const index = JSON.parse(readFileSync(join(t.info.dir, 'tamiyo', FIELD_REPORT_INDEX_FILE), 'utf8')) as Record<string, { published: boolean }>;
    expect(Object.keys(index).sort()).toStrictEqual([`field-report-${first.commandId}`, `field-report-${second.commandId}`, `fr-synth-${first.commandId}-0+2`].sort());
    expect(Object.values(index).every((e) => e.published)).toBe(true);

    // P3 through the plugin: the run's Signer (ESPER_LEYLINE_SECRET) verifies update bundles.
    const signer = t.resolve(Tokens.Signer);
    const renamed = await controller.ingestPolicyUpdate(signPolicyUpdate({ policyId: 'meta-1', tamiyoPolicyVersion: 'tamiyo_gnn_v1@meta-1' }, { format: 'metadata' }, signer));
    expect(renamed).toStrictEqual({ accepted: true, policyVersion: 'tamiyo_gnn_v1@meta-1' });
    const forged = await controller.ingestPolicyUpdate(signPolicyUpdate({ policyId: 'meta-2' }, { format: 'metadata' }, new LeylineSigner('not-the-run-secret')));
    expect(forged).toStrictEqual({ accepted: false, reason: 'invalid_signature' });
  });
});
