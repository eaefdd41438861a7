// An independent, unfolded implementation of the reference's hetero-GNN (tamiyo §7) in float64,
// written straight from the spec: per relation SAGE mean + lin_l + lin_r, per relation GAT with
// lin_src/lin_dst/lin_edge and attention vectors, cross-relation means, heads. It reads the
// weights by their PyTorch names, so it checks the folding and packing of the ONNX graph.
import type { ParameterSet } from '@esper/onnx';
import type { PolicyGraph } from '../src/graph/builder.js';
import { FEATURE_DIMS, NODE_TYPES, RELATIONS, type NodeType } from '../src/graph/schema.js';
import type { PolicyDims } from '../src/policy/architecture.js';

type Mat = Float64Array[]; // rows

const w = (p: ParameterSet, name: string) => p.get(name).data;

/** y = x Wᵀ (+ b), W `[out, in]`. */
function linear(x: Mat, W: Float32Array, out: number, b?: Float32Array): Mat {
  return x.map((row) => {
    const y = new Float64Array(out);
    const inW = row.length;
    for (let o = 0; o < out; o++) {
      let s = b ? (b[o] as number) : 0;
      for (let i = 0; i < inW; i++) s += (W[o * inW + i] as number) * (row[i] as number);
      y[o] = s;
    }
    return y;
  });
}

const erf = (x: number): number => {
  // Abramowitz–Stegun 7.1.26 is too coarse; use a series / continued fraction via Math functions.
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
};
const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
const map = (x: Mat, f: (v: number) => number): Mat => x.map((r) => r.map(f));
const add = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((v, j) => v + (b[i]![j] as number)));

function layerNorm(x: Mat, g: Float32Array, b: Float32Array): Mat {
  return x.map((r) => {
    const mean = r.reduce((a, v) => a + v, 0) / r.length;
    const v = r.reduce((a, x2) => a + (x2 - mean) ** 2, 0) / r.length;
    return r.map((x2, i) => ((x2 - mean) / Math.sqrt(v + 1e-5)) * (g[i] as number) + (b[i] as number));
  });
}

const zeros = (n: number, d: number): Mat => Array.from({ length: n }, () => new Float64Array(d));

