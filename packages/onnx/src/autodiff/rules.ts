import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { attr } from '../ir/attr.js';
import type { AttributeValue, Dim, Node, Shape } from '../ir/graph.js';
import { knownNumel, normAxis } from '../ir/shape.js';
import { tensor } from '../ir/tensor-data.js';
import type { Tensor } from '../ir/tensor.js';
import { add, div, exp, log, matmul, mul, neg, sqrt, sub, softmax, tanh } from '../ops/math.js';
import { reduceMean, reduceSum } from '../ops/reduce.js';
import { flatten, gatherElements, scatterElements, unsqueeze } from '../ops/layout.js';
import { ifElse } from '../ops/control.js';
import { int64Const } from '../ops/util.js';
import {
  castLike, compare, dimOf, expandLike, op, permute, reshapeLike, scalarLike, select, shapeOf, sizeOf, sumLeadingAxes, transposeLast2, unbroadcast, zerosLike,
} from './helpers.js';

/** What a gradient rule sees of one forward node. */
export interface RuleContext {
  readonly node: Node;
  /** Forward inputs (`null` for omitted optional inputs). */
  readonly inputs: readonly (Tensor | null)[];
  /** Forward outputs (`null` for omitted optional outputs). */
  readonly outputs: readonly (Tensor | null)[];
  /** Gradient of the loss with respect to each output (`null`: none flows back). */
  readonly grads: readonly (Tensor | null)[];
  /** Values of int64 constant inputs (axes, shapes), when the input is an initializer. */
  constInts(index: number): number[] | undefined;
  /** Gradient-gate table of the graph (gate output → gate tensor). */
  gate(output: string): Tensor | undefined;
}

/** A vector-Jacobian product: input gradients from output gradients (`null`: no gradient). */
export type GradientRule = (c: RuleContext) => (Tensor | null)[];

function a(node: Node, name: string): AttributeValue | undefined {
  return node.attributes[name];
}
function intAttr(node: Node, name: string, dflt: number): number {
  const v = a(node, name);
  return v && v.type === 'int' ? v.value : dflt;
}
function floatAttr(node: Node, name: string, dflt: number): number {
  const v = a(node, name);
  return v && v.type === 'float' ? v.value : dflt;
}
function intsAttr(node: Node, name: string): number[] | undefined {
  const v = a(node, name);
  return v && v.type === 'ints' ? [...v.value] : undefined;
}
function strAttr(node: Node, name: string, dflt: string): string {
  const v = a(node, name);
  return v && v.type === 'string' ? v.value : dflt;
}
const req = (t: Tensor | null | undefined, what: string): Tensor => {
  if (!t) throw new OnnxGraphError(`gradient: missing ${what}`);
  return t;
};
const isFloat = (t: Tensor | null): t is Tensor => t !== null && (t.dtype === 'float32' || t.dtype === 'float64');
const rankOf = (t: Tensor): number => {
  if (t.shape === null) throw new OnnxShapeError(`gradient: rank of "${t.name}" must be known`);
  return t.shape.length;
};

/** Reduced axes of a Reduce* node (all axes when none are given). */
function reduceAxes(c: RuleContext, x: Tensor): number[] {
  const r = rankOf(x);
  const axes = c.node.inputs[1] ? c.constInts(1) : intsAttr(c.node, 'axes');
  if (c.node.inputs[1] && axes === undefined) throw new OnnxGraphError(`gradient of ${c.node.opType}: axes must be a constant`);
  return (axes ?? [...Array(r).keys()]).map((ax) => normAxis(ax, r, c.node.opType));
}

/** The incoming gradient reshaped so it broadcasts against the reduction input. */
function keepDimsGrad(c: RuleContext, g: Tensor, axes: number[]): Tensor {
  return intAttr(c.node, 'keepdims', 1) === 1 ? g : unsqueeze(g, axes);
}

/** Number of reduced elements as a float scalar of `x`'s dtype. */
function reducedCount(x: Tensor, out: Tensor, axes: number[]): Tensor {
  const known = x.shape === null ? null : knownNumel(axes.map((ax) => x.shape![ax] as Dim));
  if (known !== null) return scalarLike(x, known);
  return div(castLike(sizeOf(x), x), castLike(sizeOf(out), x));
}

