import { OnnxGraphError } from '../errors.js';
import type { Tensor } from '../ir/tensor.js';

/** Metadata key of the gradient-gate table (`{"<gate output>": "<gate tensor>"}`, JSON). */
export const GRADIENT_GATES_METADATA_KEY = 'esper.gradient_gates';

/** The gate table of a graph's metadata (gate node output → gate tensor name). */
export function readGates(metadata: string | undefined): Record<string, string> {
  if (metadata === undefined) return {};
  return JSON.parse(metadata) as Record<string, string>;
}

/**
 * Identity in the forward pass; in the backward pass the gradient flowing through is
 * multiplied by `gate` (a scalar or broadcastable float tensor, usually a graph input). A gate
 * of 0 stops gradients (isolation, freezing), 1 lets them through, anything between scales
 * them — all at run time, without recompiling. Recorded in the graph's metadata, so it
 * survives serialization.
 */
export function gradientGate(x: Tensor, gate: Tensor): Tensor {
  if (gate.dtype !== x.dtype) throw new OnnxGraphError(`gradientGate: gate "${gate.name}" is ${gate.dtype}, "${x.name}" is ${x.dtype}`);
  const b = x.builder;
  const out = b.op1('Identity', [x], {}, { dtype: x.dtype, shape: x.shape }, 'GradientGate');
  const table = readGates(b.metaValue(GRADIENT_GATES_METADATA_KEY));
  table[out.name] = gate.name;
  b.meta(GRADIENT_GATES_METADATA_KEY, JSON.stringify(table));
  return out;
}
