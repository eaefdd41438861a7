import { LeylineSigner, ManualClock } from '@esper/core';
import type { TelemetryPacket } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import {
  checkOnnxModel,
  decodeBundle,
  encodeBundle,
  encodeSafetensors,
  parseSafetensors,
  PolicyUpdateIngestor,
  PolicyValidationError,
  signPolicyUpdate,
  type PolicyOwner,
  type PolicyPayload,
  type WeightTensor,
  verifyBundle,
} from '../src/index.js';

const ARCH = 'tamiyo_gnn_v1';
const f32 = (...values: number[]): WeightTensor => ({ dtype: 'F32', shape: [values.length], bytes: new Uint8Array(new Float32Array(values).buffer) });
const read = (t: WeightTensor | undefined) => [...new Float32Array(t!.bytes.slice().buffer)];

/** A toy policy: named f32 vectors with fixed shapes, swapped by reference. */
class ToyPolicy implements PolicyOwner<Map<string, number[]>> {
  readonly architectureVersion = ARCH;
  live = new Map([
    ['w', [1, 2, 3]],
    ['b', [0]],
  ]);
  failSwap = false;
  prepare(payload: PolicyPayload): Map<string, number[]> {
    if (payload.format !== 'safetensors') throw new PolicyValidationError('incompatible_update', 'toy policy loads weights only');
    if (payload.header.architecture_version !== undefined && payload.header.architecture_version !== ARCH) {
      throw new PolicyValidationError('shape_mismatch', `checkpoint architecture ${payload.header.architecture_version}`);
    }
    if (payload.header.registries?.layer_type !== undefined && payload.header.registries.layer_type !== 'digest-1') {
      throw new PolicyValidationError('registry_mismatch', 'layer_type registry digest differs');
    }
    const next = new Map<string, number[]>();
    for (const [name, values] of this.live) {
      const t = payload.weights.tensors.get(name);
      if (t === undefined || t.dtype !== 'F32' || t.shape.length !== 1 || t.shape[0] !== values.length) {
        throw new PolicyValidationError('shape_mismatch', `tensor ${name} missing or of another shape`);
      }
      next.set(name, read(t));
    }
    return next;
  }
  swap(candidate: Map<string, number[]>): void {
    if (this.failSwap) throw new Error('device lost during swap');
    this.live = candidate;
  }
}

function setup(settings: { verify?: boolean; maxAgeSec?: number } = {}) {
  const clock = new ManualClock();
  const signer = new LeylineSigner('policy-secret');
  const owner = new ToyPolicy();
  const telemetry: TelemetryPacket[] = [];
  const ingestor = new PolicyUpdateIngestor({
    owner,
    signer,
    clock,
    settings,
    telemetry: { emit: (p) => (telemetry.push(p), Promise.resolve()) },
  });
  const weights = (w = [4, 5, 6], b = [7]) => encodeSafetensors({ w: f32(...w), b: f32(...b) });
  const update = (policyId: string, extra: Partial<{ version: string; issuedAtMs: number; body: Uint8Array; arch: string; layerDigest: string }> = {}) =>
    signPolicyUpdate(
      { policyId, tamiyoPolicyVersion: extra.version ?? ARCH, issuedAtMs: extra.issuedAtMs ?? clock.nowMs() },
      {
        format: 'safetensors',
        body: extra.body ?? weights(),
        ...(extra.arch !== undefined ? { architectureVersion: extra.arch } : {}),
        ...(extra.layerDigest !== undefined ? { registries: { layer_type: extra.layerDigest } } : {}),
      },
      signer,
    );
  const reasons = () => telemetry.map((p) => p.events[0]?.attributes.reason);
  return { clock, signer, owner, ingestor, update, weights, telemetry, reasons };
}