const unary = (f: (c: RuleContext, g: Tensor, x: Tensor, y: Tensor) => Tensor): GradientRule => (c) => {
  const g = c.grads[0];
  if (!g) return [null];
  return [f(c, g, req(c.inputs[0], 'input'), req(c.outputs[0], 'output'))];
};

function conv2dGeometry(c: RuleContext, x: Tensor, w: Tensor) {
  const xs = x.shape;
  const ws = w.shape;
  if (xs === null || ws === null || xs.length !== 4 || ws.length !== 4) throw new OnnxShapeError('gradient of Conv: only 2-D convolutions (NCHW input, OIHW weights) are supported');
  const kernel = [ws[2], ws[3]];
  const spatial = [xs[2], xs[3]];
  if ([...kernel, ...spatial].some((d) => typeof d !== 'number')) throw new OnnxShapeError('gradient of Conv: spatial and kernel dims must be known');
  if (strAttr(c.node, 'auto_pad', 'NOTSET') !== 'NOTSET') throw new OnnxGraphError('gradient of Conv: auto_pad is not supported; give explicit pads');
  return {
    strides: intsAttr(c.node, 'strides') ?? [1, 1],
    pads: intsAttr(c.node, 'pads') ?? [0, 0, 0, 0],
    dilations: intsAttr(c.node, 'dilations') ?? [1, 1],
    kernel: kernel as number[],
    spatial: spatial as number[],
  };
}

/**
 * Gradient of ReduceMax / ReduceMin: `g · mask / count`, where `mask` marks the elements equal
 * to the result and `count` is how many there are per reduced slice. A NaN in the slice makes
 * the gradient NaN (the mask is empty), so it stays visible.
 */
function extremumGrad(c: RuleContext): (Tensor | null)[] {
  const x = c.inputs[0]!;
  const axes = reduceAxes(c, x);
  const y = keepDimsGrad(c, c.outputs[0]!, axes);
  const g = keepDimsGrad(c, c.grads[0]!, axes);
  const mask = castLike(compare('Equal', x, y), x);
  const count = reduceSum(mask, axes, { keepDims: true });
  return [mul(mask, div(g, count))];
}

