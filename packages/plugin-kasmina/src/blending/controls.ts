import { SeedLifecycleStage } from '@esper/core/leyline';

const S = SeedLifecycleStage;

/**
 * The per-seed scalars of the blend (API: `out = (1−α)·gate(h, host_gate) + α·s + st·(s − sg(s))`,
 * with the seed reading `x = gate(h, in_gate)`), fed as graph inputs so stage changes never
 * recompile.
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
}

/** Suffix of each control input's name: `seed/<id>/<suffix>`. */
export const CONTROL_SUFFIXES: Readonly<Record<keyof ControlValues, string>> = Object.freeze({
  alpha: 'alpha',
  st: 'st',
  inGate: 'in_gate',
  hostGate: 'host_gate',
});

/** Graph input name of a seed's control (`seed/hidden1/alpha`). */
export function controlInputName(seedId: string, control: keyof ControlValues): string {
  return `seed/${seedId}/${CONTROL_SUFFIXES[control]}`;
}

/** The four control input names of a seed, in a fixed order (alpha, st, in_gate, host_gate). */
export function controlInputNames(seedId: string): string[] {
  return (Object.keys(CONTROL_SUFFIXES) as (keyof ControlValues)[]).map((c) => controlInputName(seedId, c));
}

/** Grafted, not yet training: the forward is the host's and the seed gets no gradient. */
const GERMINATED: ControlValues = Object.freeze({ alpha: 0, st: 0, inGate: 0, hostGate: 1 });
/** Incubation: forward is the host's, the seed learns straight-through, the host is untouched. */
const TRAINING: ControlValues = Object.freeze({ alpha: 0, st: 1, inGate: 0, hostGate: 1 });

/**
 * The model without this seed: α = 0 and no straight-through term, for counterfactual
 * evaluation (forward equals the host's at the slot).
 */
export const COUNTERFACTUAL_CONTROLS: ControlValues = Object.freeze({ alpha: 0, st: 0, inGate: 0, hostGate: 1 });

/**
 * Control values of a grafted seed in `stage` with blend weight `alpha` (used in BLENDING; the
 * other stages fix α). BLENDING is a convex blend with the host term stop-gradient; from
 * SHADOWING on the seed is fully in (α = 1).
 *
 * @throws RangeError for a stage in which a seed is not grafted.
 */
export function controlValues(stage: SeedLifecycleStage, alpha: number): ControlValues {
  switch (stage) {
    case S.SEED_STAGE_GERMINATED:
      return GERMINATED;
    case S.SEED_STAGE_TRAINING:
      return TRAINING;
    case S.SEED_STAGE_BLENDING:
      return { alpha, st: 0, inGate: 1, hostGate: 0 };
    case S.SEED_STAGE_SHADOWING:
    case S.SEED_STAGE_PROBATIONARY:
    case S.SEED_STAGE_FOSSILIZED:
      return { alpha: 1, st: 0, inGate: 1, hostGate: 0 };
    default:
      throw new RangeError(`controlValues: a seed in stage ${stage} is not grafted, so it has no control values`);
  }
}