describe('policy updates (P3)', () => {
  test('a signed, fresh, matching update is validated, loaded and swapped; the version and history follow', async () => {
    const s = setup({ maxAgeSec: 60 });
    const before = s.owner.live;
    expect(await s.ingestor.ingest(s.update('p-1', { version: `${ARCH}@2` }))).toStrictEqual({ accepted: true, policyVersion: `${ARCH}@2` });
    expect(s.owner.live).not.toBe(before);
    expect(Object.fromEntries(s.owner.live)).toStrictEqual({ w: [4, 5, 6], b: [7] });
    expect(s.ingestor.history().map((h) => h.policyId)).toStrictEqual(['p-1']);
    expect(s.telemetry).toStrictEqual([]);
  });

  test.each([
    ['bad signature', 'invalid_signature'],
    ['stale', 'stale_update'],
    ['future-dated', 'stale_update'],
    ['wrong version', 'version_mismatch'],
    ['corrupt model', 'invalid_payload'],
    ['corrupt bundle body', 'invalid_payload'],
    ['pickled archive', 'invalid_payload'],
    ['empty payload', 'invalid_payload'],
    ['wrong shape', 'shape_mismatch'],
    ['legacy architecture in the checkpoint', 'shape_mismatch'],
    ['registry digest altered', 'registry_mismatch'],
    ['ONNX for a weights-only owner', 'incompatible_update'],
    ['swap fails', 'swap_failed'],
  ] as const)('rejection (%s → %s) leaves the running policy and version untouched and emits the reason', async (what, reason) => {
    const s = setup({ maxAgeSec: 60 });
    const live = s.owner.live;
    const snapshot = structuredClone(Object.fromEntries(live));
    let update = s.update('p-x');
    switch (what) {
      case 'bad signature': {
        const other = new LeylineSigner('someone-else');
        update = signPolicyUpdate({ policyId: 'p-x', tamiyoPolicyVersion: ARCH, issuedAtMs: s.clock.nowMs() }, { format: 'safetensors', body: s.weights() }, other);
        break;
      }
      case 'stale':
        update = s.update('p-x', { issuedAtMs: s.clock.nowMs() - 3_600_000 });
        break;
      case 'future-dated':
        update = s.update('p-x', { issuedAtMs: s.clock.nowMs() + 3_600_000 });
        break;
      case 'wrong version':
        update = s.update('p-x', { version: 'wrong-version' });
        break;
      case 'corrupt model': {
        // A signed bundle whose safetensors body is truncated: the signature is fine, the weights are not.
        const body = s.weights();
        update = s.update('p-x', { body: body.subarray(0, body.byteLength - 3) });
        break;
      }
      case 'corrupt bundle body': {
        const payload = update.payload.slice();
        payload[payload.length - 1] = payload.at(-1)! ^ 0xff;
        update.payload = payload;
        break;
      }
      case 'pickled archive':
        update.payload = new Uint8Array([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x8c, 0x05, 0x70, 0x6f, 0x73, 0x69, 0x78]);
        break;
      case 'empty payload':
        update.payload = new Uint8Array();
        break;
      case 'wrong shape':
        update = s.update('p-x', { body: s.weights([1, 2], [3]) });
        break;
      case 'legacy architecture in the checkpoint':
        update = s.update('p-x', { arch: 'legacy' });
        break;
      case 'registry digest altered':
        update = s.update('p-x', { layerDigest: 'deadbeef' });
        break;
      case 'ONNX for a weights-only owner':
        update = signPolicyUpdate(
          { policyId: 'p-x', tamiyoPolicyVersion: ARCH, issuedAtMs: s.clock.nowMs() },
          { format: 'onnx', body: new Uint8Array([0x08, 0x07, 0x3a, 0x00]) }, // ir_version 7, empty graph
          s.signer,
        );
        break;
      case 'swap fails':
        s.owner.failSwap = true;
        break;
    }
    expect(await s.ingestor.ingest(update)).toStrictEqual({ accepted: false, reason });
    expect(s.owner.live).toBe(live);
    expect(Object.fromEntries(s.owner.live)).toStrictEqual(snapshot);
    expect(s.ingestor.policyVersion).toBe(ARCH);
    expect(s.ingestor.history()).toStrictEqual([]);
    expect(s.reasons()).toStrictEqual([reason]);
    expect(s.telemetry[0]).toMatchObject({ packetId: 'tamiyo-policy-update-error' });
    expect(s.telemetry[0]!.events[0]!.description).toBe('policy_update_rejected');
  });

  test('a signature covers the update fields: re-dating or renaming a signed update breaks it; a replayed policy_id is refused', async () => {
    const s = setup();
    const update = s.update('p-1');
    const redated = structuredClone(update);
    redated.policyId = 'p-2';
    expect(await s.ingestor.ingest(redated)).toStrictEqual({ accepted: false, reason: 'invalid_signature' });
    expect((await s.ingestor.ingest(update)).accepted).toBe(true);
    expect(await s.ingestor.ingest(update)).toStrictEqual({ accepted: false, reason: 'replayed_update' });
  });

  test('without a signing key every update is rejected; with verify off version and age are not checked, the signature still is', async () => {
    const s = setup();
    const unsignedIngestor = new PolicyUpdateIngestor({ owner: s.owner, signer: undefined });
    expect(await unsignedIngestor.ingest(s.update('p-1'))).toStrictEqual({ accepted: false, reason: 'invalid_signature' });
    const lax = setup({ verify: false, maxAgeSec: 1 });
    expect((await lax.ingestor.ingest(lax.update('p-1', { version: 'other', issuedAtMs: 0 }))).accepted).toBe(true);
  });

  test('a metadata-only bundle renames the policy version without touching the policy', async () => {
    const s = setup();
    const live = s.owner.live;
    const update = signPolicyUpdate({ policyId: 'm-1', tamiyoPolicyVersion: `${ARCH}@meta` }, { format: 'metadata' }, s.signer);
    expect(await s.ingestor.ingest(update)).toStrictEqual({ accepted: true, policyVersion: `${ARCH}@meta` });
    expect(s.owner.live).toBe(live);
  });

  test('concurrent updates apply one at a time, in order', async () => {
    const s = setup();
    const results = await Promise.all([s.update('a', { body: s.weights([1, 1, 1]) }), s.update('b', { body: s.weights([2, 2, 2]) })].map((u) => s.ingestor.ingest(u)));
    expect(results.every((r) => r.accepted)).toBe(true);
    expect(s.owner.live.get('w')).toStrictEqual([2, 2, 2]);
  });
});

