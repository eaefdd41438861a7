import {
  GraphBuilder,
  attr,
  concat,
  drainAtOnce,
  drainInSlices,
  gather,
  layerNorm,
  reshape,
  scatterElements,
  slice,
  tensor,
  type Graph,
  type ParameterSet,
  type Tensor,
} from '@esper/onnx';
import { EDGE_ATTR_DIM, FEATURE_DIMS, NODE_TYPES, RELATIONS, type NodeType } from '../graph/schema.js';
import { PolicyWeightsError } from './errors.js';
import { ARCHITECTURE_VERSION, REFERENCE_DIMS, gatInputWidth, policyWeightSpecs, type PolicyDims } from './architecture.js';
import { POLICY_LAYOUT, type GatLayout } from './layout.js';

/** Names of the policy graph's outputs (tamiyo §7). */
export const POLICY_OUTPUTS = [
  'policy_logits',
  'policy_params',
  'param_delta',
  'blending_logits',
  'schedule_params',
  'risk_logits',
  'value',
  'breaker_logits',
  'seed_scores',
  'blueprint_scores',
  'graph_embedding',
] as const;

/** One of {@link POLICY_OUTPUTS}. */
export type PolicyOutputName = (typeof POLICY_OUTPUTS)[number];

/** Graph inputs of one GAT layer (`gat0_*`, `gat1_*`), all produced by `packGraph` (layout in its source). */
export const GAT_INPUTS = ['qsrc', 'qdst', 'attr', 'seg', 'segh', 'segmax0', 'segsum0', 'msg', 'agg'] as const;

/** Reads a weight, checking its shape. */
function weight(params: ParameterSet, name: string, dims: readonly number[]): Float32Array {
  if (!params.has(name)) throw new PolicyWeightsError(`the policy weights lack "${name}"`);
  const t = params.get(name);
  if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
    throw new PolicyWeightsError(`weight "${name}" has shape [${t.dims.join(', ')}], expected [${dims.join(', ')}]`);
  }
  return t.data;
}

/** Adds `scale · Wᵀ` (W is `[out, in]`) into `dst` `[in, cols]` at column `col`; returns the bytes of `W` folded. */
function addTransposed(dst: Float32Array, cols: number, col: number, w: Float32Array, out: number, inW: number, scale = 1): number {
  for (let o = 0; o < out; o++) {
    const row = o * inW;
    for (let i = 0; i < inW; i++) dst[i * cols + col + o]! += scale * (w[row + i] as number);
  }
  return w.byteLength;
}

/**
 * Attention vector folded into its projection: `A[d, h] = Σ_c W[h·C + c, d] · att[h, c]`
 * (`W` `[H·C, in]`, `att` `[1, H, C]`), written into `dst` `[in, cols]` at column `col`; returns
 * the bytes of `W` folded.
 */
function addAttention(dst: Float32Array, cols: number, col: number, w: Float32Array, att: Float32Array, heads: number, C: number, inW: number): number {
  for (let h = 0; h < heads; h++) {
    for (let c = 0; c < C; c++) {
      const a = att[h * C + c] as number;
      const row = (h * C + c) * inW;
      for (let d = 0; d < inW; d++) dst[d * cols + col + h]! += a * (w[row + d] as number);
    }
  }
  return w.byteLength;
}

