import type { SystemStatePacket } from '@esper/core/leyline';
import { FeatureNormaliser, N } from './normaliser.js';
import { createRegistries, type GraphRegistries } from './registry.js';
import { EDGE_ATTR_DIM, FEATURE_DIMS, MAX_STAGE, R, RELATIONS, type NodeType } from './schema.js';

/** A layer descriptor of blueprint graph metadata (tamiyo §6.4, layer table). */
export interface LayerDescriptor {
  readonly layer_id?: string;
  readonly type?: string;
  readonly depth?: number;
  readonly latency_ms?: number;
  readonly parameter_count?: number;
  readonly dropout_rate?: number;
  readonly activation?: string;
  readonly activation_type?: string;
  readonly weight_norm?: number;
  readonly gradient_norm?: number;
  readonly output_channels?: number;
}

/** An activation descriptor (tamiyo §6.4, activation table). */
export interface ActivationDescriptor {
  readonly activation_id?: string;
  readonly type?: string;
  readonly saturation_rate?: number;
  readonly gradient_flow?: number;
  readonly computational_cost?: number;
  readonly nonlinearity_strength?: number;
}

/** A parameter descriptor (tamiyo §6.4, parameter table). */
export interface ParameterDescriptor {
  readonly name?: string;
  readonly min?: number;
  readonly max?: number;
  readonly span?: number;
  readonly default?: number;
}

/** The graph block of blueprint metadata (tamiyo §8.3). */
export interface GraphMetadata {
  readonly layers?: readonly LayerDescriptor[];
  readonly activations?: readonly ActivationDescriptor[];
  readonly parameters?: readonly ParameterDescriptor[];
  readonly capabilities?: {
    readonly allowed_blending_methods?: readonly string[];
    readonly allowed_parameters_by_seed_id?: Readonly<Record<string, readonly (string | number)[]>>;
    readonly allowed_parameters_by_seed_index?: Readonly<Record<string, readonly number[]>>;
  };
  /** Layer adjacency pairs `[src, dst]` (or `{ layer: pairs }`); a third element is ignored. */
  readonly adjacency?: readonly (readonly number[])[] | { readonly layer?: readonly (readonly number[])[] };
  /** Explicit seed → layer monitor pairs `[s, l]` or `[s, l, w]`. */
  readonly monitored_layers?: readonly (readonly number[])[];
  readonly monitors?: {
    readonly by_seed_id?: Readonly<Record<string, readonly number[]>>;
    readonly by_seed_index?: Readonly<Record<string, readonly number[]>>;
    readonly thresholds?: { readonly risk_max?: unknown; readonly stage_min?: unknown };
  };
}

/**
 * The BSDS-lite block of blueprint metadata (tamiyo §8.4): Urabrask's safety data sheet with its
 * enums as text (`CRITICAL` or `HAZARD_BAND_CRITICAL` alike).
 */
export interface BsdsMetadata {
  readonly hazard_band?: string;
  readonly handling_class?: string;
  readonly resource_profile?: string;
  readonly provenance?: string;
  readonly issued_at?: string;
  /** 0..1. When present and ≥ 0 it is the blueprint's risk; absent keeps the descriptor's (§17 item 7, decision 0059). */
  readonly risk_score?: number;
}

/** Blueprint metadata as the builder reads it (tamiyo §6.1, §8.2). */
export interface BlueprintMetadata {
  readonly risk?: number;
  /** `BlueprintTier` name (`BLUEPRINT_TIER_SAFE`); absent: named from `tier_index`. */
  readonly tier?: string;
  readonly stage?: number;
  readonly tier_index?: number;
  readonly parameter_count?: number;
  readonly quarantine_only?: boolean;
  readonly approval_required?: boolean;
  readonly candidate_score?: number;
  readonly allowed_parameters?: Readonly<Record<string, { readonly min?: number; readonly max?: number }>>;
  readonly optimizer_family?: string;
  readonly hazard_class?: string;
  readonly graph?: GraphMetadata;
  /** Urabrask's BSDS-lite block; read by the risk engine (rules E3–E6). */
  readonly bsds?: BsdsMetadata;
}

/** One relation's edges: `src[e] → dst[e]` (indices local to their node types) and `[E, 3]` attributes. */
export interface RelationEdges {
  readonly count: number;
  readonly src: Int32Array;
  readonly dst: Int32Array;
  readonly attr: Float32Array;
}