describe('payload formats', () => {
  test('safetensors round-trips and rejects overlapping, short or gapped data', () => {
    const bytes = encodeSafetensors({ a: f32(1, 2), b: f32(3) }, { arch: ARCH });
    const parsed = parseSafetensors(bytes);
    expect(read(parsed.tensors.get('a'))).toStrictEqual([1, 2]);
    expect(parsed.metadata).toStrictEqual({ arch: ARCH });
    expect(() => parseSafetensors(bytes.subarray(0, bytes.byteLength - 1))).toThrow(PolicyValidationError);
    expect(() => parseSafetensors(new Uint8Array([...bytes, 0]))).toThrow(/after the last tensor/);
    expect(() => parseSafetensors(new Uint8Array(4))).toThrow(/header length/);
  });

  test('an ONNX model needs ir_version and a graph; other bytes are refused', () => {
    expect(() => checkOnnxModel(new Uint8Array([0x08, 0x07, 0x3a, 0x00]))).not.toThrow();
    expect(() => checkOnnxModel(new Uint8Array([0x08, 0x07]))).toThrow(/no graph/);
    expect(() => checkOnnxModel(new TextEncoder().encode('import os; os.system("x")'))).toThrow(PolicyValidationError);
  });

  test('a bundle whose header is altered after signing no longer verifies', () => {
    const signer = new LeylineSigner('k');
    const update = signPolicyUpdate({ policyId: 'p' }, { format: 'metadata' }, signer);
    const bundle = decodeBundle(update.payload);
    expect(verifyBundle(update, bundle, signer)).toBe(true);
    const forged = decodeBundle(encodeBundle({ ...bundle.header, architecture_version: 'other' }, new Uint8Array()));
    expect(verifyBundle(update, forged, signer)).toBe(false);
  });
});
