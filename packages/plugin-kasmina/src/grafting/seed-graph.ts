import type { SeedSlot } from '@esper/core';
import { GraphBuilder, initParameters, numel, type Graph, type Shape, type Tensor, type DType } from '@esper/onnx';
import type { Blueprint } from '../blueprints/blueprint.js';
import { blend, seedInput, type BlendControls } from '../blending/blend.js';
import { CONTROL_KEYS, CONTROL_SUFFIXES } from '../blending/controls.js';

/** Prefix of every name a seed adds to the composed graph: `seed/<id>`. */
export function seedPrefix(seedId: string): string {
  return `seed/${seedId}`;
}

/** What a seed subgraph is built from. */
export interface SeedGraphSpec {
  readonly seedId: string;
  readonly slot: SeedSlot;
  /** dtype and shape of the slot tensor in the host graph. */
  readonly slotValue: { readonly dtype: DType; readonly shape: Shape | null };
  readonly blueprint: Blueprint;
  /** The GERMINATE's `seed_operation.parameters` (checked by G0 before the kernel is used). */
  readonly options: Readonly<Record<string, number>>;
  /**
   * How many seeds this slot has germinated, this one included (1, 2, …). Part of the parameter
   * names, so a re-germinated slot gets new names and new initial values, and a trainer carrying
   * parameters by name never hands it the values of the seed before it.
   */
  readonly generation: number;
  /** The run seed: initial values come from it and each parameter's full name. */
  readonly runSeed: number;
  /** Build the CONFIDENCE gate into the blend (decision 0060). Default false: CONVEX, RESIDUAL and CHANNEL only. */
  readonly confidenceGate?: boolean;
}

/** A seed's subgraph, ready to graft at its slot. */
export interface SeedGraph {
  /**
   * Inputs `h` (the slot value) and the controls in `CONTROL_KEYS` order (`alpha`, `st`,
   * `in_gate`, `host_gate`, `alpha_vec` `[features]`, `residual`, `confidence`, `gate_k`,
   * `gate_tau`, `alpha_lo`, `alpha_hi`; float32, scalars but for `alpha_vec`); output `out`, the blend; parameters under `g<generation>/…`. Grafting with prefix
   * {@link seedPrefix} names them `seed/<id>/…`.
   */
  readonly graph: Graph;
  /** Parameter names as they appear in the composed graph (`seed/<id>/g<n>/down.w` …). */
  readonly parameterNames: readonly string[];
  /** Number of scalar parameters. */
  readonly parameterCount: number;
  /** Whether the blend computes the CONFIDENCE gate (else a CONFIDENCE config needs a rebuild). */
  readonly confidenceGate: boolean;
}

/** Outcome of {@link buildSeedGraph}: the subgraph, or why the blueprint does not fit the slot. */
export type SeedGraphResult = { readonly ok: true; readonly seed: SeedGraph } | { readonly ok: false; readonly issues: readonly string[] };

const sameShape = (a: Shape | null, b: Shape | null): boolean =>
  a !== null && b !== null && a.length === b.length && a.every((d, i) => d === b[i]);
const show = (s: Shape | null): string => (s === null ? '[?]' : `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]`);

/**
 * Builds the subgraph of one seed: `x = gate(h, in_gate)`, `s = kernel(x)`, `out = blend(h, s)`,
 * with the kernel's parameters initialised from the run seed. Checks the kernel's interface: its
 * output must have the slot's dtype and shape. Never throws for a blueprint that does not fit;
 * returns the issues instead (they fail G0).
 */
export function buildSeedGraph(spec: SeedGraphSpec): SeedGraphResult {
  const { slot, slotValue, blueprint } = spec;
  const issues: string[] = [];
  if (slotValue.dtype !== 'float32') issues.push(`slot ${slot.id} tensor "${slot.tensor}" is ${slotValue.dtype}; seeds attach to float32 values`);
  const last = slotValue.shape?.[slotValue.shape.length - 1];
  if (slotValue.shape === null || slotValue.shape.length !== 2 || last !== slot.features) {
    issues.push(`slot ${slot.id} tensor "${slot.tensor}" has shape ${show(slotValue.shape)}, not [batch, ${slot.features}]`);
  }
  if (issues.length > 0) return { ok: false, issues };

  const local = `g${spec.generation}`;
  const fullName = (name: string): string => `${seedPrefix(spec.seedId)}/${local}/${name}`;
  try {
    const specs = blueprint.parameters(slot.features, spec.options);
    const values = initParameters(specs.map((p) => ({ ...p, name: fullName(p.name) })), spec.runSeed);
    const b = new GraphBuilder(`seed_${spec.seedId}`);
    const h = b.input('h', 'float32', slotValue.shape);
    const controls = Object.fromEntries(
      CONTROL_KEYS.map((key) => [key, b.input(CONTROL_SUFFIXES[key], 'float32', key === 'alphaVec' ? [slot.features] : [])]),
    ) as unknown as BlendControls;
    const params: Record<string, Tensor> = {};
    for (const p of specs) params[p.name] = b.param(`${local}/${p.name}`, values.get(fullName(p.name)));
    const s = b.scope('kernel', () => blueprint.forward(seedInput(h, controls), params));
    if (s.dtype !== 'float32' || !sameShape(s.shape, h.shape)) {
      return { ok: false, issues: [`blueprint ${blueprint.descriptor.blueprintId} outputs ${s.dtype} ${show(s.shape)} at slot ${slot.id}, which needs float32 ${show(h.shape)}`] };
    }
    const confidenceGate = spec.confidenceGate ?? false;
    b.output(b.scope('blend', () => blend(h, s, controls, { confidenceGate })), 'out');
    return {
      ok: true,
      seed: {
        // Not pruned: the stop-gradient constant is read only through the gradient-gate table.
        graph: b.build(),
        parameterNames: specs.map((p) => fullName(p.name)),
        parameterCount: specs.reduce((n, p) => n + numel(p.dims), 0),
        confidenceGate,
      },
    };
  } catch (error) {
    return { ok: false, issues: [`blueprint ${blueprint.descriptor.blueprintId} cannot be built at slot ${slot.id}: ${error instanceof Error ? error.message : String(error)}`] };
  }
}
