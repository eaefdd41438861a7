import { tensor, type TensorData } from '@esper/onnx';
import type { PolicyGraph } from '../graph/builder.js';
import { EDGE_ATTR_DIM, FEATURE_DIMS, NODE_TYPES, RELATIONS, type NodeType } from '../graph/schema.js';
import { PolicyWeightsError } from './errors.js';
import { REFERENCE_DIMS, type PolicyDims } from './architecture.js';
import { POLICY_LAYOUT } from './layout.js';

/** Feeds of the policy graph, by input name. */
export type PolicyFeeds = Record<string, TensorData>;

const I64 = (data: BigInt64Array, dims: number[]) => tensor('int64', dims, data);

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * An int64 index column written as int32 pairs: indices here are small and non-negative, so on a
 * little-endian machine the low word is the value and the high word 0. This skips one `BigInt()`
 * per element on the decision path (ports without little-endian fall back to it).
 */
class IndexColumn {
  readonly data: BigInt64Array;
  private readonly words: Int32Array;
  /** `data`: a zero-filled column (fresh or from {@link PackScratch}). */
  constructor(data: BigInt64Array) {
    this.data = data;
    this.words = new Int32Array(data.buffer, data.byteOffset, data.length * 2);
  }
  set(i: number, value: number): void {
    if (LITTLE_ENDIAN) this.words[2 * i] = value;
    else this.data[i] = BigInt(value);
  }
}
const F32 = (data: Float32Array, dims: number[]) => tensor('float32', dims, data);

/**
 * Typed-array storage that {@link packGraph} reuses from one call to the next (decision 0063,
 * "GC pressure"): one grow-only buffer per feed, so a decision allocates no new `ArrayBuffer`s
 * for its feeds once the buffers fit the largest graph seen. Every array handed out is
 * zero-filled and has exactly the requested length.
 *
 * The feeds of a call that used a scratch share its buffers: the caller must not pack into the
 * same scratch again until the previous feeds are no longer read (the run they were given to
 * has settled). Without a scratch, `packGraph` allocates fresh arrays.
 */
export class PackScratch {
  private readonly f32 = new Map<string, Float32Array>();
  private readonly i64 = new Map<string, BigInt64Array>();

  /** A zero-filled float32 array of `length` elements for the feed `key`. */
  float32(key: string, length: number): Float32Array {
    let base = this.f32.get(key);
    if (base === undefined || base.length < length) {
      base = new Float32Array(length);
      this.f32.set(key, base);
      return base;
    }
    const view = base.length === length ? base : base.subarray(0, length);
    view.fill(0);
    return view;
  }

  /** A zero-filled int64 array of `length` elements for the feed `key`. */
  int64(key: string, length: number): BigInt64Array {
    let base = this.i64.get(key);
    if (base === undefined || base.length < length) {
      base = new BigInt64Array(length);
      this.i64.set(key, base);
      return base;
    }
    const view = base.length === length ? base : base.subarray(0, length);
    view.fill(0n);
    return view;
  }
}

/** Fresh (zero-filled) arrays: what `packGraph` uses without a scratch. */
const FRESH = {
  float32: (_key: string, length: number) => new Float32Array(length),
  int64: (_key: string, length: number) => new BigInt64Array(length),
};

/**
 * Packs a built graph into the policy graph's feeds (decisions 0058, 0063): the six feature
 * matrices, the node-type column, the SAGE adjacency `[nodes, rows]` (mean weights, root and
 * bias rows), and per GAT layer the attention row indices, each edge's attribute row in its
 * relation's block, the softmax segments with their −∞/0 starting values, the message rows and
 * the aggregation matrix `[nodes, edges·heads]`. Pure typed-array arithmetic; a relation with
 * no edges adds no rows. The dense matrices grow with nodes × edges, which is small for the
 * graphs the builder makes (tens of nodes).
 *
 * With `scratch` the feeds' arrays come from (and alias) its buffers — see {@link PackScratch}
 * for when that is safe; the feature matrices are the graph's own arrays either way.
 *
 * @throws {@link PolicyWeightsError} when the graph has no seed node (the policy only runs with seeds).
 */
