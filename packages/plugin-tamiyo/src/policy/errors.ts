import { EsperError } from '@esper/core';

/**
 * Policy weights that do not fit the architecture: a missing tensor, a wrong shape, or a file
 * that is not a policy checkpoint.
 */
export class PolicyWeightsError extends EsperError<'ESPER_TAMIYO_POLICY_WEIGHTS'> {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'ESPER_TAMIYO_POLICY_WEIGHTS',
      `Tamiyo's GNN policy weights are unusable: ${detail}. ` +
        'Use a checkpoint written by savePolicyWeights (or exported under the names of policyWeightSpecs), or leave tamiyo.gnn.weightsPath unset for seeded initial weights.',
      options,
    );
  }
}

/** No policy backend could load the model: every device in the fallback order failed, CPU included. */
export class PolicyBackendError extends EsperError<'ESPER_TAMIYO_POLICY_BACKEND'> {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'ESPER_TAMIYO_POLICY_BACKEND',
      `Tamiyo's GNN policy could not be loaded on any device: ${detail}. ` +
        "Keep 'cpu' last in tamiyo.gnn.devices; check that onnxruntime-node is installed for this platform.",
      options,
    );
  }
}
