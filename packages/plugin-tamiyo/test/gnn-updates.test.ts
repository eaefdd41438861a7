import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LeylineSigner, ManualClock } from '@esper/core';
import { CommandType, TelemetryLevel, type AdaptationCommand } from '@esper/core/leyline';
import { GraphBuilder, serializeModel, tensor, type ParameterSet } from '@esper/onnx';
import { afterEach, describe, expect, test } from 'vitest';
import { onnxRunnerFactory, type PolicyRunnerFactory } from '../src/backends/onnx-backend.js';
import type { GnnController } from '../src/gnn/controller.js';
import { registryDigests } from '../src/gnn/policy-owner.js';
import { POLICY_UPDATE_REJECTED_EVENT } from '../src/policy-updates/ingest.js';
import { signPolicyUpdate } from '../src/policy-updates/bundle.js';
import { encodeSafetensors, parseSafetensors, type WeightTensor } from '../src/policy-updates/formats.js';
import { ARCHITECTURE_VERSION, initPolicyWeights } from '../src/policy/architecture.js';
import { buildPolicyGraph } from '../src/policy/graph.js';
import { canonicalWeightName, encodePolicyWeights, loadPolicyWeights, policyWeightsFromSafetensors } from '../src/policy/weights.js';
import { DORMANT, SECRET, SMALL, TRAINING, gnnHarness, statePacket } from './gnn-harness.js';

const controllers: GnnController[] = [];
afterEach(async () => {
  await Promise.allSettled(controllers.splice(0).map((c) => c.dispose()));
});

const START = Date.UTC(2026, 0, 1);
const signer = new LeylineSigner(SECRET);

async function harness(options: Parameters<typeof gnnHarness>[0] = {}) {
  const clock = new ManualClock(START);
  const h = await gnnHarness({ clock, updates: { signer, settings: { verify: true, maxAgeSec: 60 } }, ...options });
  controllers.push(h.controller);
  return h;
}

/** What a policy answers on a fixed packet: the policy's own annotations and record (command ids and times aside). */
function answer(c: AdaptationCommand): Record<string, string> {
  const keep = ['policy_action', 'policy_param_delta', 'policy_value_estimate', 'policy_risk_index', 'policy_risk_score', 'blending_method', 'blending_schedule_start', 'blending_schedule_end', 'selected_seed', 'breaker_open_score', 'breaker_close_score'];
  return Object.fromEntries(keep.map((k) => [k, c.annotations[k] ?? '']));
}

const probe = () => statePacket([TRAINING, DORMANT, DORMANT], 3, 0.4);
const weightsUpdate = (policyId: string, weights: ParameterSet, fields: { issuedAtMs?: number; version?: string } = {}, bundle: { registries?: Record<string, string> } = {}, by = signer) =>
  signPolicyUpdate(
    { policyId, tamiyoPolicyVersion: fields.version ?? `${ARCHITECTURE_VERSION}@${policyId}`, issuedAtMs: fields.issuedAtMs ?? START },
    { format: 'safetensors', body: encodePolicyWeights(weights, SMALL), architectureVersion: ARCHITECTURE_VERSION, ...bundle },
    by,
  );

