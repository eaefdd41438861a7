import { SeedLifecycleStage } from '@esper/core/leyline';
import type { BlendConfig, BlendMode } from './modes.js';

const S = SeedLifecycleStage;

/**
 * The per-seed values of the blend, fed as graph inputs so stage changes and blend-mode changes
 * never recompile. The seed reads `x = gate(h, in_gate)`; its output `s` enters the host as
 *
 *     w   = clamp(α · v · (c·g + 1 − c), lo, hi)          v: alpha_vec, c: confidence, g: gate of s
 *     out = (1 − (1 − r)·w) · gate(h, host_gate) + w·s + st·(s − sg(s))      r: residual
 *
 * which is the CONVEX blend for `v = 1, c = 0, r = 0, lo = 0, hi = 1`, RESIDUAL for `r = 1`,
 * CHANNEL for a per-feature `v` and CONFIDENCE for `c = 1` (decision 0060).
 */
export interface ControlValues {
  /** α: weight of the seed's output in the forward value. */
  readonly alpha: number;
  /** Straight-through switch: 1 gives the seed the gradient of the blend output while the forward stays the host's. */
  readonly st: number;
  /** Gradient gate on the seed's input (0: no gradient from the seed reaches the host). */
  readonly inGate: number;
  /** Gradient gate on the host term of the blend (0: the host term is stop-gradient). */
  readonly hostGate: number;
  /** Per-feature multiplier `v` of α (CHANNEL), one value per slot feature, or one number for all of them. */
  readonly alphaVec: number | readonly number[];
  /** 1: the host term keeps weight 1 (RESIDUAL); 0: it gets `1 − w`. */
  readonly residual: number;
  /** 1: α is modulated per sample by the confidence gate (CONFIDENCE); 0: not. */
  readonly confidence: number;
  /** Steepness `k` of the confidence gate. */
  readonly gateK: number;
  /** Margin offset `τ` of the confidence gate. */
  readonly gateTau: number;
  /** Lower clamp of the effective weight `w`. */
  readonly alphaLo: number;
  /** Upper clamp of the effective weight `w`. */
  readonly alphaHi: number;
}

/** The part of {@link ControlValues} a blend mode sets. */
export type BlendValues = Pick<ControlValues, 'alphaVec' | 'residual' | 'confidence' | 'gateK' | 'gateTau' | 'alphaLo' | 'alphaHi'>;

/** Suffix of each control input's name: `seed/<id>/<suffix>`. */
export const CONTROL_SUFFIXES: Readonly<Record<keyof ControlValues, string>> = Object.freeze({
  alpha: 'alpha',
  st: 'st',
  inGate: 'in_gate',
  hostGate: 'host_gate',
  alphaVec: 'alpha_vec',
  residual: 'residual',
  confidence: 'confidence',
  gateK: 'gate_k',
  gateTau: 'gate_tau',
  alphaLo: 'alpha_lo',
  alphaHi: 'alpha_hi',
});

/** The controls in input order. `alphaVec` is a float32 vector of the slot's width; every other one a float32 scalar. */
export const CONTROL_KEYS: readonly (keyof ControlValues)[] = Object.freeze(Object.keys(CONTROL_SUFFIXES) as (keyof ControlValues)[]);

/** Graph input name of a seed's control (`seed/hidden1/alpha`). */
export function controlInputName(seedId: string, control: keyof ControlValues): string {
  return `seed/${seedId}/${CONTROL_SUFFIXES[control]}`;
}

/** The control input names of a seed, in {@link CONTROL_KEYS} order (alpha, st, in_gate, host_gate, alpha_vec, …). */
export function controlInputNames(seedId: string): string[] {
  return CONTROL_KEYS.map((c) => controlInputName(seedId, c));
}

/** The CONVEX blend's values: `w = clamp01(α)`, host term `1 − w`. */
export const CONVEX_BLEND: BlendValues = Object.freeze({ alphaVec: 1, residual: 0, confidence: 0, gateK: 0, gateTau: 0, alphaLo: 0, alphaHi: 1 });

