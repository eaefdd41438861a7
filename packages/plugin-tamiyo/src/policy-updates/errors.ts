import { EsperError } from '@esper/core';

/**
 * Why a policy update was rejected (reference §13, P3, plus the signature and replay checks of
 * this port — decision 0055).
 */
export const POLICY_UPDATE_REJECTIONS = [
  'invalid_signature',
  'version_mismatch',
  'stale_update',
  'replayed_update',
  'invalid_payload',
  'registry_mismatch',
  'shape_mismatch',
  'incompatible_update',
  'swap_failed',
] as const;

/** One of {@link POLICY_UPDATE_REJECTIONS}. */
export type PolicyUpdateRejectionReason = (typeof POLICY_UPDATE_REJECTIONS)[number];

/**
 * A policy update's payload or candidate does not validate. Thrown by the payload parsers and by
 * a policy owner's `prepare` to name the rejection reason (`registry_mismatch`, `shape_mismatch`,
 * …); the ingestor turns it into a rejected update and leaves the running policy untouched.
 */
export class PolicyValidationError extends EsperError<'ESPER_TAMIYO_POLICY_INVALID'> {
  constructor(
    /** The rejection reason reported for the update. */
    readonly reason: PolicyUpdateRejectionReason,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ESPER_TAMIYO_POLICY_INVALID',
      `Policy update rejected (${reason}): ${detail}. The running policy is unchanged; publish an update ` +
        'built for this policy (signed bundle of an ONNX model or safetensors weights, matching architecture, registries and shapes).',
      options,
    );
  }
}

/**
 * A policy update could not be published: Oona did not append it (dropped, rate-limited, refused
 * by the open publish breaker or given up by the retry buffer), or the file given is neither an
 * ONNX model nor policy weights.
 */
export class PolicyPublishError extends EsperError<'ESPER_TAMIYO_POLICY_PUBLISH'> {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'ESPER_TAMIYO_POLICY_PUBLISH',
      `Policy update not published: ${detail}. Check the Oona connection and its health (breaker, backlog), ` +
        'or the file (an .onnx model, a safetensors state_dict or a checkpoint written by savePolicyWeights), then publish again.',
      options,
    );
  }
}
