import { OnnxGraphError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { Dim, Shape } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * `cond ? then() : otherwise()` as an ONNX `If`: only the chosen branch runs. `cond` is a bool
 * scalar (or one-element tensor); each branch returns the same number of tensors with the same
 * dtypes, built from any tensors of the enclosing graph (see `GraphBuilder.subgraph`). Returns
 * the outputs of the branch that ran. Shapes the branches disagree on become unknown dims.
 */
export function ifElse(cond: Tensor, then: () => readonly Tensor[], otherwise: () => readonly Tensor[], nameHint = 'If'): Tensor[] {
  if (cond.dtype !== 'bool') throw new OnnxGraphError(`ifElse: condition "${cond.name}" must be bool, got ${cond.dtype}`);
  const b = cond.builder;
  const thenBranch = b.subgraph(`${nameHint}/then`, then);
  const elseBranch = b.subgraph(`${nameHint}/else`, otherwise);
  if (thenBranch.outputs.length !== elseBranch.outputs.length) {
    throw new OnnxGraphError(`ifElse: the branches return ${thenBranch.outputs.length} and ${elseBranch.outputs.length} tensors`);
  }
  const outputs = thenBranch.outputs.map((t, i) => {
    const e = elseBranch.outputs[i]!;
    if (t.dtype !== e.dtype) throw new OnnxGraphError(`ifElse: output ${i} is ${t.dtype} in one branch and ${e.dtype} in the other`);
    return { dtype: t.dtype, shape: mergeShapes(t.shape, e.shape) };
  });
  return b.op('If', [cond], { then_branch: attr.graph(thenBranch), else_branch: attr.graph(elseBranch) }, outputs, { nameHint });
}

function mergeShapes(a: Shape | null, b: Shape | null): Shape | null {
  if (a === null || b === null || a.length !== b.length) return null;
  return a.map((d, i): Dim => (d === b[i] ? d : null));
}