/** Per-key coverage of one build: `present / observed` (tamiyo §6.6). */
export type Coverage = ReadonlyMap<string, number>;

/** What {@link PolicyGraphBuilder.build} returns: typed arrays and the side data decoding needs. */
export interface PolicyGraph {
  /** Node count per type, in {@link NODE_TYPES} order. */
  readonly counts: Readonly<Record<NodeType, number>>;
  /** Row-major `[N_t, F_t]` float32 features per type. */
  readonly features: Readonly<Record<NodeType, Float32Array>>;
  /** The 21 relations in {@link RELATIONS} order; empty ones have count 0. */
  readonly edges: readonly RelationEdges[];
  readonly seedIds: readonly string[];
  readonly blueprintId: string;
  readonly layerIds: readonly string[];
  readonly activationIds: readonly string[];
  readonly parameterIds: readonly string[];
  /** Per seed: 1 when blending is allowed (seed feature column 13). */
  readonly seedBlendAllowed: Float32Array;
  /** Per seed: `2·blend_allowed + max(0, 1 − risk) + stage/11` (tamiyo §6.4). */
  readonly seedFallbackScores: Float32Array;
  /** The blueprint's `candidate_score` (0 when absent). */
  readonly blueprintFallbackScore: number;
  /** Per key coverage of this build. */
  readonly coverage: Coverage;
}

/** Options of {@link PolicyGraphBuilder}. */
export interface PolicyGraphBuilderOptions {
  /** Most layer / activation / parameter nodes (policy defaults 3 / 1 / 1, tamiyo §2.4). */
  readonly maxLayers?: number | undefined;
  readonly maxActivations?: number | undefined;
  readonly maxParameters?: number | undefined;
  readonly normaliser?: FeatureNormaliser | undefined;
  readonly registries?: GraphRegistries | undefined;
}

const VOCAB = 1024;
const SEED_STAGE_BLENDING = 4;
const EMPTY_META: BlueprintMetadata = Object.freeze({});

// Training-metric keys of the reference, and what Tolaria calls the same value (decision 0058).
const GLOBAL_METRICS: readonly (readonly [slot: number, coverage: string, keys: readonly string[]])[] = [
  [N.loss, 'global.loss', ['loss', 'train_loss']],
  [N.validation_loss, 'global.validation_loss', ['validation_loss', 'val_loss']],
  [N.training_loss, 'global.training_loss', ['training_loss', 'train_loss']],
  [N.gradient_norm, 'global.gradient_norm', ['gradient_norm', 'grad_norm']],
  [N.samples_per_s, 'global.samples_per_s', ['samples_per_s']],
  [N.hook_latency_ms, 'global.hook_latency_ms', ['hook_latency_ms']],
];

/** Edge-presence coverage keys (tamiyo §6.6) and the relation each reads. */
const EDGE_COVERAGE: readonly (readonly [string, number])[] = [
  ['edges.global_influences', R.influences],
  ['edges.seed_reports', R.reports],
  ['edges.global_operates', R.operates],
  ['edges.layer_feedback', R.feedback],
  ['edges.layer_activates', R.activates],
  ['edges.activation_configures', R.configures],
  ['edges.parameter_modulates', R.modulates],
  ['edges.seed_param_allowed', R.allowed],
  ['edges.blueprint_composes', R.composes],
  ['edges.parameter_targets', R.targets],
  ['edges.layer_connects', R.connects],
  ['edges.seed_monitors', R.monitors],
  ['edges.layer_feeds', R.feeds],
];

const num = (v: unknown, fallback = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k) && (o as Record<string, unknown>)[k] !== undefined;
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** An empty relation (its arrays have no elements to change), shared by every build. */
const NO_EDGES: RelationEdges = Object.freeze({ count: 0, src: new Int32Array(0), dst: new Int32Array(0), attr: new Float32Array(0) });

/**
 * The relations' edge arrays from flat lists `[s0, d0, a0, a1, a2, s1, …]` (`lengths[r]` numbers
 * of `lists[r]` are used): one `src`, one `dst` and one `attr` array for the whole build, each
 * relation a view of its part (three array buffers per build, not three per relation).
 */