/**
 * Builds the policy's ONNX inference graph from its weights (tamiyo §7, decision 0058): type
 * encoders → 2 GraphSAGE layers → 2 GAT layers → heads, in evaluation mode (no dropout), the
 * same function as the reference's PyTorch Geometric model with the weights folded for
 * inference:
 *
 * - each node type's embeddings are multiplied once per layer by every weight that reads them
 *   (concatenated), and a packed edge table (`packGraph`) gathers the rows each relation needs;
 * - SAGE's per-relation root weights and biases are averaged per destination type ahead of time
 *   (the cross-relation mean is linear);
 * - GAT's attention vectors are folded into their projections (`W_dstᵀ·a_dst` is `[in, heads]`),
 *   so the destination projection is never computed; messages are the source projection;
 * - aggregation is a MatMul by matrices that `packGraph` fills per decision (decision 0063):
 *   SAGE's mean over each relation, root terms and per-type biases are one `[nodes, rows]`
 *   adjacency times the stacked products; GAT's softmax runs per (relation, destination)
 *   segment, shifted by the segment maximum as in PyG, and its α-weighted messages reach their
 *   destinations by one `[nodes, edges·heads]` MatMul. A relation with no edges contributes
 *   exactly its bias (and SAGE's root term), as in PyG;
 * - the second GAT layer computes only the relations into global, seed and blueprint nodes,
 *   and the first skips those into activation nodes: nothing else reaches an output.
 *
 * @throws {@link PolicyWeightsError} (`ESPER_TAMIYO_POLICY_WEIGHTS`) when a weight is missing or misshapen.
 */
export function buildPolicyGraph(params: ParameterSet, dims: PolicyDims = REFERENCE_DIMS): Graph {
  return drainAtOnce(policyGraphSteps(params, dims));
}

/** Options of {@link buildPolicyGraphAsync}. */
export interface BuildPolicyGraphOptions {
  /**
   * Weight bytes folded between two yields. Default {@link DEFAULT_FOLD_CHUNK_BYTES}. One weight
   * is always folded in one piece (the largest at the reference size is 512 KiB).
   */
  readonly chunkBytes?: number;
  /** Awaited between chunks. Default: one `setImmediate` turn, so timers and I/O run in between. */
  readonly yieldControl?: () => Promise<void>;
}

/** Default {@link BuildPolicyGraphOptions.chunkBytes}: 2 MiB. */
export const DEFAULT_FOLD_CHUNK_BYTES = 2 * 1024 * 1024;

/**
 * {@link buildPolicyGraph} in pieces: the same folds in the same order, giving the same graph,
 * with `yieldControl` awaited each time about `chunkBytes` of weights have been folded, so a
 * full-size build (≈ 55 MB of weights) does not hold the event loop in one stretch
 * (decision 0062). Used on the policy-update path; startup keeps the synchronous build.
 *
 * @throws {@link PolicyWeightsError} (`ESPER_TAMIYO_POLICY_WEIGHTS`) when a weight is missing or misshapen.
 */
export async function buildPolicyGraphAsync(params: ParameterSet, dims: PolicyDims = REFERENCE_DIMS, options: BuildPolicyGraphOptions = {}): Promise<Graph> {
  return drainInSlices(policyGraphSteps(params, dims), { chunkBytes: options.chunkBytes ?? DEFAULT_FOLD_CHUNK_BYTES, ...(options.yieldControl !== undefined ? { yieldControl: options.yieldControl } : {}) });
}

/**
 * The body of {@link buildPolicyGraph}: yields the bytes of each encoder, SAGE and GAT projection
 * weight right after folding it (the small edge-attention and head weights are folded without a
 * yield), and returns the built graph. A yield changes nothing the graph builder sees, so
 * both drivers build the same graph.
 */
