// Building signed updates from files (decision 0064): ONNX models and weights files become
// bundles that a GNN controller verifies and accepts; anything else is refused before publishing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeylineSigner, SystemClock } from '@esper/core';
import { OonaClient } from '@esper/core/oona';
import { serializeModel } from '@esper/onnx';
import { MemoryBroker, MemoryStreamBackend } from '@esper/plugin-oona-memory';
import { afterEach, describe, expect, test } from 'vitest';
import type { GnnController } from '../src/gnn/controller.js';
import { decodeBundle } from '../src/policy-updates/bundle.js';
import { consumePolicyUpdates, emptyConsumerStats } from '../src/policy-updates/consume.js';
import { packPolicyUpdate, policyVersionFor, publishPolicyUpdate } from '../src/policy-updates/publish.js';
import { ARCHITECTURE_VERSION, initPolicyWeights } from '../src/policy/architecture.js';
import { buildPolicyGraph } from '../src/policy/graph.js';
import { savePolicyWeights } from '../src/policy/weights.js';
import { SECRET, SMALL, gnnHarness } from './gnn-harness.js';

const signer = new LeylineSigner(SECRET);
const dir = mkdtempSync(join(tmpdir(), 'tamiyo-publish-'));
const open: Array<{ dispose(): Promise<void> } | { close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await ('dispose' in o ? o.dispose() : o.close()).catch(() => undefined);
});

async function controller(): Promise<GnnController> {
  const h = await gnnHarness({ updates: { signer, settings: { verify: true, maxAgeSec: 60 } }, clock: new SystemClock() });
  open.push(h.controller);
  return h.controller;
}

describe('packPolicyUpdate / publishPolicyUpdate', () => {
  test('a bare tag gets the architecture prefix; a full version is kept', () => {
    expect(policyVersionFor('ppo-17')).toBe(`${ARCHITECTURE_VERSION}@ppo-17`);
    expect(policyVersionFor(` ${ARCHITECTURE_VERSION}@x `)).toBe(`${ARCHITECTURE_VERSION}@x`);
    expect(policyVersionFor(ARCHITECTURE_VERSION)).toBe(ARCHITECTURE_VERSION);
  });

  test('an .onnx model and a weights checkpoint become signed bundles the controller accepts', async () => {
    const onnx = join(dir, 'policy.onnx');
    writeFileSync(onnx, serializeModel(buildPolicyGraph(initPolicyWeights(13, SMALL), SMALL)));
    const ckpt = join(dir, 'policy.ckpt');
    await savePolicyWeights(ckpt, initPolicyWeights(14, SMALL), SMALL);
    const gnn = await controller();

    const model = await packPolicyUpdate(signer, { path: onnx, policyVersion: 'onnx-13' });
    expect(decodeBundle(model.payload).header.format).toBe('onnx');
    expect(model.policyId).toMatch(/^onnx-13-[0-9a-f]{12}$/);
    expect(await gnn.ingestPolicyUpdate(model)).toStrictEqual({ accepted: true, policyVersion: `${ARCHITECTURE_VERSION}@onnx-13` });

    const weights = await packPolicyUpdate(signer, { path: ckpt, policyVersion: 'w-14', dims: SMALL, policyId: 'w-14' });
    expect(decodeBundle(weights.payload).header).toMatchObject({ format: 'safetensors', architecture_version: ARCHITECTURE_VERSION });
    expect(await gnn.ingestPolicyUpdate(weights)).toStrictEqual({ accepted: true, policyVersion: `${ARCHITECTURE_VERSION}@w-14` });
    // Publishing the same file under the same id again is a replay.
    expect(await gnn.ingestPolicyUpdate(await packPolicyUpdate(signer, { path: ckpt, policyVersion: 'w-14', dims: SMALL, policyId: 'w-14' }))).toStrictEqual({
      accepted: false,
      reason: 'replayed_update',
    });
  });

  test('files that are not a model or weights of the architecture are refused before anything is published', async () => {
    const bogus = join(dir, 'bogus.onnx');
    writeFileSync(bogus, 'not a model');
    await expect(packPolicyUpdate(signer, { path: bogus, policyVersion: 'x' })).rejects.toMatchObject({ code: 'ESPER_TAMIYO_POLICY_PUBLISH' });
    const wide = join(dir, 'reference.ckpt');
    await savePolicyWeights(wide, initPolicyWeights(1));
    await expect(packPolicyUpdate(signer, { path: wide, policyVersion: 'x', dims: SMALL })).rejects.toMatchObject({ code: 'ESPER_TAMIYO_POLICY_PUBLISH' });
    await expect(packPolicyUpdate(signer, { path: join(dir, 'missing.safetensors'), policyVersion: 'x' })).rejects.toMatchObject({ code: 'ESPER_TAMIYO_POLICY_PUBLISH' });
  });

  test('publishPolicyUpdate lands on the policy stream, where a consumer ingests it', async () => {
    const ckpt = join(dir, 'publish.ckpt');
    await savePolicyWeights(ckpt, initPolicyWeights(15, SMALL), SMALL);
    const oona = new OonaClient({ backend: new MemoryStreamBackend(new MemoryBroker(new SystemClock())), clock: new SystemClock(), signer, settings: { group: 'tamiyo' } });
    open.push(oona);
    await oona.ensureGroups();
    const published = await publishPolicyUpdate(oona, signer, { path: ckpt, policyVersion: 'pub-15', dims: SMALL });
    expect(published).toMatchObject({ published: true, stream: 'oona.policy' });
    expect(published.sizeBytes).toBe(published.update.payload.byteLength);
    const gnn = await controller();
    const stats = emptyConsumerStats();
    expect(await consumePolicyUpdates(oona, gnn, { blockMs: 100, stats })).toBe(1);
    expect(stats).toMatchObject({ accepted: 1, rejected: 0 });
    expect(gnn.policyVersion).toBe(`${ARCHITECTURE_VERSION}@pub-15`);
  });
});
