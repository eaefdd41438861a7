import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { definePlugin, Tokens, type AnyPlugin, type BlueprintMetadataSource } from '@esper/core';
import { BlueprintDescriptorSchema, CommandType, HazardBand } from '@esper/core/leyline';
import { startTestRun } from '@esper/core/testing';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tamiyo } from '../src/index.js';
import { DORMANT, statePacket } from './gnn-harness.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tamiyo-metadata-plugin-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A plugin that provides `Tokens.BlueprintMetadata` (an Urza client would), counting its lookups. */
function urza(lookups: string[]): AnyPlugin {
  const source: BlueprintMetadataSource = {
    lookup: (id) => {
      lookups.push(id);
      return Promise.resolve({ descriptor: create(BlueprintDescriptorSchema, { blueprintId: id, risk: 0.2 }), bsds: { hazardBand: HazardBand.CRITICAL } });
    },
  };
  return definePlugin({
    name: 'test-urza',
    configKey: 'testUrza',
    provides: [Tokens.BlueprintMetadata],
    setup(ctx) {
      ctx.provideValue(Tokens.BlueprintMetadata, source);
    },
  });
}

describe('tamiyo({ controller: "gnn" }): where blueprint metadata comes from (decision 0065)', () => {
  test('a plugin providing Tokens.BlueprintMetadata gates the GNN decisions (BSDS hazard CRITICAL → PAUSE)', { timeout: 120_000 }, async () => {
    const lookups: string[] = [];
    await using t = await startTestRun({
      plugins: [urza(lookups), tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'] } })],
    });
    const command = await t.resolve(Tokens.Controller).evaluateEpoch(statePacket([DORMANT], 1));
    expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
    expect(command.annotations).toMatchObject({ risk_reason: 'bsds_hazard_critical', blueprint_risk: '0.20', bsds_hazard_band: 'CRITICAL' });
    expect(lookups).toEqual(['BP001']); // the pre-warm; the decision read the cache
  });

  test('tamiyo.gnn.blueprintMetadataPath: a missing or invalid file fails the start with ESPER_TAMIYO_BLUEPRINT_METADATA_FILE', { timeout: 60_000 }, async () => {
    const path = join(dir, 'urza.json');
    const start = () => startTestRun({ plugins: [tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'], blueprintMetadataPath: path } })] });
    await expect(start()).rejects.toMatchObject({ code: 'ESPER_KERNEL_HOOK_FAILED', cause: { code: 'ESPER_TAMIYO_BLUEPRINT_METADATA_FILE', message: expect.stringMatching(/urza\.json: does not exist/) } });
    await writeFile(path, JSON.stringify([{ blueprint_id: 'BP001', quarantine: true }]));
    await expect(start()).rejects.toMatchObject({ cause: { code: 'ESPER_TAMIYO_BLUEPRINT_METADATA_FILE', message: expect.stringMatching(/blueprints\[0\] \("BP001"\) is invalid: .*quarantine/) } });
  });
});
