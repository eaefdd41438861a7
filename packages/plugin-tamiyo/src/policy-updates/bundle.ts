import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type { Signer } from '@esper/core';
import { PolicyUpdateSchema, type PolicyUpdate } from '@esper/core/leyline';
import { PolicyValidationError } from './errors.js';

/** First bytes of a policy bundle (the `payload` of a `PolicyUpdate`). */
const MAGIC = new TextEncoder().encode('ESPRPOLB');
/** Largest bundle header accepted. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * What a bundle carries: an ONNX model, safetensors weights, or nothing (`metadata`: an update
 * that only renames the policy version). Never code: there is no format that is executed.
 */
export type PolicyBundleFormat = 'onnx' | 'safetensors' | 'metadata';

/** The header of a policy bundle. */
export interface PolicyBundleHeader {
  readonly format: PolicyBundleFormat;
  /** Architecture the payload was built for (checked by the policy owner). */
  readonly architecture_version?: string;
  /** Registry digests the payload was built against (checked by the policy owner). */
  readonly registries?: Readonly<Record<string, string>>;
  /** SHA-256 hex of the body. */
  readonly body_sha256: string;
  /** Base64 HMAC-SHA256 over {@link policySigningBytes}. */
  readonly signature: string;
}

/** A decoded bundle: header and body. */
export interface PolicyBundle {
  readonly header: PolicyBundleHeader;
  readonly body: Uint8Array;
}

/** What a producer puts in a bundle. */
export interface PolicyBundleInput {
  readonly format: PolicyBundleFormat;
  readonly body?: Uint8Array;
  readonly architectureVersion?: string;
  readonly registries?: Readonly<Record<string, string>>;
}

/**
 * The bytes a bundle's signature covers: the update's identity and timing (`version`,
 * `policy_id`, `training_run_id`, `tamiyo_policy_version`, `issued_at` in ms) and the header
 * without its signature (which binds the body through `body_sha256`), as canonical JSON (sorted
 * keys). A signature therefore cannot be moved to another update, re-dated, or kept over a
 * changed body.
 */
export function policySigningBytes(update: PolicyUpdate, header: Omit<PolicyBundleHeader, 'signature'>): Uint8Array {
  return new TextEncoder().encode(
    canonical({
      update: {
        version: update.version,
        policy_id: update.policyId,
        training_run_id: update.trainingRunId,
        tamiyo_policy_version: update.tamiyoPolicyVersion,
        issued_at_ms: update.issuedAt === undefined ? 0 : timestampMs(update.issuedAt),
      },
      header,
    }),
  );
}

/**
 * Builds a signed `PolicyUpdate`: `payload` is a bundle (`ESPRPOLB`, u32 LE header length,
 * JSON header, body) signed with `signer` (the same `ESPER_LEYLINE_SECRET` Tamiyo verifies with).
 * `issuedAtMs` defaults to now.
 */
export function signPolicyUpdate(
  fields: { readonly policyId: string; readonly tamiyoPolicyVersion?: string; readonly trainingRunId?: string; readonly issuedAtMs?: number },
  input: PolicyBundleInput,
  signer: Signer,
): PolicyUpdate {
  const update = create(PolicyUpdateSchema, {
    version: 1,
    policyId: fields.policyId,
    trainingRunId: fields.trainingRunId ?? '',
    tamiyoPolicyVersion: fields.tamiyoPolicyVersion ?? '',
    issuedAt: timestampFromMs(fields.issuedAtMs ?? Date.now()),
  });
  const body = input.body ?? new Uint8Array();
  const unsigned: Omit<PolicyBundleHeader, 'signature'> = {
    format: input.format,
    ...(input.architectureVersion !== undefined ? { architecture_version: input.architectureVersion } : {}),
    ...(input.registries !== undefined ? { registries: { ...input.registries } } : {}),
    body_sha256: sha256(body),
  };
  const header: PolicyBundleHeader = { ...unsigned, signature: signer.sign(policySigningBytes(update, unsigned)) };
  update.payload = encodeBundle(header, body);
  return update;
}

/** Serialises a bundle. */
export function encodeBundle(header: PolicyBundleHeader, body: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + json.byteLength + body.byteLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.byteLength, true);
  out.set(json, MAGIC.length + 4);
  out.set(body, MAGIC.length + 4 + json.byteLength);
  return out;
}

/**
 * Parses a bundle and checks its body digest (not the signature: see {@link verifyBundle}).
 *
 * @throws {@link PolicyValidationError} (`invalid_payload`) for anything that is not a
 *   well-formed bundle, including an empty payload (an unsigned update) and a pickled archive.
 */
export function decodeBundle(payload: Uint8Array): PolicyBundle {
  const bad = (why: string): never => {
    throw new PolicyValidationError('invalid_payload', why);
  };
  if (payload.byteLength === 0) bad('the payload is empty (an unsigned update; even a metadata-only update must be a signed bundle)');
  if (payload.byteLength < MAGIC.length + 4 || !MAGIC.every((b, i) => payload[i] === b)) {
    bad('the payload is not an Esper policy bundle (ONNX model or safetensors weights); pickled or other archives are never loaded');
  }
  const length = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (length > MAX_HEADER_BYTES || start + length > payload.byteLength) bad('the bundle header length is out of range');
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(start, start + length)));
  } catch {
    bad('the bundle header is not UTF-8 JSON');
  }
  const h = raw as Partial<Record<keyof PolicyBundleHeader, unknown>> | null;
  if (h === null || typeof h !== 'object' || Array.isArray(h)) return bad('the bundle header is not an object');
  if (h.format !== 'onnx' && h.format !== 'safetensors' && h.format !== 'metadata') bad(`unknown bundle format ${JSON.stringify(h.format)}`);
  if (typeof h.body_sha256 !== 'string' || typeof h.signature !== 'string') bad('the bundle header lacks body_sha256 or signature');
  if (h.architecture_version !== undefined && typeof h.architecture_version !== 'string') bad('architecture_version is not a string');
  if (h.registries !== undefined) {
    if (h.registries === null || typeof h.registries !== 'object' || Array.isArray(h.registries)) bad('registries is not an object');
    for (const v of Object.values(h.registries as object)) if (typeof v !== 'string') bad('registry digests must be strings');
  }
  const body = payload.subarray(start + length);
  if (sha256(body) !== h.body_sha256) bad('the body does not match body_sha256 (corrupt or altered)');
  if (h.format === 'metadata' && body.byteLength > 0) bad('a metadata-only bundle has a body');
  return { header: h as PolicyBundleHeader, body };
}

/** Whether the bundle's signature is the signer's over the update and header. Never throws. */
export function verifyBundle(update: PolicyUpdate, bundle: PolicyBundle, signer: Signer): boolean {
  const { signature, ...unsigned } = bundle.header;
  try {
    return signer.verify(policySigningBytes(update, unsigned), signature);
  } catch {
    return false;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}
