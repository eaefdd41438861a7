import { NODE_TYPES, NODE_TYPE_INDEX, RELATIONS, RELATIONS_INTO, type NodeType } from '../graph/schema.js';
import { liveGatRelations } from './architecture.js';

/**
 * Where each relation's weights sit in the folded inference graph (decision 0058). The graph
 * multiplies each node type's embeddings once per layer by all the weights that read them,
 * concatenated; this says which block of that product belongs to which relation. The packing
 * of a decision's edges ({@link packGraph}) and the graph builder both read it.
 */
export interface SageLayout {
  /** Per type: relation indices whose source is the type, in {@link RELATIONS} order; block k of the type's product is relation `srcRelations[t][k]`, and block `length` is the folded root weight. */
  readonly srcRelations: Readonly<Record<NodeType, readonly number[]>>;
  /** Per relation: its block within its source type's product. */
  readonly block: Int32Array;
}

/** Layout of one GAT layer's live relations. */
export interface GatLayout {
  /** Live relation indices, in {@link RELATIONS} order. */
  readonly relations: readonly number[];
  /** Per relation: its position in {@link relations} (−1 when not live). */
  readonly slot: Int32Array;
  /** Per type: live relations whose source is the type (message and source-attention blocks). */
  readonly srcRelations: Readonly<Record<NodeType, readonly number[]>>;
  /** Per type: live relations whose destination is the type (destination-attention blocks, after the source ones). */
  readonly dstRelations: Readonly<Record<NodeType, readonly number[]>>;
  /** Per relation: block index in its source type's message product / attention product. */
  readonly srcBlock: Int32Array;
  /** Per relation: block index of its destination attention in the destination type's attention product. */
  readonly dstBlock: Int32Array;
}

/** The folded graph's whole layout. */
export interface PolicyLayout {
  readonly sage: SageLayout;
  readonly gat: readonly [GatLayout, GatLayout];
  /** Relations into each type (the cross-relation mean's divisor). */
  readonly relationsInto: Readonly<Record<NodeType, number>>;
}

const byType = <T>(f: (t: NodeType) => T): Record<NodeType, T> => Object.fromEntries(NODE_TYPES.map((t) => [t, f(t)])) as Record<NodeType, T>;

function sageLayout(): SageLayout {
  const srcRelations = byType((t) => RELATIONS.flatMap((r, i) => (r.src === t ? [i] : [])));
  const block = new Int32Array(RELATIONS.length);
  for (const t of NODE_TYPES) srcRelations[t].forEach((r, k) => (block[r] = k));
  return { srcRelations, block };
}

function gatLayout(layer: number): GatLayout {
  const relations = liveGatRelations(layer);
  const slot = new Int32Array(RELATIONS.length).fill(-1);
  relations.forEach((r, i) => (slot[r] = i));
  const srcRelations = byType((t) => relations.filter((r) => RELATIONS[r]!.src === t));
  const dstRelations = byType((t) => relations.filter((r) => RELATIONS[r]!.dst === t));
  const srcBlock = new Int32Array(RELATIONS.length).fill(-1);
  const dstBlock = new Int32Array(RELATIONS.length).fill(-1);
  for (const t of NODE_TYPES) {
    srcRelations[t].forEach((r, k) => (srcBlock[r] = k));
    dstRelations[t].forEach((r, k) => (dstBlock[r] = srcRelations[t].length + k));
  }
  return { relations, slot, srcRelations, dstRelations, srcBlock, dstBlock };
}

/** The layout of the reference architecture (computed once). */
export const POLICY_LAYOUT: PolicyLayout = Object.freeze({
  sage: sageLayout(),
  gat: [gatLayout(0), gatLayout(1)] as const,
  relationsInto: RELATIONS_INTO,
});

export { NODE_TYPE_INDEX };
