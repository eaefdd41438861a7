import { tensor, type TensorData } from '@esper/onnx';
import type { PolicyGraph } from '../graph/builder.js';
import { EDGE_ATTR_DIM, FEATURE_DIMS, NODE_TYPES, RELATIONS, type NodeType } from '../graph/schema.js';
import { PolicyWeightsError } from './errors.js';
import { REFERENCE_DIMS, type PolicyDims } from './architecture.js';
import { POLICY_LAYOUT } from './layout.js';

/** Feeds of the policy graph, by input name. */
export type PolicyFeeds = Record<string, TensorData>;

const I64 = (data: BigInt64Array, dims: number[]) => tensor('int64', dims, data);
const F32 = (data: Float32Array, dims: number[]) => tensor('float32', dims, data);

/**
 * Packs a built graph into the policy graph's feeds (decision 0058): the six feature matrices,
 * the node-type column, and for the SAGE layers and each GAT layer the row indices, segment
 * ids and weights that let one gather and one segment reduction serve all 21 relations. Pure
 * typed-array arithmetic; a relation with no edges adds no rows.
 *
 * @throws {@link PolicyWeightsError} when the graph has no seed node (the policy only runs with seeds).
 */
export function packGraph(graph: PolicyGraph, dims: PolicyDims = REFERENCE_DIMS): PolicyFeeds {
  const n = graph.counts;
  if (n.seed < 1) throw new PolicyWeightsError('packGraph needs at least one seed node (a seedless packet takes the no-seed fast path)');
  const heads = dims.heads;
  const layout = POLICY_LAYOUT;
  const off = {} as Record<NodeType, number>;
  let total = 0;
  for (const t of NODE_TYPES) {
    off[t] = total;
    total += n[t];
  }
  const feeds: PolicyFeeds = {};
  for (const t of NODE_TYPES) feeds[`x_${t}`] = F32(graph.features[t], [n[t], FEATURE_DIMS[t]]);
  const nodeType = new BigInt64Array(total);
  NODE_TYPES.forEach((t, ti) => nodeType.fill(BigInt(ti), off[t], off[t] + n[t]));
  feeds.node_type = I64(nodeType, [total]);
  feeds.counts = I64(BigInt64Array.from(NODE_TYPES.map((t) => BigInt(n[t]))), [NODE_TYPES.length]);

  // In-degree of every destination node per relation.
  const degree = graph.edges.map((e, r) => {
    const d = new Int32Array(n[RELATIONS[r]!.dst]);
    for (let i = 0; i < e.count; i++) d[e.dst[i]!]!++;
    return d;
  });

  // ---- SAGE: one row per edge, then one root row per node.
  const sageBase = {} as Record<NodeType, number>;
  let rowsSoFar = 0;
  for (const t of NODE_TYPES) {
    sageBase[t] = rowsSoFar;
    rowsSoFar += n[t] * (layout.sage.srcRelations[t].length + 1);
  }
  const edgesTotal = graph.edges.reduce((a, e) => a + e.count, 0);
  const m = edgesTotal + total;
  const sageRows = new BigInt64Array(m);
  const sageDst = new BigInt64Array(m);
  const sageW = new Float32Array(m);
  let at = 0;
  graph.edges.forEach((e, r) => {
    const { src, dst } = RELATIONS[r]!;
    const stride = layout.sage.srcRelations[src].length + 1;
    const block = layout.sage.block[r]!;
    const into = layout.relationsInto[dst];
    const deg = degree[r]!;
    for (let i = 0; i < e.count; i++, at++) {
      sageRows[at] = BigInt(sageBase[src] + e.src[i]! * stride + block);
      sageDst[at] = BigInt(off[dst] + e.dst[i]!);
      sageW[at] = 1 / (deg[e.dst[i]!]! * into);
    }
  });
  for (const t of NODE_TYPES) {
    const stride = layout.sage.srcRelations[t].length + 1;
    for (let i = 0; i < n[t]; i++, at++) {
      sageRows[at] = BigInt(sageBase[t] + i * stride + stride - 1);
      sageDst[at] = BigInt(off[t] + i);
      sageW[at] = 1;
    }
  }
  feeds.sage_rows = I64(sageRows, [m]);
  feeds.sage_dst = I64(sageDst, [m]);
  feeds.sage_w = F32(sageW, [m, 1]);

  // ---- GAT layers: per edge of a live relation, attention rows, segment and message rows.
  layout.gat.forEach((gl, k) => {
    const qBase = {} as Record<NodeType, number>;
    const mBase = {} as Record<NodeType, number>;
    let q = 0;
    let mm = 0;
    for (const t of NODE_TYPES) {
      qBase[t] = q;
      mBase[t] = mm;
      q += n[t] * (gl.srcRelations[t].length + gl.dstRelations[t].length);
      mm += n[t] * gl.srcRelations[t].length * heads;
    }
    const E = gl.relations.reduce((a, r) => a + graph.edges[r]!.count, 0);
    const qsrc = new BigInt64Array(E);
    const qdst = new BigInt64Array(E);
    const rel = new BigInt64Array(E);
    const attr = new Float32Array(E * EDGE_ATTR_DIM);
    const seg = new BigInt64Array(E);
    const msg = new BigInt64Array(E * heads);
    const scale = new Float32Array(E);
    const dst = new BigInt64Array(E);
    let e = 0;
    let segBase = 0;
    gl.relations.forEach((r, slot) => {
      const edges = graph.edges[r]!;
      const { src: s, dst: d } = RELATIONS[r]!;
      const sStride = gl.srcRelations[s].length + gl.dstRelations[s].length;
      const dStride = gl.srcRelations[d].length + gl.dstRelations[d].length;
      const mStride = gl.srcRelations[s].length;
      const sb = gl.srcBlock[r]!;
      const db = gl.dstBlock[r]!;
      const w = 1 / (heads * layout.relationsInto[d]);
      for (let i = 0; i < edges.count; i++, e++) {
        const j = edges.src[i]!;
        const to = edges.dst[i]!;
        qsrc[e] = BigInt(qBase[s] + j * sStride + sb);
        qdst[e] = BigInt(qBase[d] + to * dStride + db);
        rel[e] = BigInt(slot);
        attr.set(edges.attr.subarray(i * EDGE_ATTR_DIM, (i + 1) * EDGE_ATTR_DIM), e * EDGE_ATTR_DIM);
        seg[e] = BigInt(segBase + to);
        const row = (mBase[s] + (j * mStride + sb) * heads);
        for (let h = 0; h < heads; h++) msg[e * heads + h] = BigInt(row + h);
        scale[e] = w;
        dst[e] = BigInt(off[d] + to);
      }
      segBase += n[d];
    });
    const p = `gat${k}_`;
    feeds[`${p}qsrc`] = I64(qsrc, [E]);
    feeds[`${p}qdst`] = I64(qdst, [E]);
    feeds[`${p}rel`] = I64(rel, [E]);
    feeds[`${p}attr`] = F32(attr, [E, EDGE_ATTR_DIM]);
    feeds[`${p}seg`] = I64(seg, [E]);
    feeds[`${p}segs`] = F32(new Float32Array(segBase), [segBase]);
    feeds[`${p}msg`] = I64(msg, [E, heads]);
    feeds[`${p}scale`] = F32(scale, [E, 1]);
    feeds[`${p}dst`] = I64(dst, [E]);
  });

  const seedRows = new BigInt64Array(n.seed);
  for (let i = 0; i < n.seed; i++) seedRows[i] = BigInt(off.seed + i);
  feeds.seed_rows = I64(seedRows, [n.seed]);
  feeds.blueprint_row = I64(BigInt64Array.of(BigInt(off.blueprint)), [1]);
  return feeds;
}

/**
 * The warm-up graph of P2 (tamiyo §14): one all-zero node per type and one `0 → 0` edge with
 * an all-zero attribute row for each of the 21 relations.
 */
export function warmUpGraph(): PolicyGraph {
  const one = Object.fromEntries(NODE_TYPES.map((t) => [t, 1])) as Record<NodeType, number>;
  return {
    counts: one,
    features: Object.fromEntries(NODE_TYPES.map((t) => [t, new Float32Array(FEATURE_DIMS[t])])) as Record<NodeType, Float32Array>,
    edges: RELATIONS.map(() => ({ count: 1, src: new Int32Array(1), dst: new Int32Array(1), attr: new Float32Array(EDGE_ATTR_DIM) })),
    seedIds: ['warm-up'],
    blueprintId: 'warm-up',
    layerIds: ['warm-up'],
    activationIds: ['warm-up'],
    parameterIds: ['warm-up'],
    seedBlendAllowed: new Float32Array(1),
    seedFallbackScores: new Float32Array(1),
    blueprintFallbackScore: 0,
    coverage: new Map(),
  };
}
