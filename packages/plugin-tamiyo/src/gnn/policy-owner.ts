import { isEsperError } from '@esper/core';
import { serializeModelChunked } from '@esper/onnx';
import type { OnnxPolicyBackend, OnnxPolicySession } from '../backends/onnx-backend.js';
import type { PolicyGraphBuilder } from '../graph/builder.js';
import { ARCHITECTURE_VERSION, type PolicyDims } from '../policy/architecture.js';
import { buildPolicyGraphAsync, type PolicyOutputName } from '../policy/graph.js';
import { applyPolicyPrecisionAsync, type PolicyPrecision } from '../policy/precision.js';
import { packGraph, warmUpGraph } from '../policy/pack.js';
import { policyWeightsFromSafetensors } from '../policy/weights.js';
import { PolicyValidationError } from '../policy-updates/errors.js';
import type { PolicyPayload } from '../policy-updates/ingest.js';

/** Registries whose digests an update may carry (the reference's checkpoint metadata, tamiyo §13). */
export const DIGESTED_REGISTRIES = ['layer_type', 'activation_type', 'optimizer_family', 'hazard_class'] as const;

/**
 * Digests of the builder's categorical registries, as a policy-update producer puts them in the
 * bundle header (`registries`): an update trained against other index assignments is refused
 * `registry_mismatch`.
 */
export function registryDigests(builder: PolicyGraphBuilder): Record<(typeof DIGESTED_REGISTRIES)[number], string> {
  const r = builder.registries;
  return {
    layer_type: r.layerType.digest(),
    activation_type: r.activationType.digest(),
    optimizer_family: r.optimizerFamily.digest(),
    hazard_class: r.hazardClass.digest(),
  };
}

/** What {@link preparePolicySession} checks a candidate against. */
export interface CandidateContext {
  readonly dims: PolicyDims;
  /** Precision a weights payload is built at (an ONNX model payload is loaded as it is). Default `fp32`. */
  readonly precision?: PolicyPrecision;
  readonly backend: OnnxPolicyBackend;
  readonly builder: PolicyGraphBuilder;
  /**
   * Awaited between the synchronous stretches of the preparation (and between the chunks of the
   * weight folding and of the model serializer), so queued decisions run in between. Default:
   * one `setImmediate` turn.
   */
  readonly yieldControl?: () => Promise<void>;
}

/** Output sizes of a run on the warm-up graph (one node per type), by output name. */
function expectedSizes(dims: PolicyDims): Partial<Record<PolicyOutputName, number>> {
  return {
    policy_logits: dims.policyClasses,
    policy_params: dims.paramVector,
    param_delta: 1,
    blending_logits: dims.blendingMethods,
    schedule_params: dims.scheduleOutputs,
    risk_logits: dims.riskClasses,
    value: 1,
    breaker_logits: 2,
    seed_scores: 1,
    blueprint_scores: 1,
  };
}

/**
 * P3 `prepare` of the GNN controller: a **fresh** policy session from a verified payload, never
 * touching the live one. Safetensors weights are mapped to the policy's names (PyTorch Geometric
 * spellings included), checked against the running dims and built into the policy graph; an
 * ONNX model is loaded as it is. Either way the candidate then runs once on the warm-up graph and
 * must produce every decision output at the running sizes.
 *
 * @throws {@link PolicyValidationError} `shape_mismatch` (another architecture, a missing or
 *   misshapen weight, outputs of other sizes) or `registry_mismatch` (a registry digest in the
 *   header differs from this controller's); anything else (the backend cannot load the model) is
 *   reported by the ingestor as `incompatible_update`.
 */
export async function preparePolicySession(payload: PolicyPayload, ctx: CandidateContext): Promise<OnnxPolicySession> {
  const arch = payload.header.architecture_version;
  if (arch !== undefined && arch !== ARCHITECTURE_VERSION) {
    throw new PolicyValidationError('shape_mismatch', `the payload is for architecture "${arch}", the running policy is "${ARCHITECTURE_VERSION}"`);
  }
  const expected = payload.header.registries ?? {};
  const actual = registryDigests(ctx.builder);
  for (const name of DIGESTED_REGISTRIES) {
    const want = expected[name];
    if (want !== undefined && want !== '' && want !== actual[name]) {
      throw new PolicyValidationError('registry_mismatch', `the ${name} registry digest is ${want}, this policy's registry is ${actual[name]}`);
    }
  }
  let model: Uint8Array;
  if (payload.format === 'safetensors') {
    let params;
    try {
      params = policyWeightsFromSafetensors(payload.weights, ctx.dims);
    } catch (error) {
      if (isEsperError(error)) throw new PolicyValidationError('shape_mismatch', error.message, { cause: error });
      throw error;
    }
    // Mapping holds the main thread (≈ 0.05 s at the reference size), so decisions run after it;
    // the weights are folded and the model (≈ 26 MB) written a few MB at a time (decision 0062).
    const pause = ctx.yieldControl ?? yieldToDecisions;
    await pause();
    const graph = await applyPolicyPrecisionAsync(await buildPolicyGraphAsync(params, ctx.dims, { yieldControl: pause }), ctx.precision ?? 'fp32', pause);
    await pause();
    model = await serializeModelChunked(graph, { yieldControl: pause });
    await pause();
  } else {
    model = payload.model;
  }
  const session = await ctx.backend.load(model);
  try {
    const outputs = await session.runFeeds(packGraph(warmUpGraph(), ctx.dims));
    for (const [name, size] of Object.entries(expectedSizes(ctx.dims))) {
      const got = outputs[name];
      if (got === undefined) throw new PolicyValidationError('shape_mismatch', `the candidate has no output "${name}"`);
      if (got.data.length !== size) throw new PolicyValidationError('shape_mismatch', `output "${name}" has ${got.data.length} values, the running policy has ${size}`);
      for (const v of got.data as Float32Array) if (!Number.isFinite(v)) throw new PolicyValidationError('incompatible_update', `output "${name}" is not finite on the warm-up graph`);
    }
  } catch (error) {
    await session.dispose().catch(() => undefined);
    throw error;
  }
  return session;
}

/** Lets queued decisions run between the synchronous stages of a candidate's preparation. */
function yieldToDecisions(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
