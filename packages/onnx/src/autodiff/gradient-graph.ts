import { OnnxGraphError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import type { Graph } from '../ir/graph.js';
import { formatShape } from '../ir/shape.js';
import { gradients } from './gradients.js';

/** Options of {@link gradientGraph}. */
export interface GradientGraphOptions {
  /** The forward output to differentiate: a scalar loss (or any float output: the gradient of the sum of its elements). */
  readonly of: string;
  /** Values to differentiate with respect to, by name: inputs, parameters or intermediate values. */
  readonly wrt: readonly string[];
  /** Keep the forward graph's outputs next to the gradients (default true). */
  readonly keepOutputs?: boolean;
  /** Output name of each gradient (default `grad/<name>`). */
  readonly outputName?: (wrt: string) => string;
}

/**
 * A graph that computes the gradients of one output of a built forward graph, in one call:
 * `gradientGraph(forward, { of: 'loss', wrt: ['w', 'x'] })` has outputs `grad/w` and `grad/x`
 * (plus the forward's own outputs unless `keepOutputs` is false). Nodes nobody needs are
 * pruned, so asking for dL/dx alone does not compute dL/dw. Gradient gates of the forward
 * graph apply.
 *
 * @throws OnnxGraphError when `of` is not an output of `forward`, a `wrt` name is unknown or
 *   not a float tensor, or `wrt` names a value twice.
 */
export function gradientGraph(forward: Graph, options: GradientGraphOptions): Graph {
  const target = forward.outputs.find((o) => o.name === options.of);
  if (!target) throw new OnnxGraphError(`gradientGraph: "${options.of}" is not an output of graph "${forward.name}" (outputs: ${forward.outputs.map((o) => o.name).join(', ')})`);
  if (target.dtype !== 'float32' && target.dtype !== 'float64') throw new OnnxGraphError(`gradientGraph: output "${options.of}" is ${target.dtype}; only float outputs have gradients`);
  if (options.wrt.length === 0) throw new OnnxGraphError('gradientGraph: wrt names no value to differentiate with respect to');
  if (new Set(options.wrt).size !== options.wrt.length) throw new OnnxGraphError(`gradientGraph: wrt names a value twice (${options.wrt.join(', ')})`);
  const keep = options.keepOutputs ?? true;
  // Without the forward's outputs, their names stay known as values (the builder reads their types from valueInfo).
  const b = GraphBuilder.from(keep ? forward : { ...forward, outputs: [], valueInfo: new Map([...forward.valueInfo, ...forward.outputs.map((o) => [o.name, o] as const)]) });
  const wrt = options.wrt.map((name) => {
    let t;
    try {
      t = b.tensor(name);
    } catch {
      throw new OnnxGraphError(`gradientGraph: graph "${forward.name}" has no value "${name}" to differentiate with respect to`);
    }
    if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new OnnxGraphError(`gradientGraph: "${name}" is ${t.dtype} ${formatShape(t.shape)}; gradients exist only for float values`);
    return t;
  });
  const grads = gradients(b, b.tensor(options.of), wrt);
  const outputName = options.outputName ?? ((name: string) => `grad/${name}`);
  grads.forEach((g, i) => b.output(g, outputName(options.wrt[i] as string)));
  return b.build();
}