describe('GNN policy updates (P3)', () => {
  // Every decision also updates the builder's normaliser and registries (and a graft moves the
  // blueprint rotation), so a policy's answer is compared with a twin that made the same calls.
  test('a signed safetensors update swaps the policy: decisions change to exactly those of the new weights', async () => {
    const h = await harness();
    const reference = await harness({ seed: 12 });
    const before = answer(await h.controller.evaluateEpoch(probe()));
    expect(answer(await reference.controller.evaluateEpoch(probe()))).not.toStrictEqual(before);

    const oldSession = h.controller.session;
    const result = await h.controller.ingestPolicyUpdate(weightsUpdate('p-12', initPolicyWeights(12, SMALL)));
    expect(result).toStrictEqual({ accepted: true, policyVersion: `${ARCHITECTURE_VERSION}@p-12` });
    expect(h.controller.session).not.toBe(oldSession);
    expect(h.controller.policyVersion).toBe(`${ARCHITECTURE_VERSION}@p-12`);
    expect(h.controller.policyUpdates().map((u) => [u.policyId, u.format])).toStrictEqual([['p-12', 'safetensors']]);
    const after = await h.controller.evaluateEpoch(probe());
    expect(answer(after)).toStrictEqual(answer(await reference.controller.evaluateEpoch(probe())));
    expect(h.verifier.verify(after)).toEqual({ ok: true });
    // The decision packet names the new version (first 8 characters) and no rejection was emitted.
    expect(h.telemetry.at(-1)!.packet.systemHealth?.indicators.policy).toBe(`${ARCHITECTURE_VERSION}@p-12`.slice(0, 8));
    expect(h.telemetry.flatMap((t) => t.packet.events.map((e) => e.description))).not.toContain(POLICY_UPDATE_REJECTED_EVENT);
  });

  test('a signed ONNX model update is loaded as it is and answers as the model it carries', async () => {
    const h = await harness();
    const reference = await harness({ seed: 13 });
    const model = serializeModel(buildPolicyGraph(initPolicyWeights(13, SMALL), SMALL));
    const update = signPolicyUpdate({ policyId: 'o-13', issuedAtMs: START }, { format: 'onnx', body: model }, signer);
    expect(await h.controller.ingestPolicyUpdate(update)).toMatchObject({ accepted: true });
    expect(answer(await h.controller.evaluateEpoch(probe()))).toStrictEqual(answer(await reference.controller.evaluateEpoch(probe())));
  });

  test('rejections name their reason, emit policy_update_rejected, and the old policy answers identically', async () => {
    const h = await harness();
    const twin = await harness();
    const both = async () => [answer(await h.controller.evaluateEpoch(probe())), answer(await twin.controller.evaluateEpoch(probe()))];
    const [first, expected] = await both();
    expect(first).toStrictEqual(expected);
    const session = h.controller.session;
    const other = initPolicyWeights(12, SMALL);
    const narrow = initPolicyWeights(12, { ...SMALL, sageHidden: 8 });
    const garbage = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
    // A valid ONNX model of another interface (one input, one output).
    const g = new GraphBuilder('not-a-policy');
    g.output(g.input('x', 'float32', [1]), 'y');
    const foreign = serializeModel(g.build());
    const cases: [string, ReturnType<typeof weightsUpdate>][] = [
      ['invalid_signature', weightsUpdate('bad-sig', other, {}, {}, new LeylineSigner('another-secret'))],
      ['stale_update', weightsUpdate('stale', other, { issuedAtMs: START - 3_600_000 })],
      ['version_mismatch', weightsUpdate('wrong-version', other, { version: 'wrong-version' })],
      ['shape_mismatch', signPolicyUpdate({ policyId: 'narrow', issuedAtMs: START }, { format: 'safetensors', body: encodePolicyWeights(narrow, { ...SMALL, sageHidden: 8 }) }, signer)],
      ['registry_mismatch', weightsUpdate('registry', other, {}, { registries: { ...registryDigests(h.controller.builder), activation_type: 'deadbeef' } })],
      ['invalid_payload', signPolicyUpdate({ policyId: 'garbage', issuedAtMs: START }, { format: 'safetensors', body: garbage }, signer)],
      ['invalid_payload', signPolicyUpdate({ policyId: 'garbage-onnx', issuedAtMs: START }, { format: 'onnx', body: garbage }, signer)],
      ['incompatible_update', signPolicyUpdate({ policyId: 'foreign', issuedAtMs: START }, { format: 'onnx', body: foreign }, signer)],
    ];
    for (const [reason, update] of cases) {
      const result = await h.controller.ingestPolicyUpdate(update);
      expect(result, update.policyId).toStrictEqual({ accepted: false, reason });
      const rejection = h.telemetry.at(-1)!.packet;
      expect(rejection.packetId).toBe('tamiyo-policy-update-error');
      expect(rejection.events[0]).toMatchObject({ description: POLICY_UPDATE_REJECTED_EVENT, level: TelemetryLevel.WARNING, attributes: { reason, policy_id: update.policyId } });
      expect(h.controller.session).toBe(session);
      expect(h.controller.policyVersion).toBe(ARCHITECTURE_VERSION);
      const [got, want] = await both();
      expect(got, update.policyId).toStrictEqual(want);
    }
    expect(h.controller.policyUpdates()).toStrictEqual([]);
  });

  test('the swap is atomic: an inference in flight finishes on the old session, which is closed after it', async () => {
    const cpu = onnxRunnerFactory({ worker: false });
    const closed: number[] = [];
    let loads = 0;
    let gate: (() => void) | undefined;
    const createRunner: PolicyRunnerFactory = async (device, model) => {
      const id = ++loads;
      const real = await cpu(device, model);
      return {
        device,
        run: async (f, o) => {
          if (gate !== undefined && id === 1) await new Promise<void>((r) => (gate = r));
          return real.run(f, o);
        },
        dispose: async () => {
          closed.push(id);
          await real.dispose();
        },
      };
    };
    const h = await harness({ createRunner });
    const twin = await harness();
    const reference = await harness({ seed: 12 });
    const old: Record<string, string>[] = [];
    const updated: Record<string, string>[] = [];
    for (let i = 0; i < 3; i++) {
      old.push(answer(await twin.controller.evaluateEpoch(probe())));
      updated.push(answer(await reference.controller.evaluateEpoch(probe())));
    }
    expect(answer(await h.controller.evaluateEpoch(probe()))).toStrictEqual(old[0]);
    gate = () => undefined; // the next run on session 1 waits until released
    const inFlight = h.controller.evaluateEpoch(probe());
    await new Promise((r) => setTimeout(r, 10));
    expect(await h.controller.ingestPolicyUpdate(weightsUpdate('p-12', initPolicyWeights(12, SMALL)))).toMatchObject({ accepted: true });
    expect(closed).toStrictEqual([]); // session 1 still runs the decision in flight
    gate();
    expect(answer(await inFlight)).toStrictEqual(old[1]);
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toStrictEqual([1]);
    expect(answer(await h.controller.evaluateEpoch(probe()))).toStrictEqual(updated[2]);
    expect((await h.controller.evaluateEpoch(statePacket([DORMANT], 4))).commandType).toBe(CommandType.COMMAND_SEED);
  });
});