function edgesFrom(lists: readonly (readonly number[])[], lengths: Int32Array): RelationEdges[] {
  let total = 0;
  for (let r = 0; r < lists.length; r++) total += (lengths[r] as number) / (2 + EDGE_ATTR_DIM);
  const srcAll = new Int32Array(total);
  const dstAll = new Int32Array(total);
  const attrAll = new Float32Array(total * EDGE_ATTR_DIM);
  const edges = new Array<RelationEdges>(lists.length);
  let e = 0;
  for (let r = 0; r < lists.length; r++) {
    const flat = lists[r] as readonly number[];
    const count = (lengths[r] as number) / (2 + EDGE_ATTR_DIM);
    const first = e;
    for (let i = 0, o = 0; i < count; i++, o += 5, e++) {
      srcAll[e] = flat[o] as number;
      dstAll[e] = flat[o + 1] as number;
      attrAll[e * 3] = flat[o + 2] as number;
      attrAll[e * 3 + 1] = flat[o + 3] as number;
      attrAll[e * 3 + 2] = flat[o + 4] as number;
    }
    edges[r] = count === 0 ? NO_EDGES : { count, src: srcAll.subarray(first, e), dst: dstAll.subarray(first, e), attr: attrAll.subarray(first * EDGE_ATTR_DIM, e * EDGE_ATTR_DIM) };
  }
  return edges;
}

/**
 * Tamiyo's graph builder (reference tamiyo §6, P4): turns a `SystemStatePacket` and the
 * candidate blueprint's metadata into the six node feature matrices and 21 relations the policy
 * reads. Each node type is filled in one pass over typed arrays; edges are written straight
 * into `Int32Array`/`Float32Array`s; the normaliser and registries are updated in place and
 * persisted by the owner, off the decision path.
 *
 * Blueprint identity is the candidate blueprint passed in, never the packet id (reference §17
 * item 5; decision 0058).
 */
export class PolicyGraphBuilder {
  readonly maxLayers: number;
  readonly maxActivations: number;
  readonly maxParameters: number;
  readonly normaliser: FeatureNormaliser;
  readonly registries: GraphRegistries;
  // Coverage bookkeeping without per-build Maps (decision 0063, GC pressure): every key gets a
  // slot once; a build counts into the slots and lists them in first-observed order.
  private readonly slotOf = new Map<string, number>();
  private readonly slotKeys: string[] = [];
  private observedN = new Int32Array(64);
  private presentN = new Int32Array(64);
  private seenIn = new Int32Array(64);
  private order = new Int32Array(64);
  private orderLength = 0;
  private builds = 0;
  /** The previous build's coverage, returned again while the values are the same. */
  private lastCoverage: Map<string, number> | undefined;
  private lastOrder = new Int32Array(0);
  private lastValues = new Float64Array(0);
  // Edge lists, kept (and their capacity) from build to build; `edgeLengths[r]` numbers are this build's.
  private readonly edgeLists: number[][] = RELATIONS.map(() => []);
  private readonly edgeLengths = new Int32Array(RELATIONS.length);

  constructor(options: PolicyGraphBuilderOptions = {}) {
    this.maxLayers = options.maxLayers ?? 3;
    this.maxActivations = options.maxActivations ?? 1;
    this.maxParameters = options.maxParameters ?? 1;
    this.normaliser = options.normaliser ?? new FeatureNormaliser();
    this.registries = options.registries ?? createRegistries();
  }