function* policyGraphSteps(params: ParameterSet, dims: PolicyDims): Generator<number, Graph, void> {
  for (const spec of policyWeightSpecs(dims)) weight(params, spec.name, spec.dims);
  const H = dims.sageHidden;
  const C = dims.gatHidden;
  const heads = dims.heads;
  const layout = POLICY_LAYOUT;
  const g = new GraphBuilder('tamiyo_policy');
  g.meta('esper.tamiyo.architecture', ARCHITECTURE_VERSION);
  const f32 = (name: string, shape: (number | string)[]) => g.input(name, 'float32', shape);
  const i64 = (name: string, shape: (number | string)[]) => g.input(name, 'int64', shape);
  const constant = (name: string, dimsOf: number[], data: Float32Array) => g.param(name, tensor('float32', dimsOf, data));

  const x = Object.fromEntries(NODE_TYPES.map((t) => [t, f32(`x_${t}`, [`n_${t}`, FEATURE_DIMS[t]])])) as Record<NodeType, Tensor>;
  const nodeType = i64('node_type', ['nodes']);
  const counts = i64('counts', [NODE_TYPES.length]);
  const sageAdj = f32('sage_adj', ['nodes', 'sage_r']);
  const seedRows = i64('seed_rows', ['n_seed']);
  const blueprintRow = i64('blueprint_row', [1]);

  // ---- encoders: Linear → GELU → LayerNorm, per type
  const encoded = {} as Record<NodeType, Tensor>;
  for (const t of NODE_TYPES) {
    const f = FEATURE_DIMS[t];
    const w = new Float32Array(f * H);
    yield addTransposed(w, H, 0, weight(params, `encoders.${t}.linear.weight`, [H, f]), H, f);
    const lin = x[t].matmul(constant(`fold/encoder/${t}/w`, [f, H], w)).add(constant(`fold/encoder/${t}/b`, [H], weight(params, `encoders.${t}.linear.bias`, [H])));
    const gamma = constant(`fold/encoder/${t}/gamma`, [H], weight(params, `encoders.${t}.norm.weight`, [H]));
    const beta = constant(`fold/encoder/${t}/beta`, [H], weight(params, `encoders.${t}.norm.bias`, [H]));
    encoded[t] = layerNorm(lin.gelu(), gamma, beta, { epsilon: 1e-5 });
  }
  let h = encoded;
  let all = concat(NODE_TYPES.map((t) => h[t]), 0);

  const split = (full: Tensor, width: number): Record<NodeType, Tensor> => {
    const parts = g.op('Split', [full, counts], { axis: attr.int(0) }, NODE_TYPES.map((t) => ({ dtype: 'float32' as const, shape: [`n_${t}`, width] })), { nameHint: 'SplitTypes' });
    return Object.fromEntries(NODE_TYPES.map((t, i) => [t, parts[i]!])) as Record<NodeType, Tensor>;
  };

  // ---- two GraphSAGE layers: one product per type, then one MatMul by the packed adjacency
  // (edge rows weighted 1/(degree · relations into the destination), root rows 1, one bias row per type).
  for (let k = 0; k < 2; k++) {
    const tables: Tensor[] = [];
    const bias = new Float32Array(NODE_TYPES.length * H);
    for (const [ti, t] of NODE_TYPES.entries()) {
      const srcRels = layout.sage.srcRelations[t];
      const cols = (srcRels.length + 1) * H;
      const w = new Float32Array(H * cols);
      for (const [b, r] of srcRels.entries()) yield addTransposed(w, cols, b * H, weight(params, `_sage_layers.${k}.convs.${RELATIONS[r]!.key}.lin_l.weight`, [H, H]), H, H);
      const into = layout.relationsInto[t];
      for (const rel of RELATIONS) {
        if (rel.dst !== t) continue;
        const p = `_sage_layers.${k}.convs.${rel.key}`;
        yield addTransposed(w, cols, srcRels.length * H, weight(params, `${p}.lin_r.weight`, [H, H]), H, H, 1 / into);
        const b = weight(params, `${p}.lin_l.bias`, [H]);
        for (let i = 0; i < H; i++) bias[ti * H + i]! += (b[i] as number) / into;
      }
      tables.push(reshape(h[t].matmul(constant(`fold/sage${k}/${t}/w`, [H, cols], w)), [-1, H]));
    }
    tables.push(constant(`fold/sage${k}/bias`, [NODE_TYPES.length, H], bias));
    all = sageAdj.matmul(concat(tables, 0)).gelu().add(all);
    h = split(all, H);
  }

  // ---- two GAT layers
  for (let k = 0; k < 2; k++) {
    const inW = gatInputWidth(dims, k);
    const gl: GatLayout = layout.gat[k]!;
    const L = gl.relations.length;
    const input = (name: (typeof GAT_INPUTS)[number], shape: (number | string)[], type: 'f' | 'i') => (type === 'f' ? f32 : i64)(`gat${k}_${name}`, shape);
    const qsrc = input('qsrc', [`e${k}`], 'i');
    const qdst = input('qdst', [`e${k}`], 'i');
    const edgeAttr = input('attr', [`e${k}`, L * EDGE_ATTR_DIM], 'f');
    const seg = input('seg', [`e${k}`], 'i');
    const segHeads = input('segh', [`e${k}`, heads], 'i');
    const segMax0 = input('segmax0', [`k${k}`, heads], 'f');
    const segSum0 = input('segsum0', [`k${k}`, heads], 'f');
    const msgRows = input('msg', [`eh${k}`], 'i');
    const agg = input('agg', ['nodes', `eh${k}`], 'f');

    const qTables: Tensor[] = [];
    const mTables: Tensor[] = [];
    const bias = new Float32Array(NODE_TYPES.length * C);
    for (const [ti, t] of NODE_TYPES.entries()) {
      const srcRels = gl.srcRelations[t];
      const dstRels = gl.dstRelations[t];
      const p = (r: number) => `_gat_layers.${k}.convs.${RELATIONS[r]!.key}`;
      if (srcRels.length + dstRels.length > 0) {
        const cols = (srcRels.length + dstRels.length) * heads;
        const a = new Float32Array(inW * cols);
        for (const [b, r] of srcRels.entries()) {
          yield addAttention(a, cols, b * heads, weight(params, `${p(r)}.lin_src.weight`, [heads * C, inW]), weight(params, `${p(r)}.att_src`, [1, heads, C]), heads, C, inW);
        }
        for (const [b, r] of dstRels.entries()) {
          yield addAttention(a, cols, (srcRels.length + b) * heads, weight(params, `${p(r)}.lin_dst.weight`, [heads * C, inW]), weight(params, `${p(r)}.att_dst`, [1, heads, C]), heads, C, inW);
        }
        qTables.push(reshape(h[t].matmul(constant(`fold/gat${k}/${t}/att`, [inW, cols], a)), [-1, heads]));
      }
      if (srcRels.length > 0) {
        const cols = srcRels.length * heads * C;
        const w = new Float32Array(inW * cols);
        for (const [b, r] of srcRels.entries()) yield addTransposed(w, cols, b * heads * C, weight(params, `${p(r)}.lin_src.weight`, [heads * C, inW]), heads * C, inW);
        mTables.push(reshape(h[t].matmul(constant(`fold/gat${k}/${t}/msg`, [inW, cols], w)), [-1, C]));
      }
      for (const r of dstRels) {
        const b = weight(params, `${p(r)}.bias`, [C]);
        for (let i = 0; i < C; i++) bias[ti * C + i]! += (b[i] as number) / layout.relationsInto[t];
      }
    }
    // Edge attention folded per live relation into one [L·8, heads] matrix; each edge's attribute
    // row sits in its relation's block of `attr` (zeros elsewhere), so one MatMul gives every term.
    const edgeAtt = new Float32Array(L * EDGE_ATTR_DIM * heads);
    gl.relations.forEach((r, q) => {
      const p = `_gat_layers.${k}.convs.${RELATIONS[r]!.key}`;
      const w = weight(params, `${p}.lin_edge.weight`, [heads * C, EDGE_ATTR_DIM]);
      const att = weight(params, `${p}.att_edge`, [1, heads, C]);
      addAttention(edgeAtt.subarray(q * EDGE_ATTR_DIM * heads), heads, 0, w, att, heads, C, EDGE_ATTR_DIM);
    });

    const q = concat(qTables, 0);
    const edgeTerm = edgeAttr.matmul(constant(`fold/gat${k}/edge_att`, [L * EDGE_ATTR_DIM, heads], edgeAtt));
    const score = gather(q, qsrc, 0).add(gather(q, qdst, 0)).add(edgeTerm).leakyRelu(0.2);
    // Softmax over each (relation, destination) segment, shifted by the segment's maximum as PyG does.
    const segMax = scatterElements(segMax0, segHeads, score, 0, 'max');
    const ex = score.sub(gather(segMax, seg, 0)).exp();
    const alpha = ex.div(gather(scatterElements(segSum0, segHeads, ex, 0, 'add'), seg, 0));
    // Messages: the source projection of each edge and head, weighted by α and summed into the
    // destinations by one MatMul (agg holds 1/(heads · relations into the destination)).
    const coef = agg.mul(reshape(alpha, [1, -1]));
    const messages = gather(concat(mTables, 0), msgRows, 0);
    const out = coef.matmul(messages).add(gather(constant(`fold/gat${k}/bias`, [NODE_TYPES.length, C], bias), nodeType, 0));
    all = k === 0 ? out.gelu() : out.gelu().add(all);
    if (k === 0) h = split(all, C);
  }

  // ---- readout and heads
  const G = C;
  const emb = slice(all, { starts: [0], ends: [1], axes: [0] });
  const hh = dims.headHidden;
  const outs = [dims.policyClasses, dims.blendingMethods, dims.riskClasses, 1, 2];
  const linearHeads = ['policy_head', 'blending_head', 'risk_head', 'value_head', 'breaker_head'];
  const total = outs.reduce((a, b) => a + b, 0) + 2 * hh;
  const wh = new Float32Array(G * total);
  const bh = new Float32Array(total);
  let col = 0;
  const place = (name: string, out: number) => {
    addTransposed(wh, total, col, weight(params, `${name}.weight`, [out, G]), out, G);
    bh.set(weight(params, `${name}.bias`, [out]), col);
    col += out;
  };
  linearHeads.forEach((name, i) => place(name, outs[i]!));
  place('param_head.0', hh);
  place('schedule_head.0', hh);
  const heads1 = emb.matmul(constant('fold/heads/w', [G, total], wh)).add(constant('fold/heads/b', [total], bh));
  const cut = (from: number, to: number) => slice(heads1, { starts: [from], ends: [to], axes: [1] });
  const second = (name: string, hidden: Tensor, out: number) => {
    const w = new Float32Array(hh * out);
    addTransposed(w, out, 0, weight(params, `${name}.weight`, [out, hh]), out, hh);
    return hidden.gelu().matmul(constant(`fold/${name}/w`, [hh, out], w)).add(constant(`fold/${name}/b`, [out], weight(params, `${name}.bias`, [out]))).tanh();
  };
  let at = 0;
  const named: Partial<Record<PolicyOutputName, Tensor>> = {};
  (['policy_logits', 'blending_logits', 'risk_logits', 'value', 'breaker_logits'] as const).forEach((name, i) => {
    named[name] = cut(at, at + outs[i]!);
    at += outs[i]!;
  });
  const policyParams = second('param_head.2', cut(at, at + hh), dims.paramVector);
  const schedule = second('schedule_head.2', cut(at + hh, at + 2 * hh), dims.scheduleOutputs);
  const score1 = (name: string, rows: Tensor) => {
    const w = weight(params, `${name}.weight`, [1, G]);
    return reshape(gather(all, rows, 0).matmul(constant(`fold/${name}/w`, [G, 1], Float32Array.from(w))).add(constant(`fold/${name}/b`, [1], weight(params, `${name}.bias`, [1]))), [-1]);
  };
  named.policy_params = policyParams;
  named.param_delta = slice(policyParams, { starts: [0], ends: [1], axes: [1] });
  named.schedule_params = schedule;
  named.seed_scores = score1('seed_head', seedRows);
  named.blueprint_scores = score1('blueprint_head', blueprintRow);
  named.graph_embedding = emb;
  for (const name of POLICY_OUTPUTS) g.output(named[name]!, name);
  return g.build();
}