/** The weights as safetensors tensors under other key spellings. */
function spelled(weights: ParameterSet, rename: (name: string) => string): Uint8Array {
  const tensors = new Map<string, WeightTensor>();
  for (const [name, t] of weights) {
    const data = t.data as Float32Array;
    tensors.set(rename(name), { dtype: 'F32', shape: [...t.dims], bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
  }
  return encodeSafetensors(tensors);
}

describe('policy weights from PyTorch Geometric', () => {
  const rel = /convs\.([a-z]+)___([a-z_]+?)___([a-z]+)\./;

  test('relation keys in every PyG spelling map to the policy names; other keys are kept', () => {
    const ours = '_gat_layers.0.convs.activation___affects___layer.att_dst';
    // As PyG ≥ 2.4 writes them (the parity fixture's state_dict_key_sample).
    expect(canonicalWeightName('_gat_layers.0.convs.<activation___affects___layer>.att_dst')).toBe(ours);
    expect(canonicalWeightName('_gat_layers.0.convs.activation__affects__layer.att_dst')).toBe(ours);
    expect(canonicalWeightName("_gat_layers.0.convs.('activation', 'affects', 'layer').att_dst")).toBe(ours);
    expect(canonicalWeightName("_gat_layers.0.convs.['activation', 'affects', 'layer'].att_dst")).toBe(ours);
    expect(canonicalWeightName('module._orig_mod._sage_layers.1.convs.<seed___monitors___layer>.lin_l.weight')).toBe('_sage_layers.1.convs.seed___monitors___layer.lin_l.weight');
    expect(canonicalWeightName('_gat_layers.1.convs.<seed___peer___seed>.bias')).toBe('_gat_layers.1.convs.seed___peer___seed.bias');
    expect(canonicalWeightName('encoders.seed.linear.weight')).toBe('encoders.seed.linear.weight');
    expect(canonicalWeightName('_orig_mod.policy_head.bias')).toBe('policy_head.bias');
  });

  test('a safetensors state_dict exported from PyG loads directly with loadPolicyWeights (brackets, compiled duplicates)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tamiyo-pyg-'));
    const weights = initPolicyWeights(5, SMALL);
    const pyg = join(dir, 'policy.safetensors');
    writeFileSync(pyg, spelled(weights, (n) => n.replace(rel, 'convs.<$1___$2___$3>.')));
    const loaded = await loadPolicyWeights(pyg, SMALL);
    for (const [name, t] of weights) expect(loaded.get(name).data, name).toStrictEqual(t.data);

    // torch.compile keeps each weight twice (`_orig_mod.` copy): equal copies are one weight.
    const twice = new Map<string, WeightTensor>();
    for (const [k, t] of parseSafetensors(spelled(weights, (n) => n)).tensors) {
      twice.set(k, t);
      twice.set(`_orig_mod.${k.replace(rel, "convs.('$1', '$2', '$3').")}`, t);
    }
    const both = policyWeightsFromSafetensors(parseSafetensors(encodeSafetensors(twice)), SMALL);
    expect([...both].length).toBe([...weights].length);
  });

  test('the parity model\'s state_dict() saved by PyTorch Geometric (scripts/export_pyg_state_dict.py) loads directly and equals the fixture weights', async () => {
    const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'gnn-parity');
    const inputs = JSON.parse(readFileSync(join(fixtures, 'inputs.json'), 'utf8')) as {
      dims: typeof SMALL;
      weights: { file: string; tensors: { name: string; offset: number; length: number }[] };
    };
    const pyg = join(fixtures, 'pyg_state_dict.safetensors');
    // PyG's own spelling of the relation keys, as written by torch_geometric's HeteroConv.
    expect([...parseSafetensors(readFileSync(pyg)).tensors.keys()].filter((k) => k.includes('convs'))[0]).toMatch(/^_(?:gat|sage)_layers\.\d\.convs\.<[a-z]+___[a-z_]+___[a-z]+>\./);
    const loaded = await loadPolicyWeights(pyg, inputs.dims);
    const raw = readFileSync(join(fixtures, inputs.weights.file));
    const flat = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    for (const t of inputs.weights.tensors) expect(loaded.get(t.name).data, t.name).toStrictEqual(flat.slice(t.offset, t.offset + t.length));
  });

  test('safetensors of another architecture, another width or a non-float dtype are ESPER_TAMIYO_POLICY_WEIGHTS', () => {
    const weights = initPolicyWeights(5, SMALL);
    const file = parseSafetensors(spelled(weights, (n) => n));
    expect(() => policyWeightsFromSafetensors({ ...file, metadata: { architecture_version: 'legacy' } }, SMALL)).toThrow(/architecture "legacy"/);
    expect(() => policyWeightsFromSafetensors(file, { ...SMALL, sageHidden: 32 })).toThrow(expect.objectContaining({ code: 'ESPER_TAMIYO_POLICY_WEIGHTS' }));
    const ints = new Map(file.tensors);
    ints.set('policy_head.bias', { dtype: 'I32', shape: [32], bytes: new Uint8Array(128) });
    expect(() => policyWeightsFromSafetensors({ tensors: ints, metadata: {} }, SMALL)).toThrow(/I32/);
  });

  test('F16 and BF16 tensors are widened to float32', () => {
    const one = tensor('float32', [2], Float32Array.from([1.5, -2]));
    const half = new Uint8Array([0x00, 0x3e, 0x00, 0xc0]); // 1.5, -2 as IEEE half
    const bf16 = new Uint8Array([0xc0, 0x3f, 0x00, 0xc0]); // 1.5, -2 as bfloat16
    const weights = initPolicyWeights(5, SMALL);
    for (const [dtype, bytes] of [['F16', half], ['BF16', bf16]] as const) {
      const tensors = new Map(parseSafetensors(spelled(weights, (n) => n)).tensors);
      tensors.set('breaker_head.bias', { dtype, shape: [2], bytes });
      const loaded = policyWeightsFromSafetensors({ tensors, metadata: {} }, SMALL);
      expect(loaded.get('breaker_head.bias').data).toStrictEqual(one.data);
    }
  });
});
