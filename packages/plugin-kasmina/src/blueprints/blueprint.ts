import type { BlueprintDescriptor } from '@esper/core/leyline';
import type { ParameterSpec, Tensor } from '@esper/onnx';

/**
 * A blueprint Kasmina can graft: its Leyline descriptor (what the catalogue serves) and how to
 * build its kernel at a slot. A kernel reads `x` (`[batch, features]`) and returns a value of the
 * same shape; it owns its parameters.
 */
export interface Blueprint {
  readonly descriptor: BlueprintDescriptor;
  /**
   * The kernel's parameters for a slot `features` wide, by the blueprint's own short names
   * (`down.w` …), with their initialisers. `options` are the GERMINATE command's
   * `seed_operation.parameters`, already checked against `descriptor.allowedParameters`.
   */
  parameters(features: number, options: Readonly<Record<string, number>>): readonly ParameterSpec[];
  /**
   * Adds the kernel's forward to `x`'s builder and returns its output. `params` holds a tensor
   * for every name {@link parameters} returned.
   */
  forward(x: Tensor, params: Readonly<Record<string, Tensor>>): Tensor;
}