export function packGraph(graph: PolicyGraph, dims: PolicyDims = REFERENCE_DIMS, scratch?: PackScratch): PolicyFeeds {
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
  const buf = scratch ?? FRESH;
  const nodeType = buf.int64('node_type', total);
  NODE_TYPES.forEach((t, ti) => nodeType.fill(BigInt(ti), off[t], off[t] + n[t]));
  feeds.node_type = I64(nodeType, [total]);
  feeds.counts = I64(BigInt64Array.from(NODE_TYPES.map((t) => BigInt(n[t]))), [NODE_TYPES.length]);

  // In-degree of every destination node per relation.
  const degree = graph.edges.map((e, r) => {
    const d = new Int32Array(n[RELATIONS[r]!.dst]);
    for (let i = 0; i < e.count; i++) d[e.dst[i]!]!++;
    return d;
  });

  // ---- SAGE: the adjacency [nodes, table rows] of the mean aggregation, per-type products then bias rows.
  const sageBase = {} as Record<NodeType, number>;
  let rowsSoFar = 0;
  for (const t of NODE_TYPES) {
    sageBase[t] = rowsSoFar;
    rowsSoFar += n[t] * (layout.sage.srcRelations[t].length + 1);
  }
  const R = rowsSoFar + NODE_TYPES.length;
  const sageAdj = buf.float32('sage_adj', total * R);
  graph.edges.forEach((e, r) => {
    const { src, dst } = RELATIONS[r]!;
    const stride = layout.sage.srcRelations[src].length + 1;
    const block = sageBase[src] + layout.sage.block[r]!;
    const into = layout.relationsInto[dst];
    const deg = degree[r]!;
    for (let i = 0; i < e.count; i++) {
      const to = e.dst[i]!;
      // += : a repeated edge counts twice, as in PyG's mean (its degree counts it twice too).
      sageAdj[(off[dst] + to) * R + block + e.src[i]! * stride]! += 1 / (deg[to]! * into);
    }
  });
  NODE_TYPES.forEach((t, ti) => {
    const stride = layout.sage.srcRelations[t].length + 1;
    for (let i = 0; i < n[t]; i++) {
      const row = (off[t] + i) * R;
      sageAdj[row + sageBase[t] + i * stride + stride - 1] = 1;
      sageAdj[row + rowsSoFar + ti] = 1;
    }
  });
  feeds.sage_adj = F32(sageAdj, [total, R]);

  // ---- GAT layers: per edge of a live relation, attention rows, attribute block, segment, and
  // the aggregation matrix [nodes, edges · heads] that sums α-weighted messages into destinations.
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
    const L = gl.relations.length;
    const E = gl.relations.reduce((a, r) => a + graph.edges[r]!.count, 0);
    const EH = E * heads;
    const p = `gat${k}_`;
    const qsrc = new IndexColumn(buf.int64(`${p}qsrc`, E));
    const qdst = new IndexColumn(buf.int64(`${p}qdst`, E));
    const attr = buf.float32(`${p}attr`, E * L * EDGE_ATTR_DIM);
    const seg = new IndexColumn(buf.int64(`${p}seg`, E));
    const segh = new IndexColumn(buf.int64(`${p}segh`, EH));
    const msg = new IndexColumn(buf.int64(`${p}msg`, EH));
    const agg = buf.float32(`${p}agg`, total * EH);
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
        qsrc.set(e, qBase[s] + j * sStride + sb);
        qdst.set(e, qBase[d] + to * dStride + db);
        const from = i * EDGE_ATTR_DIM;
        const to0 = (e * L + slot) * EDGE_ATTR_DIM;
        for (let c = 0; c < EDGE_ATTR_DIM; c++) attr[to0 + c] = edges.attr[from + c]!;
        const sg = segBase + to;
        seg.set(e, sg);
        const row = mBase[s] + (j * mStride + sb) * heads;
        const aggRow = (off[d] + to) * EH + e * heads;
        for (let h = 0; h < heads; h++) {
          segh.set(e * heads + h, sg);
          msg.set(e * heads + h, row + h);
          agg[aggRow + h] = w;
        }
      }
      segBase += n[d];
    });
    feeds[`${p}qsrc`] = I64(qsrc.data, [E]);
    feeds[`${p}qdst`] = I64(qdst.data, [E]);
    feeds[`${p}attr`] = F32(attr, [E, L * EDGE_ATTR_DIM]);
    feeds[`${p}seg`] = I64(seg.data, [E]);
    feeds[`${p}segh`] = I64(segh.data, [E, heads]);
    feeds[`${p}segmax0`] = F32(buf.float32(`${p}segmax0`, segBase * heads).fill(-Infinity), [segBase, heads]);
    feeds[`${p}segsum0`] = F32(buf.float32(`${p}segsum0`, segBase * heads), [segBase, heads]);
    feeds[`${p}msg`] = I64(msg.data, [EH]);
    feeds[`${p}agg`] = F32(agg, [total, EH]);
  });

  const seedRows = new IndexColumn(buf.int64('seed_rows', n.seed));
  for (let i = 0; i < n.seed; i++) seedRows.set(i, off.seed + i);
  feeds.seed_rows = I64(seedRows.data, [n.seed]);
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