/** All outputs of the reference model on `graph`, as plain arrays. */
export function referenceForward(p: ParameterSet, graph: PolicyGraph, dims: PolicyDims): Record<string, number[]> {
  const H = dims.sageHidden;
  const C = dims.gatHidden;
  const heads = dims.heads;
  let x = {} as Record<NodeType, Mat>;
  for (const t of NODE_TYPES) {
    const f = FEATURE_DIMS[t];
    const rows: Mat = [];
    for (let i = 0; i < graph.counts[t]; i++) rows.push(Float64Array.from(graph.features[t].subarray(i * f, (i + 1) * f)));
    const lin = linear(rows, w(p, `encoders.${t}.linear.weight`), H, w(p, `encoders.${t}.linear.bias`));
    x[t] = layerNorm(map(lin, gelu), w(p, `encoders.${t}.norm.weight`), w(p, `encoders.${t}.norm.bias`));
  }
  for (let k = 0; k < 2; k++) {
    const sums = {} as Record<NodeType, Mat>;
    const nrel = {} as Record<NodeType, number>;
    for (const t of NODE_TYPES) {
      sums[t] = zeros(graph.counts[t], H);
      nrel[t] = 0;
    }
    RELATIONS.forEach((r, ri) => {
      const e = graph.edges[ri]!;
      const nd = graph.counts[r.dst];
      const mean = zeros(nd, H);
      const deg = new Float64Array(nd);
      for (let i = 0; i < e.count; i++) {
        const s = x[r.src][e.src[i]!]!;
        const d = mean[e.dst[i]!]!;
        for (let c = 0; c < H; c++) d[c]! += s[c] as number;
        deg[e.dst[i]!]!++;
      }
      mean.forEach((row, i) => row.forEach((v, c) => (row[c] = deg[i]! > 0 ? v / deg[i]! : 0)));
      const pfx = `_sage_layers.${k}.convs.${r.key}`;
      const out = add(linear(mean, w(p, `${pfx}.lin_l.weight`), H, w(p, `${pfx}.lin_l.bias`)), linear(x[r.dst], w(p, `${pfx}.lin_r.weight`), H));
      sums[r.dst] = add(sums[r.dst], out);
      nrel[r.dst]++;
    });
    const next = {} as Record<NodeType, Mat>;
    for (const t of NODE_TYPES) next[t] = add(map(map(sums[t], (v) => v / nrel[t]), gelu), x[t]);
    x = next;
  }
  for (let k = 0; k < 2; k++) {
    const sums = {} as Record<NodeType, Mat>;
    const nrel = {} as Record<NodeType, number>;
    for (const t of NODE_TYPES) {
      sums[t] = zeros(graph.counts[t], C);
      nrel[t] = 0;
    }
    RELATIONS.forEach((r, ri) => {
      const e = graph.edges[ri]!;
      const pfx = `_gat_layers.${k}.convs.${r.key}`;
      const xs = linear(x[r.src], w(p, `${pfx}.lin_src.weight`), heads * C);
      const xd = linear(x[r.dst], w(p, `${pfx}.lin_dst.weight`), heads * C);
      const attrRows: Mat = [];
      for (let i = 0; i < e.count; i++) attrRows.push(Float64Array.from(e.attr.subarray(i * 3, i * 3 + 3)));
      const xe = linear(attrRows, w(p, `${pfx}.lin_edge.weight`), heads * C);
      const as = w(p, `${pfx}.att_src`);
      const ad = w(p, `${pfx}.att_dst`);
      const ae = w(p, `${pfx}.att_edge`);
      const dot = (v: Float64Array, a: Float32Array, h: number) => {
        let s = 0;
        for (let c = 0; c < C; c++) s += (v[h * C + c] as number) * (a[h * C + c] as number);
        return s;
      };
      const scores = Array.from({ length: e.count }, (_, i) =>
        Array.from({ length: heads }, (_2, h) => {
          const s = dot(xs[e.src[i]!]!, as, h) + dot(xd[e.dst[i]!]!, ad, h) + dot(xe[i]!, ae, h);
          return s > 0 ? s : 0.2 * s;
        }),
      );
      const nd = graph.counts[r.dst];
      const out = zeros(nd, C);
      for (let node = 0; node < nd; node++) {
        const inc = [...Array(e.count).keys()].filter((i) => e.dst[i] === node);
        for (let h = 0; h < heads; h++) {
          const mx = Math.max(...inc.map((i) => scores[i]![h]!));
          const ex = inc.map((i) => Math.exp(scores[i]![h]! - mx));
          const den = ex.reduce((a, b) => a + b, 0) + 1e-16;
          inc.forEach((i, n) => {
            const a = ex[n]! / den;
            for (let c = 0; c < C; c++) out[node]![c]! += (a * (xs[e.src[i]!]![h * C + c] as number)) / heads;
          });
        }
      }
      const b = w(p, `${pfx}.bias`);
      sums[r.dst] = add(sums[r.dst], out.map((row) => row.map((v, c) => v + (b[c] as number))));
      nrel[r.dst]++;
    });
    const next = {} as Record<NodeType, Mat>;
    for (const t of NODE_TYPES) {
      const o = map(map(sums[t], (v) => v / nrel[t]), gelu);
      next[t] = k === 1 ? add(o, x[t]) : o;
    }
    x = next;
  }
  const g = [x.global[0]!];
  const head = (name: string, out: number, input: Mat = g) => linear(input, w(p, `${name}.weight`), out, w(p, `${name}.bias`));
  const two = (a: string, b: string, out: number) => map(head(b, out, map(head(a, dims.headHidden), gelu)), Math.tanh);
  const flat = (m: Mat) => m.flatMap((r) => [...r]);
  const params = two('param_head.0', 'param_head.2', dims.paramVector);
  return {
    policy_logits: flat(head('policy_head', dims.policyClasses)),
    policy_params: flat(params),
    param_delta: [params[0]![0]!],
    blending_logits: flat(head('blending_head', dims.blendingMethods)),
    schedule_params: flat(two('schedule_head.0', 'schedule_head.2', dims.scheduleOutputs)),
    risk_logits: flat(head('risk_head', dims.riskClasses)),
    value: flat(head('value_head', 1)),
    breaker_logits: flat(head('breaker_head', 2)),
    seed_scores: flat(head('seed_head', 1, x.seed)),
    blueprint_scores: flat(head('blueprint_head', 1, x.blueprint)),
    graph_embedding: flat(g),
  };
}
