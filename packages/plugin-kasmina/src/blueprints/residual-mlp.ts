import { create } from '@bufbuild/protobuf';
import { BlueprintDescriptorSchema, BlueprintParameterBoundsSchema, BlueprintTier } from '@esper/core/leyline';
import type { ParameterSpec, Tensor } from '@esper/onnx';
import type { Blueprint } from './blueprint.js';

/** Options of {@link residualMlp}. */
export interface ResidualMlpOptions {
  /** Blueprint id (catalogue key, `seed_operation.blueprint_id`). */
  readonly id: string;
  /** Human name. */
  readonly name: string;
  /** Hidden width as a fraction of the slot's width, when the command does not set `hidden`. */
  readonly hiddenRatio: number;
  /** Largest `hidden` a command may ask for. Default 4096. */
  readonly maxHidden?: number;
  /** Descriptor risk in [0, 1] (reported as the seed's `risk_score`). Default 0.1. */
  readonly risk?: number;
}

/** Name of the option a GERMINATE may set in `seed_operation.parameters`: the hidden width. */
export const HIDDEN_PARAMETER = 'hidden';

/**
 * A residual MLP adapter: `s = x + up(relu(down(x)))`, with `down` a Kaiming-initialised
 * projection to the hidden width and `up` (weights and bias) zero-initialised, so `s == x` at
 * graft time and the blueprint starts as the identity of its slot.
 *
 * Parameters: `down.w [F, H]`, `down.b [H]`, `up.w [H, F]`, `up.b [F]`, with `H` the command's
 * `hidden` option or `max(1, round(F · hiddenRatio))`.
 */
export function residualMlp(options: ResidualMlpOptions): Blueprint {
  const descriptor = create(BlueprintDescriptorSchema, {
    blueprintId: options.id,
    name: options.name,
    tier: BlueprintTier.SAFE,
    risk: options.risk ?? 0.1,
    allowedParameters: { [HIDDEN_PARAMETER]: create(BlueprintParameterBoundsSchema, { minValue: 1, maxValue: options.maxHidden ?? 4096 }) },
    description:
      `Residual MLP adapter s = x + up(relu(down(x))), hidden width ${options.hiddenRatio}× the slot's ` +
      `(option "${HIDDEN_PARAMETER}" overrides it); up-projection zero-initialised, so it starts as the identity.`,
  });
  return {
    descriptor,
    parameters(features, given): ParameterSpec[] {
      const hidden = given[HIDDEN_PARAMETER] !== undefined ? Math.round(given[HIDDEN_PARAMETER]) : Math.max(1, Math.round(features * options.hiddenRatio));
      return [
        { name: 'down.w', dims: [features, hidden], init: { kind: 'kaiming' } },
        { name: 'down.b', dims: [hidden], init: { kind: 'zeros' } },
        { name: 'up.w', dims: [hidden, features], init: { kind: 'zeros' } },
        { name: 'up.b', dims: [features], init: { kind: 'zeros' } },
      ];
    },
    forward(x: Tensor, p): Tensor {
      const hidden = x.matmul(p['down.w']!).add(p['down.b']!).relu();
      return x.add(hidden.matmul(p['up.w']!).add(p['up.b']!));
    },
  };
}
