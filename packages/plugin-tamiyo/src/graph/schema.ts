/**
 * The heterogeneous graph Tamiyo's policy reads (reference tamiyo §6, §7): six node types and
 * 21 relations in one documented order. The order is part of the policy's interface: the ONNX
 * graph, the packing of edges into index tables and the weight names all follow it.
 */

/** Node types in their fixed order; the packed node table lists types in this order. */
export const NODE_TYPES = ['global', 'seed', 'blueprint', 'layer', 'activation', 'parameter'] as const;

/** One of {@link NODE_TYPES}. */
export type NodeType = (typeof NODE_TYPES)[number];

/** Index of each node type in {@link NODE_TYPES}. */
export const NODE_TYPE_INDEX: Readonly<Record<NodeType, number>> = Object.freeze({
  global: 0,
  seed: 1,
  blueprint: 2,
  layer: 3,
  activation: 4,
  parameter: 5,
});

/** Feature columns per node type (reference defaults, tamiyo §2.4 and §6.4). */
export const FEATURE_DIMS: Readonly<Record<NodeType, number>> = Object.freeze({
  global: 16,
  seed: 14,
  blueprint: 14,
  layer: 12,
  activation: 8,
  parameter: 10,
});

/** Width of every edge-attribute row (tamiyo §6.5). */
export const EDGE_ATTR_DIM = 3;

/** One relation `(src, name, dst)`. */
export interface Relation {
  readonly src: NodeType;
  readonly name: string;
  readonly dst: NodeType;
  /** `src___name___dst`, PyTorch Geometric's module key of the relation. */
  readonly key: string;
}

const rel = (src: NodeType, name: string, dst: NodeType): Relation => Object.freeze({ src, name, dst, key: `${src}___${name}___${dst}` });

/** The 21 relations of tamiyo §6.5, in its numbering (index 0 is relation 1). */
export const RELATIONS: readonly Relation[] = Object.freeze([
  rel('global', 'influences', 'seed'),
  rel('seed', 'reports', 'global'),
  rel('global', 'annotates', 'blueprint'),
  rel('blueprint', 'monitored_by', 'global'),
  rel('seed', 'peer', 'seed'),
  rel('global', 'operates', 'layer'),
  rel('layer', 'feedback', 'global'),
  rel('layer', 'activates', 'activation'),
  rel('activation', 'affects', 'layer'),
  rel('activation', 'configures', 'parameter'),
  rel('parameter', 'modulates', 'activation'),
  rel('seed', 'allowed', 'parameter'),
  rel('parameter', 'associated', 'seed'),
  rel('blueprint', 'composes', 'layer'),
  rel('layer', 'belongs_to', 'blueprint'),
  rel('blueprint', 'energizes', 'activation'),
  rel('parameter', 'targets', 'blueprint'),
  rel('layer', 'connects', 'layer'),
  rel('seed', 'monitors', 'layer'),
  rel('layer', 'monitored_by', 'seed'),
  rel('layer', 'feeds', 'activation'),
]);

/** Index of a relation in {@link RELATIONS} by its `src___name___dst` key. */
export const RELATION_INDEX: ReadonlyMap<string, number> = new Map(RELATIONS.map((r, i) => [r.key, i]));

/** Relation indices by name as the builder fills them (0-based positions in {@link RELATIONS}). */
export const R = Object.freeze({
  influences: 0,
  reports: 1,
  annotates: 2,
  bpMonitoredBy: 3,
  peer: 4,
  operates: 5,
  feedback: 6,
  activates: 7,
  affects: 8,
  configures: 9,
  modulates: 10,
  allowed: 11,
  associated: 12,
  composes: 13,
  belongsTo: 14,
  energizes: 15,
  targets: 16,
  connects: 17,
  monitors: 18,
  layerMonitoredBy: 19,
  feeds: 20,
});

/** Number of relations whose destination is each node type (global 3, seed 4, blueprint 3, layer 5, activation 4, parameter 2). */
export const RELATIONS_INTO: Readonly<Record<NodeType, number>> = Object.freeze(
  Object.fromEntries(NODE_TYPES.map((t) => [t, RELATIONS.filter((r) => r.dst === t).length])) as Record<NodeType, number>,
);

/** Largest `SeedLifecycleStage` value (the seed feature `stage / 11`). */
export const MAX_STAGE = 11;
