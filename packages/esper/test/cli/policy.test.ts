// `esper policy pack|publish` (decision 0064): a signed policy update from a weights file, written
// to a file or published on the config's Oona, where a running Tamiyo (GNN) ingests it.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import { LeylineSigner, Tokens } from '@esper/core';
import { PolicyUpdateSchema } from '@esper/core/leyline';
import { startTestRun } from '@esper/core/testing';
import { describe, expect, it } from 'vitest';
// esper does not depend on the plugins: the tests load them from the workspace.
import { oonaMemory } from '../../../plugin-oona-memory/src/index.js';
import * as tamiyoPackage from '../../../plugin-tamiyo/src/index.js';
import { runCli, type CliIo } from '../../src/index.js';

const { decodeBundle, initPolicyWeights, savePolicyWeights, tamiyo, verifyBundle } = tamiyoPackage;
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const SECRET = 'esper-policy-cli-secret';

async function weightsFile(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'esper-policy-cli-')), 'policy.ckpt');
  await savePolicyWeights(path, initPolicyWeights(3));
  return path;
}

async function cli(argv: string[], env: Record<string, string> = { ESPER_LEYLINE_SECRET: SECRET }) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env, cwd: fixtures, policyTools: () => Promise.resolve(tamiyoPackage) };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

describe('esper policy', () => {
  it('pack writes a PolicyUpdate whose bundle verifies with ESPER_LEYLINE_SECRET', { timeout: 30_000 }, async () => {
    const weights = await weightsFile();
    const out = join(mkdtempSync(join(tmpdir(), 'esper-policy-out-')), 'update.bin');
    const { code, stdout, stderr } = await cli(['policy', 'pack', weights, '--version', 'ppo-1', '--out', out]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^packed ppo-1-[0-9a-f]{12} \(tamiyo_gnn_v1@ppo-1, \d+ bytes\) to /);
    const update = fromBinary(PolicyUpdateSchema, readFileSync(out));
    expect(update.tamiyoPolicyVersion).toBe('tamiyo_gnn_v1@ppo-1');
    const bundle = decodeBundle(update.payload);
    expect(bundle.header).toMatchObject({ format: 'safetensors', architecture_version: 'tamiyo_gnn_v1' });
    expect(verifyBundle(update, bundle, new LeylineSigner(SECRET))).toBe(true);
    expect(verifyBundle(update, bundle, new LeylineSigner('another-key'))).toBe(false);
  });

  it('refuses without a secret (exit 1, ESPER_CLI_POLICY) and without --version (exit 2)', async () => {
    const weights = await weightsFile();
    const noSecret = await cli(['policy', 'pack', weights, '--version', 'x', '--out', join(tmpdir(), 'never.bin')], {});
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain('ESPER_CLI_POLICY');
    const noVersion = await cli(['policy', 'publish', 'policy.config.mjs', weights]);
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toContain('--version');
    const notWeights = await cli(['policy', 'pack', join(fixtures, 'plugin.mjs'), '--version', 'x', '--out', join(tmpdir(), 'never.bin')]);
    expect(notWeights.code).toBe(1);
    expect(notWeights.stderr).toContain('ESPER_TAMIYO_POLICY_PUBLISH');
  });

  it("publish sends the update on the config's Oona, booting only the Oona plugin; a running GNN Tamiyo accepts it", { timeout: 60_000 }, async () => {
    const broker = `esper-policy-cli-${process.pid}-${Date.now()}`;
    (globalThis as { __esperPolicyTestOona?: unknown }).__esperPolicyTestOona = oonaMemory({ broker });
    await using t = await startTestRun({
      plugins: [oonaMemory({ broker }), tamiyo({ controller: 'gnn', gnn: { blueprints: ['BP001'], devices: ['cpu'], worker: false }, policyUpdates: { blockMs: 50 } })],
      config: { security: { leylineSecret: SECRET } },
    });
    const weights = await weightsFile();
    const { code, stdout, stderr } = await cli(['policy', 'publish', 'policy.config.mjs', weights, '--version', 'cli-1', '--id', 'cli-update-1']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^published cli-update-1 \(tamiyo_gnn_v1@cli-1, \d+ bytes\) to oona\.policy\n$/);
    const oona = t.resolve(Tokens.Oona);
    const end = Date.now() + 30_000;
    while (t.logged('info', 'policy update from Oona').length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(t.logged('info', 'policy update from Oona accepted').map((l) => [l.fields.policyId, l.fields.policyVersion])).toStrictEqual([['cli-update-1', 'tamiyo_gnn_v1@cli-1']]);
    // Tamiyo reads with a group of its own instance (decision 0064): nothing is left there.
    const own = (await oona.describeGroups!(oona.streams.policy)).find((g) => g.name === tamiyoPackage.policyUpdateGroup(oona));
    expect(own).toMatchObject({ pending: 0, lag: 0 });
  });
});
