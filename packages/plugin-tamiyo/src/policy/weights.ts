import { isEsperError } from '@esper/core';
import { loadCheckpoint, saveCheckpoint, type ParameterSet } from '@esper/onnx';
import { ARCHITECTURE_VERSION, REFERENCE_DIMS, policyWeightSpecs, type PolicyDims } from './architecture.js';
import { PolicyWeightsError } from './errors.js';

/** Checkpoint metadata key naming the architecture. */
export const WEIGHTS_ARCHITECTURE_KEY = 'tamiyo.architecture';
/** Checkpoint metadata key holding the dims as JSON. */
export const WEIGHTS_DIMS_KEY = 'tamiyo.dims';

/** Checks that `params` holds every weight of the architecture at its shape (extra tensors are refused too). */
export function checkPolicyWeights(params: ParameterSet, dims: PolicyDims = REFERENCE_DIMS): void {
  const specs = policyWeightSpecs(dims);
  const expected = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    if (!params.has(spec.name)) throw new PolicyWeightsError(`"${spec.name}" is missing`);
    const got = params.get(spec.name).dims;
    if (got.length !== spec.dims.length || got.some((d, i) => d !== spec.dims[i])) {
      throw new PolicyWeightsError(`"${spec.name}" has shape [${got.join(', ')}], expected [${spec.dims.join(', ')}]`);
    }
  }
  for (const [name] of params) if (!expected.has(name)) throw new PolicyWeightsError(`"${name}" is not a weight of ${ARCHITECTURE_VERSION}`);
}

/**
 * Writes policy weights as an `@esper/onnx` checkpoint (crc32 per tensor, atomic rename),
 * under their PyTorch names, with the architecture and dims in its metadata.
 */
export async function savePolicyWeights(path: string, params: ParameterSet, dims: PolicyDims = REFERENCE_DIMS): Promise<void> {
  checkPolicyWeights(params, dims);
  await saveCheckpoint(path, params, { [WEIGHTS_ARCHITECTURE_KEY]: ARCHITECTURE_VERSION, [WEIGHTS_DIMS_KEY]: JSON.stringify(dims) });
}

/**
 * Reads policy weights written by {@link savePolicyWeights} (or any checkpoint with the names of
 * `policyWeightSpecs`) and checks them against the architecture.
 *
 * @throws {@link PolicyWeightsError} (`ESPER_TAMIYO_POLICY_WEIGHTS`) for a missing, damaged or foreign file, or weights of another architecture.
 */
export async function loadPolicyWeights(path: string, dims: PolicyDims = REFERENCE_DIMS): Promise<ParameterSet> {
  let checkpoint;
  try {
    checkpoint = await loadCheckpoint(path);
  } catch (error) {
    const detail = isEsperError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    throw new PolicyWeightsError(`cannot read ${path} (${detail})`, { cause: error });
  }
  const arch = checkpoint.metadata[WEIGHTS_ARCHITECTURE_KEY];
  if (arch !== undefined && arch !== ARCHITECTURE_VERSION) throw new PolicyWeightsError(`${path} holds architecture "${arch}", this policy is "${ARCHITECTURE_VERSION}"`);
  checkPolicyWeights(checkpoint.parameters, dims);
  return checkpoint.parameters;
}
