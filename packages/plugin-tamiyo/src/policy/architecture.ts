import { ParameterSet, Prng, parameterSeed, tensor } from '@esper/onnx';
import { EDGE_ATTR_DIM, FEATURE_DIMS, NODE_TYPES, RELATIONS, type NodeType } from '../graph/schema.js';

/** Sizes of the hetero-GNN (reference tamiyo §2.4 and §7). */
export interface PolicyDims {
  /** Encoder and GraphSAGE width (256). */
  readonly sageHidden: number;
  /** GAT per-head width, also the embedding width after the GAT layers (128). */
  readonly gatHidden: number;
  /** GAT heads, averaged (4). */
  readonly heads: number;
  /** Policy classes (32; only 0–4 have meaning). */
  readonly policyClasses: number;
  /** Risk classes (5). */
  readonly riskClasses: number;
  /** Parameter-vector outputs (4). */
  readonly paramVector: number;
  /** Schedule outputs (2). */
  readonly scheduleOutputs: number;
  /** Blending methods (3). */
  readonly blendingMethods: number;
  /** Hidden width of the two-layer heads (64). */
  readonly headHidden: number;
}

/** The reference's sizes: 13 953 971 parameters. */
export const REFERENCE_DIMS: PolicyDims = Object.freeze({
  sageHidden: 256,
  gatHidden: 128,
  heads: 4,
  policyClasses: 32,
  riskClasses: 5,
  paramVector: 4,
  scheduleOutputs: 2,
  blendingMethods: 3,
  headHidden: 64,
});

/** `architecture_version` of this policy (the reference's, tamiyo §2.4). */
export const ARCHITECTURE_VERSION = 'tamiyo_gnn_v1';

/** Single-layer heads on the graph embedding `g`, in the order the folded graph concatenates them. */
export const LINEAR_HEADS = ['policy_head', 'blending_head', 'risk_head', 'value_head', 'breaker_head'] as const;

/** How a weight starts (PyTorch / PyTorch Geometric defaults of each module; decision 0058). */
type InitRule = { readonly kind: 'uniform'; readonly bound: number } | { readonly kind: 'zeros' } | { readonly kind: 'ones' } | { readonly kind: 'policyBias' };

/** One weight of the policy: PyTorch name, PyTorch layout (Linear weights are `[out, in]`), start. */
export interface PolicyWeightSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly init: InitRule;
}

const glorot = (fanIn: number, fanOut: number): InitRule => ({ kind: 'uniform', bound: Math.sqrt(6 / (fanIn + fanOut)) });
/** `torch.nn.Linear` / PyG `Linear` default (kaiming_uniform with a = √5): U(±1/√fan_in), the same for the bias. */
const torchLinear = (fanIn: number): InitRule => ({ kind: 'uniform', bound: 1 / Math.sqrt(fanIn) });

/** Input width of each GAT layer (the SAGE width, then the GAT width). */
export function gatInputWidth(dims: PolicyDims, layer: number): number {
  return layer === 0 ? dims.sageHidden : dims.gatHidden;
}

/**
 * Every weight of the policy by its PyTorch (Geometric) name, in PyTorch layout: encoders
 * `encoders.<type>.linear|norm`, `_sage_layers.<k>.convs.<src___rel___dst>.lin_l|lin_r`,
 * `_gat_layers.<k>.convs.<…>.lin_src|lin_dst|lin_edge|att_src|att_dst|att_edge|bias` (PyG ≥ 2.5
 * naming, as the reference's checkpoints), and the heads. A parity fixture exports a PyTorch
 * model's `state_dict()` under these names (decision 0058).
 */
