import { OnnxParameterError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { numel, tensor, type TensorData } from '../ir/tensor-data.js';

/** A float32 parameter tensor. */
export type ParameterTensor = TensorData<'float32'>;

/**
 * Named float32 parameter tensors, in insertion order (the order checkpoints and feeds use).
 * Values are typed arrays the set owns; {@link clone} before handing them to code that may
 * mutate them.
 */
export class ParameterSet implements Iterable<[string, ParameterTensor]> {
  private readonly map = new Map<string, ParameterTensor>();

  constructor(entries: Iterable<readonly [string, ParameterTensor]> = []) {
    for (const [name, t] of entries) this.add(name, t);
  }

  /** The start values of a graph's float32 parameters (both initializer and input kinds). */
  static fromGraph(graph: Graph): ParameterSet {
    const set = new ParameterSet();
    for (const name of graph.parameters.keys()) {
      const t = graph.initializers.get(name);
      if (!t) throw new OnnxParameterError(`graph "${graph.name}" declares parameter "${name}" without a start value`);
      if (t.dtype !== 'float32') throw new OnnxParameterError(`parameter "${name}" is ${t.dtype}; parameter sets hold float32 tensors`);
      set.add(name, t as ParameterTensor);
    }
    return set;
  }

  /** Adds a new parameter; throws when the name exists. */
  add(name: string, t: ParameterTensor): this {
    if (this.map.has(name)) throw new OnnxParameterError(`parameter "${name}" already exists in the set`);
    if (t.dtype !== 'float32') throw new OnnxParameterError(`parameter "${name}" must be float32, got ${t.dtype}`);
    this.map.set(name, tensor('float32', t.dims, t.data));
    return this;
  }

  /** Replaces a parameter's values; the dims must not change. */
  set(name: string, data: Float32Array): this {
    const cur = this.get(name);
    if (data.length !== cur.data.length) throw new OnnxParameterError(`parameter "${name}" has ${cur.data.length} elements [${cur.dims.join(', ')}], got ${data.length}`);
    this.map.set(name, tensor('float32', cur.dims, data));
    return this;
  }

  /** The parameter called `name`; throws {@link OnnxParameterError} when missing. */
  get(name: string): ParameterTensor {
    const t = this.map.get(name);
    if (!t) throw new OnnxParameterError(`no parameter "${name}" (have: ${[...this.map.keys()].join(', ') || 'none'})`);
    return t;
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** Parameter names in order. */
  get names(): string[] {
    return [...this.map.keys()];
  }

  /** Number of parameters (tensors). */
  get size(): number {
    return this.map.size;
  }

  /** Total number of scalar values. */
  get numel(): number {
    let n = 0;
    for (const t of this.map.values()) n += numel(t.dims);
    return n;
  }

  [Symbol.iterator](): Iterator<[string, ParameterTensor]> {
    return this.map.entries();
  }

  /** A deep copy (new typed arrays). */
  clone(): ParameterSet {
    return new ParameterSet([...this.map].map(([n, t]) => [n, tensor('float32', t.dims, t.data.slice())] as const));
  }

  /** The parameters as run feeds (shares the arrays). */
  toFeeds(): Record<string, ParameterTensor> {
    return Object.fromEntries(this.map);
  }

  /**
   * Checks that this set provides every parameter of `graph` with the graph's dims; throws
   * {@link OnnxParameterError} listing every mismatch.
   */
  assertMatches(graph: Graph): void {
    const problems: string[] = [];
    for (const name of graph.parameters.keys()) {
      const want = graph.initializers.get(name)?.dims ?? graph.inputs.find((i) => i.name === name)?.shape;
      const have = this.map.get(name);
      if (!have) problems.push(`missing "${name}"`);
      else if (want && (want.length !== have.dims.length || want.some((d, i) => typeof d === 'number' && d !== have.dims[i]))) {
        problems.push(`"${name}" is [${have.dims.join(', ')}], graph wants [${want.join(', ')}]`);
      }
    }
    if (problems.length > 0) throw new OnnxParameterError(`parameter set does not fit graph "${graph.name}": ${problems.join('; ')}`);
  }
}
