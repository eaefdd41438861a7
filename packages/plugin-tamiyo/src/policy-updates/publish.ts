import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isEsperError, type Oona, type PublishResult, type Signer } from '@esper/core';
import { PolicyUpdateSchema, type PolicyUpdate } from '@esper/core/leyline';
import { ARCHITECTURE_VERSION, REFERENCE_DIMS, type PolicyDims } from '../policy/architecture.js';
import { encodePolicyWeights, loadPolicyWeights } from '../policy/weights.js';
import { signPolicyUpdate, type PolicyBundleFormat } from './bundle.js';
import { PolicyPublishError } from './errors.js';
import { checkOnnxModel } from './formats.js';

/** What {@link packPolicyUpdate} and {@link publishPolicyUpdate} build an update from. */
export interface PolicyUpdateSource {
  /**
   * An ONNX model of the policy (`.onnx`), or policy weights: a safetensors `state_dict`
   * (PyTorch Geometric names included) or an `@esper/onnx` checkpoint written by
   * `savePolicyWeights`. Weights are checked against the architecture and shipped as safetensors.
   */
  readonly path: string;
  /**
   * The policy version the update installs: `tamiyo_gnn_v1@<tag>` (or the bare architecture
   * version). A bare tag such as `ppo-17` becomes `tamiyo_gnn_v1@ppo-17`, the form the
   * ingestor's version check accepts.
   */
  readonly policyVersion: string;
  /** Unique id of the update (replays of an applied id are refused); default `<tag>-<sha256 of the body, 12 hex>`. */
  readonly policyId?: string | undefined;
  /** `training_run_id` field of the update (informational; it is covered by the signature). */
  readonly trainingRunId?: string | undefined;
  /** `onnx` or `weights`; default by the file: `.onnx` is a model, anything else weights. */
  readonly kind?: 'onnx' | 'weights' | undefined;
  /** Registry digests the policy was trained against (`registryDigests(builder)`): checked by the receiver. */
  readonly registries?: Readonly<Record<string, string>> | undefined;
  /** Policy dims of the weights (default: the reference's). */
  readonly dims?: PolicyDims | undefined;
  /** `issued_at`, ms since the epoch (default now): the receiver's freshness check reads it. */
  readonly issuedAtMs?: number | undefined;
}

/** The normalised policy version for `version` (a bare tag gets the architecture prefix). */
export function policyVersionFor(version: string): string {
  const v = version.trim();
  if (v === '' || v === ARCHITECTURE_VERSION || v.startsWith(`${ARCHITECTURE_VERSION}@`)) return v;
  return `${ARCHITECTURE_VERSION}@${v}`;
}

/**
 * Builds and signs a `PolicyUpdate` from a model or weights file (see {@link PolicyUpdateSource}),
 * ready to publish on Oona's policy stream or to store (`update.payload` is the bundle).
 *
 * @throws {@link PolicyPublishError} when the file cannot be read or is neither a valid ONNX
 *   model nor weights of the policy's architecture (the cause says why).
 */
export async function packPolicyUpdate(signer: Signer, source: PolicyUpdateSource): Promise<PolicyUpdate> {
  const kind = source.kind ?? (extname(source.path).toLowerCase() === '.onnx' ? 'onnx' : 'weights');
  let format: PolicyBundleFormat;
  let body: Uint8Array;
  try {
    if (kind === 'onnx') {
      body = await readFile(source.path);
      checkOnnxModel(body);
      format = 'onnx';
    } else {
      const dims = source.dims ?? REFERENCE_DIMS;
      body = encodePolicyWeights(await loadPolicyWeights(source.path, dims), dims);
      format = 'safetensors';
    }
  } catch (error) {
    const detail = isEsperError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    throw new PolicyPublishError(`${source.path} is not a usable policy ${kind === 'onnx' ? 'ONNX model' : 'weights file'} (${detail})`, { cause: error });
  }
  const policyVersion = policyVersionFor(source.policyVersion);
  const tag = policyVersion.includes('@') ? policyVersion.slice(policyVersion.indexOf('@') + 1) : policyVersion;
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return signPolicyUpdate(
    {
      policyId: source.policyId ?? `${tag}-${digest}`,
      tamiyoPolicyVersion: policyVersion,
      ...(source.trainingRunId !== undefined ? { trainingRunId: source.trainingRunId } : {}),
      ...(source.issuedAtMs !== undefined ? { issuedAtMs: source.issuedAtMs } : {}),
    },
    { format, body, architectureVersion: ARCHITECTURE_VERSION, ...(source.registries !== undefined ? { registries: source.registries } : {}) },
    signer,
  );
}

/** What {@link publishPolicyUpdate} did. */
export interface PublishedPolicyUpdate {
  readonly update: PolicyUpdate;
  /** `true` appended; `'unknown'` sent, the backend's reply lost (see `PublishResult`). */
  readonly published: Exclude<PublishResult, false>;
  readonly stream: string;
  readonly sizeBytes: number;
}

/**
 * Builds, signs and publishes a policy update (decision 0064): {@link packPolicyUpdate}, then a
 * `POLICY_UPDATE` envelope on `stream` (default the client's policy stream). Tamiyos whose
 * consumer group exists on the stream receive it (a group created later does not).
 *
 * @throws {@link PolicyPublishError} when the file is unusable or Oona did not append the update.
 */
export async function publishPolicyUpdate(
  oona: Oona,
  signer: Signer,
  source: PolicyUpdateSource & { readonly stream?: string | undefined },
): Promise<PublishedPolicyUpdate> {
  const update = await packPolicyUpdate(signer, source);
  const stream = source.stream ?? oona.streams.policy;
  const published = await oona.publishMessage(PolicyUpdateSchema, update, source.stream !== undefined ? { stream } : {});
  if (published === false) throw new PolicyPublishError(`Oona did not append update "${update.policyId}" to ${stream}`);
  return { update, published, stream, sizeBytes: update.payload.byteLength };
}