  private cover(key: string, isPresent: boolean): void {
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      slot = this.slotKeys.length;
      this.slotKeys.push(key);
      this.slotOf.set(key, slot);
      if (slot >= this.observedN.length) this.growSlots(2 * this.observedN.length);
    }
    if (this.seenIn[slot] !== this.builds) {
      this.seenIn[slot] = this.builds;
      this.observedN[slot] = 0;
      this.presentN[slot] = 0;
      this.order[this.orderLength++] = slot;
    }
    this.observedN[slot]!++;
    if (isPresent) this.presentN[slot]!++;
  }

  private growSlots(size: number): void {
    const grow = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.observedN = grow(this.observedN);
    this.presentN = grow(this.presentN);
    this.seenIn = grow(this.seenIn);
    this.order = grow(this.order);
  }

  /**
   * This build's per-key coverage (`present / observed`) in first-observed order. The previous
   * build's map is returned when every key and value is the same (a coverage map is never
   * modified), so steady-state decisions share one map and what is derived from it.
   */
  private coverage(): Coverage {
    const n = this.orderLength;
    const last = this.lastCoverage;
    let same = last !== undefined && this.lastOrder.length === n;
    const values = this.lastValues.length === n ? this.lastValues : new Float64Array(n);
    const order = this.lastOrder.length === n ? this.lastOrder : new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const slot = this.order[i] as number;
      const value = (this.presentN[slot] as number) / (this.observedN[slot] as number);
      if (same && (order[i] !== slot || values[i] !== value)) same = false;
      order[i] = slot;
      values[i] = value;
    }
    this.lastOrder = order;
    this.lastValues = values;
    if (same && last !== undefined) return last;
    const coverage = new Map<string, number>();
    for (let i = 0; i < n; i++) coverage.set(this.slotKeys[order[i] as number] as string, values[i] as number);
    this.lastCoverage = coverage;
    return coverage;
  }

  private push(r: number, s: number, d: number, a0: number, a1: number, a2: number): void {
    const list = this.edgeLists[r] as number[];
    const n = this.edgeLengths[r] as number;
    list[n] = s;
    list[n + 1] = d;
    list[n + 2] = a0;
    list[n + 3] = a1;
    list[n + 4] = a2;
    this.edgeLengths[r] = n + 5;
  }

  /** Builds the graph of `packet` with `blueprintId` as its blueprint node. */
  build(packet: SystemStatePacket, blueprintId: string, metadata: BlueprintMetadata = EMPTY_META): PolicyGraph {
    this.builds++;
    this.orderLength = 0;
    this.edgeLengths.fill(0);
    const norm = this.normaliser;
    const run = packet.trainingRunId || 'run';
    const metrics = packet.trainingMetrics;
    const graphMeta: GraphMetadata = metadata.graph ?? {};
    const risk = num(metadata.risk);
    const metaStage = num(metadata.stage);

    // ---- global (1 × 16)
    const S = packet.seedStates.length;
    const g = new Float32Array(FEATURE_DIMS.global);
    GLOBAL_METRICS.forEach(([slot, key, names], i) => {
      let value: number | undefined;
      for (const name of names) {
        if (has(metrics, name)) {
          value = metrics[name];
          break;
        }
      }
      g[2 * i] = norm.normalize(slot, value ?? 0);
      g[2 * i + 1] = value === undefined ? 0 : 1;
      this.cover(key, value !== undefined);
    });
    g[12] = norm.normalize(N.global_epoch, packet.currentEpoch);
    const step = Number(packet.globalStep);
    g[13] = norm.normalize(N.global_step, Math.log1p(step));
    g[14] = Math.tanh(S);
    const epochsTotal = num(metrics.epochs_total);
    g[15] = norm.normalize(N.epoch_progress, epochsTotal > 0 ? packet.currentEpoch / Math.max(1, epochsTotal) : 0);
    this.cover('global.epoch', packet.currentEpoch !== 0);
    this.cover('global.step', step !== 0);
    this.cover('global.seed_count', true);
    this.cover('global.epoch_progress', epochsTotal > 0);

    // ---- seeds (S × 14)
    const seedF = new Float32Array(S * FEATURE_DIMS.seed);
    const seedIds: string[] = new Array<string>(S);
    const blendAllowed = new Float32Array(S);
    const fallback = new Float32Array(S);
    const stageNorm = new Float32Array(S);
    const seedRisk = new Float32Array(S);
    const forceBlend = (graphMeta.capabilities?.allowed_blending_methods?.length ?? 0) > 0;
    for (let i = 0; i < S; i++) {
      const s = packet.seedStates[i]!;
      const o = i * FEATURE_DIMS.seed;
      const id = s.seedId || `seed-${i}`;
      seedIds[i] = id;
      seedF[o] = norm.normalize(N.seed_learning_rate, s.learningRate);
      seedF[o + 1] = s.learningRate !== 0 ? 1 : 0;
      seedF[o + 2] = norm.normalize(N.seed_risk, s.riskScore);
      seedF[o + 3] = s.riskScore !== 0 ? 1 : 0;
      seedF[o + 4] = norm.normalize(N.gradient_norm, s.gradientNorm);
      seedF[o + 5] = s.gradientNorm !== 0 ? 1 : 0;
      seedF[o + 6] = norm.normalize(N.seed_age, s.ageEpochs);
      seedF[o + 7] = s.ageEpochs !== 0 ? 1 : 0;
      const sn = s.stage / MAX_STAGE;
      seedF[o + 8] = sn;
      seedF[o + 9] = 1;
      seedF[o + 10] = s.layerDepth !== 0 ? s.layerDepth / this.maxLayers : 0;
      seedF[o + 11] = s.layerDepth !== 0 ? 1 : 0;
      seedF[o + 12] = this.registries.seed.index(id) / VOCAB;
      const allowed = forceBlend || num(s.metrics.blend_allowed) > 0 || s.stage >= SEED_STAGE_BLENDING ? 1 : 0;
      seedF[o + 13] = allowed;
      blendAllowed[i] = allowed;
      stageNorm[i] = sn;
      seedRisk[i] = s.riskScore;
      fallback[i] = 2 * allowed + Math.max(0, 1 - s.riskScore) + sn;
      this.cover('seed.learning_rate', s.learningRate !== 0);
      this.cover('seed.risk', s.riskScore !== 0);
      this.cover('seed.gradient_norm', s.gradientNorm !== 0);
      this.cover('seed.age', s.ageEpochs !== 0);
      this.cover('seed.layer_depth', s.layerDepth !== 0);
      this.cover('seed.stage', true);
      this.cover('seed.embedding', true);
      this.cover('seed.blend_allowed', true);
    }

    // ---- parameters: descriptors first (their count feeds the blueprint's parameter count)
    let paramDescs: readonly ParameterDescriptor[] = graphMeta.parameters ?? [];
    let paramsAllPresent = false;
    if (paramDescs.length === 0 && metadata.allowed_parameters !== undefined && Object.keys(metadata.allowed_parameters).length > 0) {
      paramDescs = Object.entries(metadata.allowed_parameters).map(([name, b]) => {
        const min = num(b.min);
        const max = num(b.max);
        return { name, min, max, span: max - min, default: (min + max) / 2 };
      });
      paramsAllPresent = true;
    }
    if (paramDescs.length === 0) {
      paramDescs = [{ name: 'alpha', min: 0, max: 1, span: 1, default: 0.5 }];
      paramsAllPresent = true;
    }

    // ---- blueprint (1 × 14)
    const bp = new Float32Array(FEATURE_DIMS.blueprint);
    bp[0] = this.registries.blueprint.index(blueprintId) / VOCAB;
    bp[1] = norm.normalize(N.validation_loss, packet.validationLoss);
    bp[2] = packet.validationLoss !== 0 ? 1 : 0;
    bp[3] = norm.normalize(N.training_loss, packet.trainingLoss);
    bp[4] = packet.trainingLoss !== 0 ? 1 : 0;
    bp[5] = risk;
    bp[6] = metaStage / 10;
    const pc = (graphMeta.parameters?.length ?? 0) > 0 ? graphMeta.parameters!.length : num(metadata.parameter_count);
    bp[7] = norm.normalize(N.blueprint_param_log, Math.log1p(pc));
    bp[8] = pc > 0 ? 1 : 0;
    bp[9] = num(metadata.tier_index) / 10;
    bp[10] = metadata.quarantine_only === true ? 1 : 0;
    bp[11] = metadata.approval_required === true ? 1 : 0;
    const cs = metadata.candidate_score;
    bp[12] = norm.normalize(N.blueprint_candidate_score, num(cs));
    bp[13] = cs !== undefined ? 1 : 0;
    if (metadata.hazard_class !== undefined) this.registries.hazardClass.index(metadata.hazard_class);
    if (metadata.optimizer_family !== undefined) this.registries.optimizerFamily.index(metadata.optimizer_family);
    this.cover('blueprint.embedding', true);
    this.cover('blueprint.validation_loss', packet.validationLoss !== 0);
    this.cover('blueprint.training_loss', packet.trainingLoss !== 0);
    this.cover('blueprint.risk', true);
    this.cover('blueprint.stage', true);
    this.cover('blueprint.tier', true);
    this.cover('blueprint.flags', true);
    this.cover('blueprint.parameter_count', pc > 0);
    this.cover('blueprint.candidate_score', cs !== undefined);
    if (metadata.hazard_class !== undefined) this.cover('blueprint.hazard_class', true);

    // ---- layers (L × 12)
    const layerDescs = graphMeta.layers ?? [];
    const L = Math.max(1, layerDescs.length > 0 ? Math.min(this.maxLayers, layerDescs.length) : this.maxLayers);
    const total = Math.max(layerDescs.length, L);
    const layerF = new Float32Array(L * FEATURE_DIMS.layer);
    const layerIds: string[] = new Array<string>(L);
    for (let i = 0; i < L; i++) {
      const d: LayerDescriptor = layerDescs[i] ?? {};
      const o = i * FEATURE_DIMS.layer;
      const nonEmpty = Object.keys(d).length > 0;
      layerF[o] = (num(d.depth, i) + 1) / total;
      layerF[o + 1] = has(d, 'depth') ? 1 : 0;
      layerF[o + 2] = norm.normalize(N.layer_latency_ms, num(d.latency_ms));
      layerF[o + 3] = has(d, 'latency_ms') ? 1 : 0;
      layerF[o + 4] = norm.normalize(N.layer_parameter_count, Math.log1p(Math.max(0, num(d.parameter_count))));
      layerF[o + 5] = has(d, 'parameter_count') ? 1 : 0;
      layerF[o + 6] = clamp(num(d.dropout_rate), 0, 1);
      layerF[o + 7] = this.registries.layerType.index(d.type ?? 'unknown') / VOCAB;
      layerF[o + 8] = this.registries.activationType.index(d.activation ?? d.activation_type ?? 'unknown') / VOCAB;
      layerF[o + 9] = norm.normalize(N.layer_weight_norm, num(d.weight_norm));
      layerF[o + 10] = norm.normalize(N.layer_gradient_norm, num(d.gradient_norm));
      layerF[o + 11] = nonEmpty ? 1 : 0;
      layerIds[i] = d.layer_id ?? `${run}-L${i}`;
      this.cover('layer.depth', true);
      this.cover('layer.latency', num(d.latency_ms) !== 0);
      this.cover('layer.param_count', num(d.parameter_count) > 0);
      this.cover('layer.dropout', has(d, 'dropout_rate'));
      this.cover('layer.type', has(d, 'type'));
      this.cover('layer.activation', has(d, 'activation') || has(d, 'activation_type'));
      this.cover('layer.weight_norm', num(d.weight_norm) !== 0);
      this.cover('layer.gradient_norm', num(d.gradient_norm) !== 0);
    }

    // ---- activations (A × 8)
    const actDescs = graphMeta.activations ?? [];
    const A = Math.max(1, actDescs.length > 0 ? Math.min(this.maxActivations, actDescs.length) : this.maxActivations);
    const actF = new Float32Array(A * FEATURE_DIMS.activation);
    const activationIds: string[] = new Array<string>(A);
    for (let i = 0; i < A; i++) {
      const d: ActivationDescriptor = actDescs[i] ?? {};
      const o = i * FEATURE_DIMS.activation;
      actF[o] = this.registries.activationType.index(d.type ?? 'unknown') / VOCAB;
      actF[o + 1] = Object.keys(d).length > 0 ? 1 : 0;
      actF[o + 2] = norm.normalize(N.activation_saturation, num(d.saturation_rate));
      actF[o + 3] = has(d, 'saturation_rate') ? 1 : 0;
      actF[o + 4] = norm.normalize(N.activation_gradient_flow, num(d.gradient_flow));
      actF[o + 5] = norm.normalize(N.activation_cost, Math.log1p(Math.max(0, num(d.computational_cost))));
      actF[o + 6] = norm.normalize(N.activation_nonlinearity, num(d.nonlinearity_strength));
      actF[o + 7] = i / Math.max(1, A - 1);
      activationIds[i] = d.activation_id ?? `${run}-A${i}`;
      this.cover('activation.type', true);
      this.cover('activation.saturation', num(d.saturation_rate) !== 0);
      this.cover('activation.gradient_flow', num(d.gradient_flow) !== 0);
      this.cover('activation.cost', num(d.computational_cost) !== 0);
    }

    // ---- parameters (P × 10)
    const P = Math.min(this.maxParameters, Math.max(1, paramDescs.length));
    const paramF = new Float32Array(P * FEATURE_DIMS.parameter);
    const parameterIds: string[] = new Array<string>(P);
    const parameterNames: string[] = new Array<string>(P);
    for (let i = 0; i < P; i++) {
      const d = paramDescs[i]!;
      const o = i * FEATURE_DIMS.parameter;
      const min = num(d.min);
      const max = num(d.max);
      const pres = (k: keyof ParameterDescriptor) => paramsAllPresent || has(d, k);
      paramF[o] = norm.normalize(N.parameter_min, min);
      paramF[o + 1] = pres('min') ? 1 : 0;
      paramF[o + 2] = norm.normalize(N.parameter_max, max);
      paramF[o + 3] = pres('max') ? 1 : 0;
      paramF[o + 4] = norm.normalize(N.parameter_span, num(d.span, max - min));
      paramF[o + 5] = pres('span') ? 1 : 0;
      paramF[o + 6] = norm.normalize(N.parameter_default, num(d.default, (min + max) / 2));
      paramF[o + 7] = pres('default') ? 1 : 0;
      paramF[o + 8] = risk;
      paramF[o + 9] = metaStage / 10;
      const name = d.name ?? `param${i}`;
      parameterNames[i] = name;
      parameterIds[i] = `${run}-${name}`;
      this.cover('parameter.min', pres('min'));
      this.cover('parameter.max', pres('max'));
      this.cover('parameter.span', pres('span'));
      this.cover('parameter.default', pres('default'));
    }

    // ---- relations (tamiyo §6.5)
    const ld = (l: number) => (l + 1) / Math.max(1, L);
    const ar = (a: number) => (a + 1) / Math.max(1, A);
    const pr = (p: number) => (p + 1) / Math.max(1, P);
    const push = (r: number, s: number, d: number, a0: number, a1: number, a2: number) => this.push(r, s, d, a0, a1, a2);
    for (let i = 0; i < S; i++) {
      push(R.influences, 0, i, 1, stageNorm[i]!, seedRisk[i]!);
      push(R.reports, i, 0, 1, stageNorm[i]!, seedRisk[i]!);
      if (i + 1 < S) push(R.peer, i, i + 1, 0.5, 0, 0);
    }
    push(R.annotates, 0, 0, 1, metaStage, risk);
    push(R.bpMonitoredBy, 0, 0, 1, metaStage, risk);
    for (let l = 0; l < L; l++) {
      push(R.operates, 0, l, 1, ld(l), risk);
      push(R.feedback, l, 0, 1, ld(l), risk);
      push(R.composes, 0, l, risk, ld(l), 1);
      push(R.belongsTo, l, 0, risk, ld(l), 1);
      for (let a = 0; a < A; a++) {
        push(R.activates, l, a, ld(l), ar(a), 1);
        push(R.affects, a, l, ld(l), ar(a), 1);
        push(R.feeds, l, a, ld(l), ar(a), 1);
      }
    }
    for (let a = 0; a < A; a++) {
      push(R.energizes, 0, a, risk, ar(a), 1);
      for (let p = 0; p < P; p++) {
        push(R.configures, a, p, ar(a), pr(p), 1);
        push(R.modulates, p, a, ar(a), pr(p), 1);
      }
    }
    for (let p = 0; p < P; p++) push(R.targets, p, 0, pr(p), risk, 1);

    // Capability edges (12/13): blending seeds × their allowed parameters.
    if (S > 0 && P > 0) {
      const nameIndex = new Map<string, number>();
      parameterIds.forEach((pid, p) => nameIndex.set(pid.slice(pid.lastIndexOf('-') + 1), p));
      const byId = graphMeta.capabilities?.allowed_parameters_by_seed_id;
      const byIndex = graphMeta.capabilities?.allowed_parameters_by_seed_index;
      const allowedFlags = new Uint8Array(P);
      for (let i = 0; i < S; i++) {
        if (blendAllowed[i]! <= 0) continue;
        const list = byId?.[seedIds[i]!] ?? byIndex?.[String(i)];
        allowedFlags.fill(list === undefined ? 1 : 0);
        for (const item of list ?? []) {
          const p = typeof item === 'number' ? item : nameIndex.get(item);
          if (p !== undefined && Number.isInteger(p) && p >= 0 && p < P) allowedFlags[p] = 1;
        }
        for (let p = 0; p < P; p++) {
          if (allowedFlags[p] === 0) continue;
          push(R.allowed, i, p, blendAllowed[i]!, 1, stageNorm[i]!);
          push(R.associated, p, i, blendAllowed[i]!, 1, stageNorm[i]!);
        }
      }
    }

    // Layer connects (18): valid adjacency pairs, else a chain.
    const adjacency = Array.isArray(graphMeta.adjacency) ? graphMeta.adjacency : (graphMeta.adjacency as { layer?: readonly (readonly number[])[] } | undefined)?.layer;
    for (const pair of adjacency ?? []) {
      const [s, d] = pair;
      if (Number.isInteger(s) && Number.isInteger(d) && s! >= 0 && s! < L && d! >= 0 && d! < L) push(R.connects, s!, d!, ld(s!), ld(d!), risk);
    }
    if (this.edgeLengths[R.connects] === 0) for (let l = 0; l + 1 < L; l++) push(R.connects, l, l + 1, ld(l), ld(l + 1), risk);

    // Seed monitors (19/20): explicit pairs, else each passing seed watches its depth's layer.
    if (S > 0 && L > 0) {
      const thresholds = graphMeta.monitors?.thresholds;
      const riskMax = typeof thresholds?.risk_max === 'number' ? thresholds.risk_max : undefined;
      const stageMin = typeof thresholds?.stage_min === 'number' ? thresholds.stage_min : undefined;
      const passes = (i: number) => !(riskMax !== undefined && seedRisk[i]! > riskMax) && !(stageMin !== undefined && stageNorm[i]! < stageMin);
      const explicit: number[] = [];
      const inRange = (s: unknown, l: unknown): boolean => Number.isInteger(s) && Number.isInteger(l) && (s as number) >= 0 && (s as number) < S && (l as number) >= 0 && (l as number) < L;
      for (const pair of graphMeta.monitored_layers ?? []) {
        if (inRange(pair[0], pair[1])) explicit.push(pair[0]!, pair[1]!, pair.length > 2 && Number.isFinite(pair[2]) ? pair[2]! : Number.NaN);
      }
      for (const [id, layers] of Object.entries(graphMeta.monitors?.by_seed_id ?? {})) {
        const s = seedIds.indexOf(id);
        for (const l of layers) if (inRange(s, l)) explicit.push(s, l, Number.NaN);
      }
      for (const [key, layers] of Object.entries(graphMeta.monitors?.by_seed_index ?? {})) {
        const s = Number(key);
        for (const l of layers) if (inRange(s, l)) explicit.push(s, l, Number.NaN);
      }
      const monitor = (s: number, l: number, w: number) => {
        const weight = Number.isNaN(w) ? ld(l) : w;
        push(R.monitors, s, l, stageNorm[s]!, seedRisk[s]!, weight);
        push(R.layerMonitoredBy, l, s, stageNorm[s]!, seedRisk[s]!, weight);
      };
      if (explicit.length > 0) {
        for (let k = 0; k < explicit.length; k += 3) if (passes(explicit[k]!)) monitor(explicit[k]!, explicit[k + 1]!, explicit[k + 2]!);
      } else {
        for (let i = 0; i < S; i++) {
          if (passes(i)) monitor(i, clamp(Math.round(packet.seedStates[i]!.layerDepth), 0, L - 1), Number.NaN);
        }
      }
    }

    const edges = edgesFrom(this.edgeLists, this.edgeLengths);
    for (let i = 0; i < EDGE_COVERAGE.length; i++) {
      const [key, r] = EDGE_COVERAGE[i]!;
      this.cover(key, edges[r]!.count > 0);
    }
    const coverage = this.coverage();

    return {
      counts: { global: 1, seed: S, blueprint: 1, layer: L, activation: A, parameter: P },
      features: { global: g, seed: seedF, blueprint: bp, layer: layerF, activation: actF, parameter: paramF },
      edges,
      seedIds,
      blueprintId,
      layerIds,
      activationIds,
      parameterIds,
      seedBlendAllowed: blendAllowed,
      seedFallbackScores: fallback,
      blueprintFallbackScore: num(cs),
      coverage,
    };
  }
}

