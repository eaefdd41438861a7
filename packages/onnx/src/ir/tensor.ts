import type { DType } from './dtype.js';
import type { GraphBuilder } from './builder.js';
import type { Shape } from './graph.js';
import * as m from '../ops/math.js';
import * as l from '../ops/layout.js';
import * as r from '../ops/reduce.js';
import type { Operand } from '../ops/util.js';

/**
 * A symbolic value inside a {@link GraphBuilder}: its name, element type and inferred shape.
 * The methods are fluent shortcuts for the operator functions in `ops/`
 * (`x.matmul(w).add(b).relu()`), each returning a new tensor of the same builder.
 */
export class Tensor {
  constructor(
    /** The builder this tensor belongs to. */
    readonly builder: GraphBuilder,
    /** Unique value name in the graph. */
    readonly name: string,
    readonly dtype: DType,
    /** Inferred shape (`null` entries unknown, `null` as a whole: unknown rank). */
    readonly shape: Shape | null,
  ) {}

  /** Rank, when known. */
  get rank(): number | null {
    return this.shape === null ? null : this.shape.length;
  }

  add(other: Operand): Tensor { return m.add(this, other); }
  sub(other: Operand): Tensor { return m.sub(this, other); }
  mul(other: Operand): Tensor { return m.mul(this, other); }
  div(other: Operand): Tensor { return m.div(this, other); }
  pow(other: Operand): Tensor { return m.pow(this, other); }
  matmul(other: Tensor): Tensor { return m.matmul(this, other); }
  neg(): Tensor { return m.neg(this); }
  relu(): Tensor { return m.relu(this); }
  leakyRelu(alpha?: number): Tensor { return m.leakyRelu(this, alpha); }
  gelu(approximate?: 'none' | 'tanh'): Tensor { return m.gelu(this, approximate); }
  tanh(): Tensor { return m.tanh(this); }
  sigmoid(): Tensor { return m.sigmoid(this); }
  exp(): Tensor { return m.exp(this); }
  log(): Tensor { return m.log(this); }
  sqrt(): Tensor { return m.sqrt(this); }
  softmax(axis?: number): Tensor { return m.softmax(this, axis); }
  logSoftmax(axis?: number): Tensor { return m.logSoftmax(this, axis); }
  sum(axes?: readonly number[], options?: r.ReduceOptions): Tensor { return r.reduceSum(this, axes, options); }
  mean(axes?: readonly number[], options?: r.ReduceOptions): Tensor { return r.reduceMean(this, axes, options); }
  max(axes?: readonly number[], options?: r.ReduceOptions): Tensor { return r.reduceMax(this, axes, options); }
  min(axes?: readonly number[], options?: r.ReduceOptions): Tensor { return r.reduceMin(this, axes, options); }
  reshape(shape: readonly number[]): Tensor { return l.reshape(this, shape); }
  flatten(axis?: number): Tensor { return l.flatten(this, axis); }
  transpose(perm?: readonly number[]): Tensor { return l.transpose(this, perm); }
  cast(dtype: DType): Tensor { return l.cast(this, dtype); }
}