/** Gradient rules by ONNX op type. */
export const GRADIENT_RULES: Readonly<Record<string, GradientRule>> = {
  Add: (c) => {
    const g = c.grads[0]!;
    return [unbroadcast(g, c.inputs[0]!), unbroadcast(g, c.inputs[1]!)];
  },
  Sub: (c) => {
    const g = c.grads[0]!;
    return [unbroadcast(g, c.inputs[0]!), unbroadcast(neg(g), c.inputs[1]!)];
  },
  Mul: (c) => {
    const g = c.grads[0]!;
    const [x, y] = c.inputs as [Tensor, Tensor];
    return [isFloat(x) ? unbroadcast(mul(g, y), x) : null, isFloat(y) ? unbroadcast(mul(g, x), y) : null];
  },
  Div: (c) => {
    const g = c.grads[0]!;
    const [x, y] = c.inputs as [Tensor, Tensor];
    const out = c.outputs[0]!;
    return [unbroadcast(div(g, y), x), unbroadcast(neg(div(mul(g, out), y)), y)];
  },
  Pow: (c) => {
    const g = c.grads[0]!;
    const [x, y] = c.inputs as [Tensor, Tensor];
    const out = c.outputs[0]!;
    const gx = mul(mul(g, y), op(x, 'Pow', [x, sub(y, 1)], x.dtype, x.shape));
    const gy = mul(mul(g, out), log(x));
    return [unbroadcast(gx, x), unbroadcast(gy, y)];
  },
  Neg: unary((_c, g) => neg(g)),
  Abs: unary((_c, g, x) => mul(g, op(x, 'Sign', [x], x.dtype, x.shape))),
  Identity: (c) => {
    const g = c.grads[0];
    if (!g) return [null];
    const gate = c.gate(c.node.outputs[0] as string);
    return [gate ? mul(g, gate) : g];
  },
  // The mask reads the output (y > 0 exactly where x > 0, and false for NaN either way), so the
  // pre-activation has no other reader and ONNX Runtime can fuse Gemm + Relu into one kernel.
  // g · float(mask) rather than Where(mask, g, 0): ORT's CPU Where runs on one thread and cost
  // more than Cast + Mul together (decision 0049). Equal for finite g; a non-finite g at an
  // inactive unit gives NaN instead of 0, so a broken upstream gradient stays visible.
  Relu: unary((_c, g, _x, y) => mul(g, castLike(compare('Greater', y, scalarLike(y, 0)), g))),
  LeakyRelu: unary((c, g, x) => select(compare('Greater', x, scalarLike(x, 0)), g, mul(g, floatAttr(c.node, 'alpha', 0.01)))),
  Tanh: unary((_c, g, _x, y) => mul(g, sub(scalarLike(y, 1), mul(y, y)))),
  Sigmoid: unary((_c, g, _x, y) => mul(g, mul(y, sub(scalarLike(y, 1), y)))),
  Exp: unary((_c, g, _x, y) => mul(g, y)),
  Log: unary((_c, g, x) => div(g, x)),
  Sqrt: unary((_c, g, _x, y) => div(g, mul(y, 2))),
  Gelu: unary((c, g, x) => {
    if (strAttr(c.node, 'approximate', 'none') === 'tanh') {
      const k = Math.sqrt(2 / Math.PI);
      const x2 = mul(x, x);
      const t = tanh(mul(add(x, mul(mul(x2, x), 0.044715)), k));
      const dt = mul(sub(scalarLike(t, 1), mul(t, t)), mul(add(mul(x2, 3 * 0.044715), 1), k));
      return mul(g, add(mul(add(t, 1), 0.5), mul(mul(x, dt), 0.5)));
    }
    const cdf = mul(add(op(x, 'Erf', [mul(x, Math.SQRT1_2)], x.dtype, x.shape), 1), 0.5);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return mul(g, add(cdf, mul(x, pdf)));
  }),
  Softmax: unary((c, g, _x, y) => {
    const axis = intAttr(c.node, 'axis', -1);
    return mul(y, sub(g, reduceSum(mul(g, y), [axis])));
  }),
  LogSoftmax: unary((c, g, _x, y) => {
    const axis = intAttr(c.node, 'axis', -1);
    return sub(g, mul(exp(y), reduceSum(g, [axis])));
  }),
  MatMul: (c) => {
    const g = c.grads[0]!;
    const [x, w] = c.inputs as [Tensor, Tensor];
    const rx = rankOf(x);
    const rw = rankOf(w);
    if (rx < 2 || rw < 2) throw new OnnxGraphError('gradient of MatMul: 1-D operands are not supported; reshape to 2-D');
    if (rw === 2) {
      const gx = matmul(g, transposeLast2(w));
      const gw = rx === 2 ? matmul(transposeLast2(x), g) : matmul(transposeLast2(flatten(x, rx - 1)), flatten(g, rx - 1));
      return [gx, gw];
    }
    return [unbroadcast(matmul(g, transposeLast2(w)), x), unbroadcast(matmul(transposeLast2(x), g), w)];
  },
  Gemm: (c) => {
    const g = c.grads[0]!;
    const [x, w, bias] = c.inputs as [Tensor, Tensor, Tensor | null];
    const alpha = floatAttr(c.node, 'alpha', 1);
    const beta = floatAttr(c.node, 'beta', 1);
    const ta = intAttr(c.node, 'transA', 0) === 1;
    const tb = intAttr(c.node, 'transB', 0) === 1;
    const scale = (t: Tensor, s: number) => (s === 1 ? t : mul(t, s));
    const gxp = matmul(g, tb ? w : transposeLast2(w));
    const gwp = matmul(ta ? x : transposeLast2(x), g);
    return [
      scale(ta ? transposeLast2(gxp) : gxp, alpha),
      scale(tb ? transposeLast2(gwp) : gwp, alpha),
      bias ? unbroadcast(scale(g, beta), bias) : null,
    ];
  },
  ReduceSum: (c) => {
    const x = c.inputs[0]!;
    const axes = reduceAxes(c, x);
    return [expandLike(keepDimsGrad(c, c.grads[0]!, axes), x)];
  },
  ReduceMean: (c) => {
    const x = c.inputs[0]!;
    const axes = reduceAxes(c, x);
    return [div(expandLike(keepDimsGrad(c, c.grads[0]!, axes), x), reducedCount(x, c.outputs[0]!, axes))];
  },
  // Ties share the gradient evenly (as JAX's max and torch.amax do): with k maximal elements
  // each receives g/k, so a structural tie (max over concat([x, x])) gives the true derivative.
  ReduceMax: (c) => extremumGrad(c),
  ReduceMin: (c) => extremumGrad(c),
  Reshape: (c) => [reshapeLike(c.grads[0]!, c.inputs[0]!)],
  Flatten: (c) => [reshapeLike(c.grads[0]!, c.inputs[0]!)],
  Squeeze: (c) => [reshapeLike(c.grads[0]!, c.inputs[0]!)],
  Unsqueeze: (c) => [reshapeLike(c.grads[0]!, c.inputs[0]!)],
  Expand: (c) => [unbroadcast(c.grads[0]!, c.inputs[0]!)],
  Transpose: (c) => {
    const x = c.inputs[0]!;
    const r = rankOf(x);
    const perm = intsAttr(c.node, 'perm') ?? [...Array(r).keys()].reverse();
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    return [permute(c.grads[0]!, inv)];
  },
  Concat: (c) => {
    const g = c.grads[0]!;
    const xs = c.inputs as Tensor[];
    const axis = normAxis(intAttr(c.node, 'axis', 0), rankOf(xs[0]!), 'Concat');
    const sizes = op(g, 'Concat', xs.map((x) => dimOf(x, axis)), 'int64', [xs.length], { axis: attr.int(0) });
    const outs = g.builder.op('Split', [g, sizes], { axis: attr.int(axis) }, xs.map((x) => ({ dtype: g.dtype, shape: x.shape })), { nameHint: 'Split' });
    return outs;
  },
  Slice: (c) => {
    // Scatter the gradient back through the flat indices the slice selected.
    const g = c.grads[0]!;
    const x = c.inputs[0]!;
    const b = x.builder;
    const n = sizeOf(x);
    const range = op(x, 'Range', [b.constant(tensor('int64', [], BigInt64Array.of(0n)), 'zero'), n, b.constant(tensor('int64', [], BigInt64Array.of(1n)), 'one')], 'int64', [null]);
    const idx = b.op1('Slice', [reshapeLike(range, x), ...(c.inputs.slice(1) as (Tensor | null)[])], {}, { dtype: 'int64', shape: g.shape }, 'Slice');
    const flatShape = int64Const(x, [-1], 'flat');
    const flatIdx = op(x, 'Reshape', [idx, flatShape], 'int64', [null]);
    const flatG = op(x, 'Reshape', [g, flatShape], g.dtype, [null]);
    const zeros = op(x, 'ConstantOfShape', [op(x, 'Reshape', [n, int64Const(x, [1], 'one')], 'int64', [1])], x.dtype, [null], {
      value: attr.tensor(x.dtype === 'float64' ? tensor('float64', [1], Float64Array.of(0)) : tensor('float32', [1], Float32Array.of(0))),
    });
    return [reshapeLike(scatterElements(zeros, flatIdx, flatG, 0, 'add'), x)];
  },
  Gather: (c) => {
    const g = c.grads[0]!;
    const [x, idx0] = c.inputs as [Tensor, Tensor];
    const r = rankOf(x);
    const axis = normAxis(intAttr(c.node, 'axis', 0), r, 'Gather');
    const idx = idx0.dtype === 'int64' ? idx0 : op(idx0, 'Cast', [idx0], 'int64', idx0.shape, { to: attr.int(7) });
    const q = rankOf(idx);
    const nd = unsqueeze(idx, [q]);
    if (axis === 0) {
      return [x.builder.op1('ScatterND', [zerosLike(x), nd, g], { reduction: attr.string('add') }, { dtype: x.dtype, shape: x.shape }, 'ScatterND'), null];
    }
    // Move the gathered axis to the front, scatter there, and move it back.
    const permX = [axis, ...[...Array(r).keys()].filter((i) => i !== axis)];
    const xT = permute(x, permX);
    const permG = [...Array(q).keys()].map((i) => axis + i);
    for (let i = 0; i < axis; i++) permG.push(i);
    for (let i = axis + q; i < r - 1 + q; i++) permG.push(i);
    const gT = permute(g, permG);
    const s = x.builder.op1('ScatterND', [zerosLike(xT), nd, gT], { reduction: attr.string('add') }, { dtype: x.dtype, shape: xT.shape }, 'ScatterND');
    const inv = new Array<number>(r);
    permX.forEach((p, i) => (inv[p] = i));
    return [permute(s, inv), null];
  },
  GatherElements: (c) => {
    const [x, idx] = c.inputs as [Tensor, Tensor];
    return [scatterElements(zerosLike(x), idx, c.grads[0]!, intAttr(c.node, 'axis', 0), 'add'), null];
  },
  ScatterElements: (c) => {
    const g = c.grads[0]!;
    const [data, idx, upd] = c.inputs as [Tensor, Tensor, Tensor];
    const axis = intAttr(c.node, 'axis', 0);
    const reduction = strAttr(c.node, 'reduction', 'none');
    switch (reduction) {
      case 'add':
        return [g, null, gatherElements(g, idx, axis)];
      case 'none':
        return [scatterElements(g, idx, zerosLike(upd), axis), null, gatherElements(g, idx, axis)];
      case 'max':
      case 'min': {
        // Ties share evenly: each output position splits its gradient among the data element
        // and the updates equal to it (a duplicated edge gets half, not the full gradient twice).
        const out = c.outputs[0]!;
        const maskData = castLike(compare('Equal', data, out), g);
        const maskUpd = castLike(compare('Equal', upd, gatherElements(out, idx, axis)), g);
        const share = div(g, scatterElements(maskData, idx, maskUpd, axis, 'add'));
        return [mul(maskData, share), null, mul(maskUpd, gatherElements(share, idx, axis))];
      }
      default:
        throw new OnnxGraphError(`gradient of ScatterElements with reduction "${reduction}" is not implemented`);
    }
  },
  Where: (c) => {
    const g = c.grads[0]!;
    const [cond, x, y] = c.inputs as [Tensor, Tensor, Tensor];
    const zero = scalarLike(g, 0);
    return [null, unbroadcast(select(cond, g, zero), x), unbroadcast(select(cond, zero, g), y)];
  },
  Cast: (c) => {
    const x = c.inputs[0]!;
    const g = c.grads[0]!;
    return [isFloat(x) && isFloat(g) ? (g.dtype === x.dtype ? g : castLike(g, x)) : null];
  },
  LayerNormalization: (c) => {
    const g = c.grads[0]!;
    const [x, scale, bias] = c.inputs as [Tensor, Tensor, Tensor | null];
    const r = rankOf(x);
    const axis = normAxis(intAttr(c.node, 'axis', -1), r, 'LayerNormalization');
    const eps = floatAttr(c.node, 'epsilon', 1e-5);
    const norm = [...Array(r - axis).keys()].map((i) => axis + i);
    const lead = [...Array(axis).keys()];
    const mean = reduceMean(x, norm);
    const xc = sub(x, mean);
    const invStd = div(scalarLike(x, 1), sqrt(add(reduceMean(mul(xc, xc), norm), eps)));
    const xhat = mul(xc, invStd);
    const gs = mul(g, scale);
    const gx = mul(invStd, sub(sub(gs, reduceMean(gs, norm)), mul(xhat, reduceMean(mul(gs, xhat), norm))));
    const sumLead = (t: Tensor) => (lead.length === 0 ? t : reduceSum(t, lead, { keepDims: false }));
    return [gx, sumLead(mul(g, xhat)), bias ? sumLead(g) : null];
  },
  Dropout: (c) => {
    const g = c.grads[0];
    if (!g) return [null, null, null];
    const [, ratio, training] = c.inputs as [Tensor, Tensor | null, Tensor | null];
    const mask = c.outputs[1];
    if (!training) return [g, null, null];
    if (!mask) throw new OnnxGraphError('gradient of Dropout in training mode needs its mask output');
    const r = ratio ?? scalarLike(g, 0.5);
    const scale = select(training, div(scalarLike(g, 1), sub(scalarLike(g, 1), r)), scalarLike(g, 1));
    return [select(mask, mul(g, scale), scalarLike(g, 0)), null, null];
  },
  SoftmaxCrossEntropyLoss: (c) => {
    const g = c.grads[0]!;
    const [logits, labels] = c.inputs as [Tensor, Tensor];
    if (rankOf(logits) !== 2) throw new OnnxGraphError('gradient of SoftmaxCrossEntropyLoss: logits must be [N, C]');
    if (c.node.inputs[2] || a(c.node, 'ignore_index')) throw new OnnxGraphError('gradient of SoftmaxCrossEntropyLoss: weights and ignore_index are not supported');
    const reduction = strAttr(c.node, 'reduction', 'mean');
    const b = logits.builder;
    // One-hot through Equal(labels[:, None], range(C)): ORT's OneHot has no float64 kernel.
    const classes = op(logits, 'Range', [b.constant(tensor('int64', [], BigInt64Array.of(0n)), 'zero'), op(logits, 'Squeeze', [dimOf(logits, 1)], 'int64', []), b.constant(tensor('int64', [], BigInt64Array.of(1n)), 'one')], 'int64', [logits.shape![1] as Dim]);
    const onehot = castLike(compare('Equal', unsqueeze(labels, [1]), classes), logits);
    const diff = sub(softmax(logits, 1), onehot);
    if (reduction === 'sum') return [mul(diff, g), null, null];
    if (reduction !== 'mean') throw new OnnxGraphError(`gradient of SoftmaxCrossEntropyLoss with reduction "${reduction}" is not implemented`);
    const n = castLike(dimOf(logits, 0), logits);
    return [mul(diff, div(g, n)), null, null];
  },
  Conv: (c) => {
    const g = c.grads[0]!;
    const [x, w, bias] = c.inputs as [Tensor, Tensor, Tensor | null];
    if (intAttr(c.node, 'group', 1) !== 1) throw new OnnxGraphError('gradient of Conv: grouped convolutions are not supported yet');
    const { strides, pads, dilations, kernel, spatial } = conv2dGeometry(c, x, w);
    const outPad = spatial.map((inDim, i) => {
      const outDim = (g.shape as Shape)[2 + i];
      if (typeof outDim !== 'number') throw new OnnxShapeError('gradient of Conv: output spatial dims must be known');
      return inDim - ((outDim - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + 2]!);
    });
    const gx = op(g, 'ConvTranspose', [g, w], x.dtype, x.shape, {
      strides: attr.ints(strides), pads: attr.ints(pads), dilations: attr.ints(dilations), output_padding: attr.ints(outPad),
    });
    // dW = Conv over the batch: input Xᵀ [C, N, H, W], kernel gYᵀ [O, N, OH, OW], strides and dilations swapped.
    const weightGrad = (): Tensor => {
      const xT = permute(x, [1, 0, 2, 3]);
      const gT = permute(g, [1, 0, 2, 3]);
      const full = op(g, 'Conv', [xT, gT], x.dtype, null, { strides: attr.ints(dilations), dilations: attr.ints(strides), pads: attr.ints(pads) });
      const ws = w.shape as Shape;
      const cropped = x.builder.op1('Slice', [full, int64Const(x, [0, 0], 'starts'), int64Const(x, kernel, 'ends'), int64Const(x, [2, 3], 'axes')], {}, { dtype: x.dtype, shape: [ws[1] as Dim, ws[0] as Dim, ...kernel] }, 'Slice');
      return permute(cropped, [1, 0, 2, 3]);
    };
    // With an empty batch that Conv has 0 input channels, on which ONNX Runtime's CPU kernel
    // spins forever when there is padding. Where the batch may be 0, an If skips it (the
    // gradient of an empty batch is zeros); a non-empty batch pays only the If.
    const batch = (x.shape as Shape)[0];
    const mayBeEmpty = typeof batch !== 'number' || batch === 0;
    const gw = mayBeEmpty && pads.some((p) => p !== 0)
      ? (ifElse(compare('Greater', op(x, 'Squeeze', [dimOf(x, 0)], 'int64', []), x.builder.constant(tensor('int64', [], BigInt64Array.of(0n)), 'zero')), () => [weightGrad()], () => [zerosLike(w)], 'ConvWeightGrad')[0] as Tensor)
      : weightGrad();
    // Spatial sum first, then the batch sum as a MatMul (sumLeadingAxes): 30–40 % faster than
    // one ReduceSum over [0, 2, 3] on ONNX Runtime's CPU.
    return [gx, gw, bias ? sumLeadingAxes(reduceSum(g, [2, 3], { keepDims: false }), 1) : null];
  },
  MaxPool: (c) => {
    // Without argmax indices (the WebGPU provider claims MaxPool but cannot produce them):
    // unfold each window with a one-hot Conv, mark the elements equal to the window's max,
    // and fold the gradient back with Col2Im. Ties share a window's gradient evenly among its
    // maximal elements (padding never counts), so max-pooling a nearest-upsampled map passes
    // each source element exactly its window's gradient.
    const g = c.grads[0]!;
    const x = c.inputs[0]!;
    const y = c.outputs[0]!;
    if (intAttr(c.node, 'ceil_mode', 0) === 1) throw new OnnxGraphError('gradient of MaxPool: ceil_mode is not supported');
    if (strAttr(c.node, 'auto_pad', 'NOTSET') !== 'NOTSET') throw new OnnxGraphError('gradient of MaxPool: auto_pad is not supported; give explicit pads');
    const kernel = intsAttr(c.node, 'kernel_shape') as number[];
    const strides = intsAttr(c.node, 'strides') ?? [1, 1];
    const pads = intsAttr(c.node, 'pads') ?? [0, 0, 0, 0];
    const dilations = intsAttr(c.node, 'dilations') ?? [1, 1];
    const xs = x.shape;
    const gs = g.shape;
    if (xs === null || gs === null || xs.length !== 4 || kernel.length !== 2 || [xs[2], xs[3], gs[2], gs[3]].some((d) => typeof d !== 'number')) {
      throw new OnnxShapeError('gradient of MaxPool: only 2-D pools with known spatial dims are supported');
    }
    const [H, W, OH, OW] = [xs[2], xs[3], gs[2], gs[3]] as number[] as [number, number, number, number];
    const K = kernel[0]! * kernel[1]!;
    const b = x.builder;
    const eye = new Float32Array(K * K);
    for (let i = 0; i < K; i++) eye[i * K + i] = 1;
    const onehot = b.constant(x.dtype === 'float64' ? tensor('float64', [K, 1, kernel[0]!, kernel[1]!], Float64Array.from(eye)) : tensor('float32', [K, 1, kernel[0]!, kernel[1]!], eye), 'unfold');
    const spatial = { strides: attr.ints(strides), pads: attr.ints(pads), dilations: attr.ints(dilations) };
    const xr = op(x, 'Reshape', [x, int64Const(x, [-1, 1, H, W], 'shape')], x.dtype, [null, 1, H, W]);
    const cols = op(x, 'Conv', [xr, onehot], x.dtype, [null, K, OH, OW], spatial);
    const yr = op(y, 'Reshape', [y, int64Const(x, [-1, 1, OH, OW], 'shape')], y.dtype, [null, 1, OH, OW]);
    const gr = op(g, 'Reshape', [g, int64Const(x, [-1, 1, OH, OW], 'shape')], g.dtype, [null, 1, OH, OW]);
    let mask = castLike(compare('Equal', cols, yr), g);
    if (pads.some((p) => p !== 0)) {
      // Positions of each window that fall on padding: the unfolding pads with zeros, which
      // must not tie with a window's maximum of 0. ONNX Runtime folds this constant.
      const ones = b.constant(x.dtype === 'float64' ? tensor('float64', [1, 1, H, W], new Float64Array(H * W).fill(1)) : tensor('float32', [1, 1, H, W], new Float32Array(H * W).fill(1)), 'ones');
      mask = mul(mask, op(x, 'Conv', [ones, onehot], x.dtype, [1, K, OH, OW], spatial));
    }
    const count = reduceSum(mask, [1], { keepDims: true });
    const gcols = mul(mask, div(gr, count));
    const flatCols = op(g, 'Reshape', [gcols, int64Const(x, [0, K, OH * OW], 'shape')], g.dtype, [null, K, OH * OW]);
    const folded = op(g, 'Col2Im', [flatCols, int64Const(x, [H, W], 'image_shape'), int64Const(x, kernel, 'block_shape')], g.dtype, [null, 1, H, W], spatial);
    return [reshapeLike(folded, x)];
  },
  AveragePool: (c) => {
    const g = c.grads[0]!;
    const x = c.inputs[0]!;
    if (intAttr(c.node, 'ceil_mode', 0) === 1) throw new OnnxGraphError('gradient of AveragePool: ceil_mode is not supported');
    const kernel = intsAttr(c.node, 'kernel_shape') as number[];
    const strides = intsAttr(c.node, 'strides') ?? [1, 1];
    const pads = intsAttr(c.node, 'pads') ?? [0, 0, 0, 0];
    if ((intsAttr(c.node, 'dilations') ?? [1, 1]).some((d) => d !== 1)) throw new OnnxGraphError('gradient of AveragePool: dilations are not supported');
    const xs = x.shape;
    const gs = g.shape;
    if (xs === null || gs === null || xs.length !== 4 || [xs[1], xs[2], xs[3], gs[2], gs[3]].some((d) => typeof d !== 'number')) {
      throw new OnnxShapeError('gradient of AveragePool: channel and spatial dims must be known');
    }
    const [C, H, W, OH, OW] = [xs[1], xs[2], xs[3], gs[2], gs[3]] as number[] as [number, number, number, number, number];
    const b = x.builder;
    const onesOf = (dims: number[]) => {
      const n = dims.reduce((p, q) => p * q, 1);
      return b.constant(x.dtype === 'float64' ? tensor('float64', dims, new Float64Array(n).fill(1)) : tensor('float32', dims, new Float32Array(n).fill(1)), 'ones');
    };
    // Number of input elements each window averaged over (padding excluded unless count_include_pad).
    const count = intAttr(c.node, 'count_include_pad', 0) === 1
      ? scalarLike(x, kernel[0]! * kernel[1]!)
      : op(x, 'Conv', [onesOf([1, 1, H, W]), onesOf([1, 1, kernel[0]!, kernel[1]!])], x.dtype, [1, 1, OH, OW], { strides: attr.ints(strides), pads: attr.ints(pads) });
    const outPad = [H, W].map((inDim, i) => inDim - ((([OH, OW][i] as number) - 1) * strides[i]! + kernel[i]! - pads[i]! - pads[i + 2]!));
    const gx = op(g, 'ConvTranspose', [div(g, count), onesOf([C, 1, kernel[0]!, kernel[1]!])], x.dtype, x.shape, {
      strides: attr.ints(strides), pads: attr.ints(pads), output_padding: attr.ints(outPad), group: attr.int(C),
    });
    return [gx];
  },
  GlobalAveragePool: (c) => {
    const x = c.inputs[0]!;
    const y = c.outputs[0]!;
    const axes = [...Array(rankOf(x) - 2).keys()].map((i) => i + 2);
    return [div(expandLike(c.grads[0]!, x), reducedCount(x, y, axes))];
  },
};

/** Op types with a gradient rule. */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(GRADIENT_RULES);

export { shapeOf };
export type { Shape };
