import { quantizeMatMulWeights, quantizeMatMulWeightsAsync, type Graph } from '@esper/onnx';

/**
 * Numeric precision of the policy's large weights (decision 0067): `fp32` (default) is the
 * reference's float32 policy, matching PyTorch Geometric to about 1e-7; `int8` stores the
 * GraphSAGE and GAT message projections as int8 with per-column scales (ONNX Runtime's
 * `DynamicQuantizeMatMul`), reading a quarter of the weight bytes per decision. Outputs then
 * differ from float32 by up to about 1 % of their range (measured in the tests and the decision
 * record); encoders, attention and heads stay float32.
 */
export const POLICY_PRECISIONS = ['fp32', 'int8'] as const;

/** One of {@link POLICY_PRECISIONS}. */
export type PolicyPrecision = (typeof POLICY_PRECISIONS)[number];

/** Graph metadata key recording the precision a policy graph was built at. */
export const PRECISION_METADATA_KEY = 'esper.tamiyo.precision';

function tagged(graph: Graph, precision: PolicyPrecision): Graph {
  return { ...graph, metadata: new Map([...graph.metadata, [PRECISION_METADATA_KEY, precision]]) };
}

/** The policy graph at `precision` (unchanged for `fp32`, apart from the metadata tag). */
export function applyPolicyPrecision(graph: Graph, precision: PolicyPrecision): Graph {
  return tagged(precision === 'int8' ? quantizeMatMulWeights(graph).graph : graph, precision);
}

/** {@link applyPolicyPrecision} yielding between weights (the policy-update path; decision 0062). */
export async function applyPolicyPrecisionAsync(graph: Graph, precision: PolicyPrecision, yieldControl?: () => Promise<void>): Promise<Graph> {
  if (precision === 'fp32') return tagged(graph, precision);
  return tagged((await quantizeMatMulWeightsAsync(graph, yieldControl === undefined ? {} : { yieldControl })).graph, precision);
}