/** Typed coverage (tamiyo §6.6): count-weighted coverage per family (`node.seed`, `edges.layer_connects`, …). */
export function coverageTypes(coverage: Coverage): Record<string, number> {
  const sums = new Map<string, [number, number]>();
  for (const [key, value] of coverage) {
    if (key === 'edges.seed_param_allowed') continue;
    const family = key.startsWith('edges.') ? key : `node.${key.slice(0, key.indexOf('.'))}`;
    const entry = sums.get(family) ?? [0, 0];
    entry[0] += value;
    entry[1] += 1;
    sums.set(family, entry);
  }
  return Object.fromEntries([...sums].map(([k, [s, n]]) => [k, s / n]));
}

/** JSON of {@link coverageTypes}, computed once per coverage map (decision 0063, GC pressure). */
const typesJson = new WeakMap<Coverage, string>();

/** `JSON.stringify(coverageTypes(coverage))`, remembered for the map (maps from a build are never modified). */
export function coverageTypesJson(coverage: Coverage): string {
  let json = typesJson.get(coverage);
  if (json === undefined) {
    json = JSON.stringify(coverageTypes(coverage));
    typesJson.set(coverage, json);
  }
  return json;
}

/** Mean of the per-key coverage (0 when empty). */
export function averageCoverage(coverage: Coverage): number {
  let sum = 0;
  for (const v of coverage.values()) sum += v;
  return coverage.size === 0 ? 0 : sum / coverage.size;
}