/** Grafted, not yet training: the forward is the host's and the seed gets no gradient. */
const GERMINATED: ControlValues = Object.freeze({ alpha: 0, st: 0, inGate: 0, hostGate: 1, ...CONVEX_BLEND });
/** Incubation: forward is the host's, the seed learns straight-through, the host is untouched. */
const TRAINING: ControlValues = Object.freeze({ alpha: 0, st: 1, inGate: 0, hostGate: 1, ...CONVEX_BLEND });

/**
 * The model without this seed: α = 0, the CONVEX blend and no straight-through term, for
 * counterfactual evaluation (forward equals the host's at the slot, whatever the seed's mode).
 */
export const COUNTERFACTUAL_CONTROLS: ControlValues = Object.freeze({ alpha: 0, st: 0, inGate: 0, hostGate: 1, ...CONVEX_BLEND });

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * Control values of a grafted seed in `stage` with blend weight `alpha` (used in BLENDING; the
 * other stages fix α) and blend mode `blend`. GERMINATED and TRAINING ignore the mode: there the
 * forward value must stay the host's (a CONFIDENCE floor `alpha_lo > 0` would let the seed in at
 * α = 0). BLENDING blends with the host term stop-gradient; from SHADOWING on α = 1.
 *
 * @throws RangeError for a stage in which a seed is not grafted.
 */
export function controlValues(stage: SeedLifecycleStage, alpha: number, blend: BlendValues = CONVEX_BLEND): ControlValues {
  switch (stage) {
    case S.SEED_STAGE_GERMINATED:
      return GERMINATED;
    case S.SEED_STAGE_TRAINING:
      return TRAINING;
    case S.SEED_STAGE_BLENDING:
      return { alpha: clamp01(alpha), st: 0, inGate: 1, hostGate: 0, ...blend };
    case S.SEED_STAGE_SHADOWING:
    case S.SEED_STAGE_PROBATIONARY:
    case S.SEED_STAGE_FOSSILIZED:
      return { alpha: 1, st: 0, inGate: 1, hostGate: 0, ...blend };
    default:
      throw new RangeError(`controlValues: a seed in stage ${stage} is not grafted, so it has no control values`);
  }
}

/** A blend configuration resolved against the slot it blends at. */
export interface ResolvedBlend {
  /** The mode the graph computes: the configured one, or CONVEX when it cannot apply. */
  readonly mode: BlendMode;
  /** Why the configured mode fell back to CONVEX, when it did. */
  readonly fallback?: string;
  readonly values: BlendValues;
}

/**
 * The blend values of `config` at a slot `features` wide. No config is CONVEX. CHANNEL needs an
 * `alphaVec` of exactly `features` values, else it blends as CONVEX (with the reason).
 */
export function resolveBlend(config: BlendConfig | undefined, features: number): ResolvedBlend {
  if (config === undefined) return { mode: 'CONVEX', values: CONVEX_BLEND };
  switch (config.mode) {
    case 'CONVEX':
      return { mode: 'CONVEX', values: CONVEX_BLEND };
    case 'RESIDUAL':
      return { mode: 'RESIDUAL', values: { ...CONVEX_BLEND, residual: 1 } };
    case 'CHANNEL': {
      const v = config.alphaVec;
      if (v === undefined) return { mode: 'CONVEX', fallback: 'CHANNEL without an alpha_vec', values: CONVEX_BLEND };
      if (v.length !== features) return { mode: 'CONVEX', fallback: `alpha_vec has ${v.length} values, the slot is ${features} wide`, values: CONVEX_BLEND };
      return { mode: 'CHANNEL', values: { ...CONVEX_BLEND, alphaVec: v.map(clamp01) } };
    }
    case 'CONFIDENCE': {
      const c = config.confidence;
      if (c === undefined) return { mode: 'CONVEX', fallback: 'CONFIDENCE without gate parameters', values: CONVEX_BLEND };
      return { mode: 'CONFIDENCE', values: { ...CONVEX_BLEND, confidence: 1, ...c } };
    }
  }
}