export function policyWeightSpecs(dims: PolicyDims = REFERENCE_DIMS): PolicyWeightSpec[] {
  const specs: PolicyWeightSpec[] = [];
  const H = dims.sageHidden;
  for (const t of NODE_TYPES) {
    const f = FEATURE_DIMS[t];
    specs.push(
      { name: `encoders.${t}.linear.weight`, dims: [H, f], init: glorot(f, H) },
      { name: `encoders.${t}.linear.bias`, dims: [H], init: { kind: 'zeros' } },
      { name: `encoders.${t}.norm.weight`, dims: [H], init: { kind: 'ones' } },
      { name: `encoders.${t}.norm.bias`, dims: [H], init: { kind: 'zeros' } },
    );
  }
  for (let k = 0; k < 2; k++) {
    for (const r of RELATIONS) {
      const p = `_sage_layers.${k}.convs.${r.key}`;
      specs.push(
        { name: `${p}.lin_l.weight`, dims: [H, H], init: torchLinear(H) },
        { name: `${p}.lin_l.bias`, dims: [H], init: torchLinear(H) },
        { name: `${p}.lin_r.weight`, dims: [H, H], init: torchLinear(H) },
      );
    }
  }
  const hc = dims.heads * dims.gatHidden;
  for (let k = 0; k < 2; k++) {
    const inW = gatInputWidth(dims, k);
    for (const r of RELATIONS) {
      const p = `_gat_layers.${k}.convs.${r.key}`;
      specs.push(
        { name: `${p}.lin_src.weight`, dims: [hc, inW], init: glorot(inW, hc) },
        { name: `${p}.lin_dst.weight`, dims: [hc, inW], init: glorot(inW, hc) },
        { name: `${p}.lin_edge.weight`, dims: [hc, EDGE_ATTR_DIM], init: glorot(EDGE_ATTR_DIM, hc) },
        { name: `${p}.att_src`, dims: [1, dims.heads, dims.gatHidden], init: glorot(dims.heads, dims.gatHidden) },
        { name: `${p}.att_dst`, dims: [1, dims.heads, dims.gatHidden], init: glorot(dims.heads, dims.gatHidden) },
        { name: `${p}.att_edge`, dims: [1, dims.heads, dims.gatHidden], init: glorot(dims.heads, dims.gatHidden) },
        { name: `${p}.bias`, dims: [dims.gatHidden], init: { kind: 'zeros' } },
      );
    }
  }
  const G = dims.gatHidden;
  const linear = (name: string, out: number, inW: number, weight?: InitRule, bias?: InitRule) =>
    specs.push({ name: `${name}.weight`, dims: [out, inW], init: weight ?? torchLinear(inW) }, { name: `${name}.bias`, dims: [out], init: bias ?? torchLinear(inW) });
  // Untrained policy: zero weights, bias +0.5 on class 0 (seed graft) and −0.5 elsewhere (tamiyo §7).
  linear('policy_head', dims.policyClasses, G, { kind: 'zeros' }, { kind: 'policyBias' });
  linear('param_head.0', dims.headHidden, G);
  linear('param_head.2', dims.paramVector, dims.headHidden);
  linear('blending_head', dims.blendingMethods, G);
  linear('schedule_head.0', dims.headHidden, G);
  linear('schedule_head.2', dims.scheduleOutputs, dims.headHidden);
  linear('risk_head', dims.riskClasses, G);
  linear('value_head', 1, G);
  linear('breaker_head', 2, G);
  linear('seed_head', 1, G);
  linear('blueprint_head', 1, G);
  return specs;
}

/** Number of parameters of the policy (13 953 971 at the reference's sizes, as the reference measured). */
export function policyParameterCount(dims: PolicyDims = REFERENCE_DIMS): number {
  return policyWeightSpecs(dims).reduce((n, s) => n + s.dims.reduce((a, b) => a * b, 1), 0);
}

/**
 * Seeded initial weights: each tensor's stream comes from `seed` and its name
 * (`parameterSeed`), so the same seed gives the same policy in every process.
 */
export function initPolicyWeights(seed: number, dims: PolicyDims = REFERENCE_DIMS): ParameterSet {
  const set = new ParameterSet();
  for (const spec of policyWeightSpecs(dims)) {
    const n = spec.dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    switch (spec.init.kind) {
      case 'zeros':
        break;
      case 'ones':
        data.fill(1);
        break;
      case 'policyBias':
        data.fill(-0.5);
        data[0] = 0.5;
        break;
      case 'uniform': {
        const prng = new Prng(parameterSeed(seed, spec.name));
        const b = spec.init.bound;
        for (let i = 0; i < n; i++) data[i] = prng.uniform(-b, b);
        break;
      }
    }
    set.add(spec.name, tensor('float32', spec.dims, data));
  }
  return set;
}

/** Relations a GAT layer computes: layer 1 skips those into `activation`, layer 2 keeps those into global, seed and blueprint (the outputs read nothing else; tamiyo §7 "dead branches"). */
export function liveGatRelations(layer: number): number[] {
  const live: readonly NodeType[] = layer === 0 ? ['global', 'seed', 'blueprint', 'layer', 'parameter'] : ['global', 'seed', 'blueprint'];
  return RELATIONS.flatMap((r, i) => (live.includes(r.dst) ? [i] : []));
}
