import { OnnxGraphError } from '../errors.js';
import type { GraphBuilder } from '../ir/builder.js';
import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { add } from '../ops/math.js';
import { GRADIENT_GATES_METADATA_KEY, readGates } from './gate.js';
import { scalarLike, zerosLike } from './helpers.js';
import { GRADIENT_RULES, type RuleContext } from './rules.js';

/** Options of {@link gradients}. */
export interface GradientOptions {
  /** Gradient of the final result with respect to `loss` (default: ones, i.e. d loss / d loss = 1). */
  readonly seed?: Tensor;
  /** Name scope of the backward nodes (default `grad`). */
  readonly scope?: string;
}

/**
 * Reverse-mode autodiff inside a builder: adds the nodes that compute `d loss / d w` for each
 * tensor in `wrt` and returns them in the same order. A `wrt` tensor the loss does not depend
 * on gets zeros. Only nodes on a path from some `wrt` to `loss` are differentiated; an op on
 * that path without a rule throws {@link OnnxGraphError} naming it.
 *
 * Build the forward graph (or start from one with `GraphBuilder.from(graph)`), then call this
 * and mark the gradients as outputs.
 */
export function gradients(b: GraphBuilder, loss: Tensor, wrt: readonly Tensor[], options: GradientOptions = {}): Tensor[] {
  if (loss.builder !== b || wrt.some((w) => w.builder !== b)) throw new OnnxGraphError('gradients: loss and wrt must belong to the builder');
  const nodes: readonly Node[] = [...b.graphNodes];
  const gates = readGates(b.metaValue(GRADIENT_GATES_METADATA_KEY));

  // Values that depend on some wrt tensor. Integer and bool values carry no gradient (a Shape,
  // a Size, a comparison), so dependence stops there: a mean that divides by Cast(Size(x))
  // needs no rule for Size.
  const depends = new Set(wrt.map((w) => w.name));
  const differentiable = (name: string): boolean => {
    try {
      const dtype = b.tensor(name).dtype;
      return dtype === 'float32' || dtype === 'float64';
    } catch {
      return true; // unknown type: assume it may carry a gradient
    }
  };
  for (const n of nodes) if (n.inputs.some((i) => depends.has(i))) for (const o of n.outputs) if (o !== '' && differentiable(o)) depends.add(o);
  // Values the loss depends on.
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o !== '') producer.set(o, n);
  const needed = new Set<string>();
  const stack = [loss.name];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (needed.has(name)) continue;
    needed.add(name);
    const p = producer.get(name);
    if (p) for (const i of p.inputs) if (i !== '') stack.push(i);
  }

  return b.scope(options.scope ?? 'grad', () => {
    const grads = new Map<string, Tensor[]>();
    grads.set(loss.name, [options.seed ?? (loss.shape !== null && loss.shape.length === 0 ? scalarLike(loss, 1) : onesLike(loss))]);
    const total = (name: string): Tensor | null => {
      const list = grads.get(name);
      if (!list || list.length === 0) return null;
      let acc = list[0] as Tensor;
      for (let i = 1; i < list.length; i++) acc = add(acc, list[i] as Tensor);
      grads.set(name, [acc]);
      return acc;
    };
    const tensorOrNull = (name: string): Tensor | null => (name === '' ? null : b.tensor(name));

    for (let k = nodes.length - 1; k >= 0; k--) {
      const node = nodes[k] as Node;
      if (!node.outputs.some((o) => depends.has(o) && needed.has(o) && grads.has(o))) continue;
      const outGrads = node.outputs.map((o) => (o === '' ? null : total(o)));
      if (outGrads.every((g) => g === null)) continue;
      const rule = GRADIENT_RULES[node.opType];
      if (!rule) throw new OnnxGraphError(`gradients: no gradient rule for ${node.opType} (node "${node.name}"); it lies between a parameter and the loss`);
      const ctx: RuleContext = {
        node,
        inputs: node.inputs.map(tensorOrNull),
        outputs: node.outputs.map(tensorOrNull),
        grads: outGrads,
        constInts: (index) => {
          const name = node.inputs[index];
          const t = name ? b.initializerValue(name) : undefined;
          return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
        },
        gate: (output) => (gates[output] !== undefined ? b.tensor(gates[output] as string) : undefined),
      };
      const inGrads = rule(ctx);
      node.inputs.forEach((name, i) => {
        const g = inGrads[i];
        if (!g || name === '' || !depends.has(name)) return;
        const list = grads.get(name) ?? [];
        list.push(g);
        grads.set(name, list);
      });
    }
    return wrt.map((w) => total(w.name) ?? zerosLike(w));
  });
}

function onesLike(x: Tensor): Tensor {
  return add(zerosLike(x), 1);
}
