import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { GRADIENT_GATES_METADATA_KEY, readGates } from '../autodiff/gate.js';
import type { DType } from './dtype.js';
import { DEFAULT_OPSET, nodeReads, type AttributeValue, type Graph, type Node, type ParameterKind, type Shape, type ValueInfo } from './graph.js';
import { formatShape } from './shape.js';
import { tensor as makeTensor, type TensorData } from './tensor-data.js';
export { attr } from './attr.js';
import { Tensor } from './tensor.js';

/** Options of {@link GraphBuilder.param}. */
export interface ParamOptions {
  /** `'initializer'` (default) bakes the value into the model; `'input'` makes it a graph input the caller feeds. */
  readonly kind?: ParameterKind;
}

/** Output description for {@link GraphBuilder.op}: element type and inferred shape. */
export interface OpOutput {
  readonly dtype: DType;
  readonly shape: Shape | null;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;

/**
 * Builds a {@link Graph} one operator at a time.
 *
 * Every value gets a unique name (hints are suffixed `_1`, `_2` … on collision; names the caller
 * insists on — inputs, parameters, outputs — throw {@link OnnxGraphError} when taken). Shapes
 * are inferred as operators are added, and fixed dims that cannot fit throw
 * {@link OnnxShapeError} at the call that introduced them, not at session creation.
 *
 * ```ts
 * const g = new GraphBuilder('mlp');
 * const x = g.input('x', 'float32', ['batch', 4]);
 * const w = g.param('w', f32([4, 3], weights));
 * g.output(x.matmul(w).relu(), 'y');
 * const graph = g.build();
 * ```
 */
export class GraphBuilder {
  readonly name: string;
  readonly opset: number;
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly nodes: Node[] = [];
  private readonly initializers = new Map<string, TensorData>();
  private readonly parameters = new Map<string, ParameterKind>();
  private readonly valueInfo = new Map<string, ValueInfo>();
  private readonly metadata = new Map<string, string>();
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly scopes: string[] = [];
  private built = false;

  constructor(name = 'graph', options: { opset?: number } = {}) {
    this.name = name;
    this.opset = options.opset ?? DEFAULT_OPSET;
    if (this.opset < 18) throw new OnnxGraphError(`opset ${this.opset} is too old: @esper/onnx needs opset 18 or newer`);
  }

  /** Declares a graph input. Dims may be numbers, symbolic names (`'batch'`) or `null`. */
  input(name: string, dtype: DType, shape: Shape | null): Tensor {
    this.claim(name, 'input');
    const info: ValueInfo = { name, dtype, shape: shape === null ? null : [...shape] };
    this.inputs.push(info);
    return new Tensor(this, name, dtype, info.shape);
  }

  /**
   * Declares a trainable parameter with its starting value. As an initializer (default) the
   * value is baked into the model; as an input it becomes a graph input the caller feeds on
   * every run (training graphs do this so updated values need no recompile).
   */
  param(name: string, value: TensorData, options: ParamOptions = {}): Tensor {
    this.claim(name, 'parameter');
    const kind = options.kind ?? 'initializer';
    this.initializers.set(name, value);
    this.parameters.set(name, kind);
    if (kind === 'input') this.inputs.push({ name, dtype: value.dtype, shape: [...value.dims] });
    return new Tensor(this, name, value.dtype, value.dims);
  }

  /** Adds a constant tensor (an initializer that is not a parameter) under a fresh name. */
  constant(value: TensorData, nameHint = 'const'): Tensor {
    const name = this.fresh(nameHint);
    this.initializers.set(name, value);
    return new Tensor(this, name, value.dtype, value.dims);
  }

  /** A scalar or 1-D float constant of the given dtype (default float32). */
  scalar(value: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
    const data = dtype === 'float32' ? Float32Array.of(value) : Float64Array.of(value);
    return this.constant(makeTensor(dtype, [], data), 'scalar');
  }

  /** Marks `t` as a graph output, renaming it to `name` (through an Identity) when given. */
  output(t: Tensor, name?: string): Tensor {
    this.own(t);
    let out = t;
    if (name !== undefined && name !== t.name) {
      this.claim(name, 'output');
      this.nodes.push({ name: this.fresh(`Identity_${name}`), opType: 'Identity', domain: '', inputs: [t.name], outputs: [name], attributes: {} });
      out = new Tensor(this, name, t.dtype, t.shape);
    } else if (this.outputs.some((o) => o.name === t.name)) {
      throw new OnnxGraphError(`"${t.name}" is already a graph output`);
    }
    this.outputs.push({ name: out.name, dtype: out.dtype, shape: out.shape });
    return out;
  }

  /**
   * A builder that starts with everything in `graph` (inputs, outputs, nodes, initializers,
   * parameters, metadata), to extend it: autodiff derives training graphs this way.
   */
  static from(graph: Graph): GraphBuilder {
    const b = new GraphBuilder(graph.name, { opset: graph.opset });
    b.inputs.push(...graph.inputs);
    b.outputs.push(...graph.outputs);
    b.nodes.push(...graph.nodes);
    for (const [k, v] of graph.initializers) b.initializers.set(k, v);
    for (const [k, v] of graph.parameters) b.parameters.set(k, v);
    for (const [k, v] of graph.valueInfo) b.valueInfo.set(k, v);
    for (const [k, v] of graph.metadata) b.metadata.set(k, v);
    for (const o of graph.outputs) if (!b.valueInfo.has(o.name)) b.valueInfo.set(o.name, o);
    for (const i of graph.inputs) b.used.add(i.name);
    for (const k of graph.initializers.keys()) b.used.add(k);
    for (const n of graph.nodes) {
      b.used.add(n.name);
      for (const o of n.outputs) if (o !== '') b.used.add(o);
    }
    return b;
  }

  /** The tensor called `name` (an input, initializer or node output); throws when unknown. */
  tensor(name: string): Tensor {
    const info = this.inputs.find((i) => i.name === name) ?? this.valueInfo.get(name) ?? this.outputs.find((o) => o.name === name);
    if (info) return new Tensor(this, name, info.dtype, info.shape);
    const init = this.initializers.get(name);
    if (init) return new Tensor(this, name, init.dtype, init.dims);
    throw new OnnxGraphError(`graph "${this.name}" has no tensor "${name}"`);
  }

  /** The nodes added so far, in order (read-only view). */
  get graphNodes(): readonly Node[] {
    return this.nodes;
  }

  /** The value of an initializer (constant or parameter), if `name` is one. */
  initializerValue(name: string): TensorData | undefined {
    return this.initializers.get(name);
  }

  /** Current metadata value for `key`. */
  metaValue(key: string): string | undefined {
    return this.metadata.get(key);
  }

  /** Sets a metadata entry (serialized as `metadata_props`). */
  meta(key: string, value: string): this {
    this.metadata.set(key, value);
    return this;
  }

  /**
   * Runs `fn` with names prefixed by `scope/` (nested scopes join with `/`), so that blocks built
   * by the same helper twice keep readable, distinct names.
   */
  scope<T>(scope: string, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * Appends one operator node and returns its outputs. Operator helpers in `ops/` call this
   * after inferring output shapes; call it directly for operators they do not cover.
   * `null` inputs are omitted optional inputs.
   */
  op(opType: string, inputs: readonly (Tensor | null)[], attributes: Record<string, AttributeValue>, outputs: readonly OpOutput[], options: { domain?: string; nameHint?: string } = {}): Tensor[] {
    for (const t of inputs) if (t !== null) this.own(t);
    const hint = options.nameHint ?? opType;
    const nodeName = this.fresh(hint);
    const outs = outputs.map((o, i) => {
      const name = outputs.length === 1 ? this.fresh(`${hint}_out`, true) : this.fresh(`${hint}_out${i}`, true);
      const info: ValueInfo = { name, dtype: o.dtype, shape: o.shape === null ? null : [...o.shape] };
      this.valueInfo.set(name, info);
      return new Tensor(this, name, o.dtype, info.shape);
    });
    this.nodes.push({
      name: nodeName,
      opType,
      domain: options.domain ?? '',
      inputs: inputs.map((t) => (t === null ? '' : t.name)),
      outputs: outs.map((t) => t.name),
      attributes: { ...attributes },
    });
    return outs;
  }

  /** Like {@link op} for the common one-output case. */
  op1(opType: string, inputs: readonly (Tensor | null)[], attributes: Record<string, AttributeValue>, output: OpOutput, nameHint?: string): Tensor {
    return this.op(opType, inputs, attributes, [output], nameHint === undefined ? {} : { nameHint })[0] as Tensor;
  }

  /**
   * Freezes the graph. The builder cannot be used afterwards. Unless `prune` is `false`, nodes
   * whose outputs reach no graph output are dropped, and so are constants nothing reads:
   * autodiff emits gradients for every input of a rule, and a node nobody asked for would
   * still run (ONNX Runtime keeps it). Graph inputs and parameters are always kept, and so are
   * the gate tensors of the gradient-gate table (read through metadata, not by a node).
   */
  build(options: { prune?: boolean } = {}): Graph {
    if (this.built) throw new OnnxGraphError(`graph "${this.name}" was already built`);
    if (this.outputs.length === 0) throw new OnnxGraphError(`graph "${this.name}" has no outputs: call output() before build()`);
    this.built = true;
    for (const o of this.outputs) this.valueInfo.delete(o.name);
    let nodes = [...this.nodes];
    let initializers = new Map(this.initializers);
    let valueInfo = new Map(this.valueInfo);
    if (options.prune ?? true) {
      const live = new Set(this.outputs.map((o) => o.name));
      for (const gate of Object.values(readGates(this.metadata.get(GRADIENT_GATES_METADATA_KEY)))) live.add(gate);
      const keep = new Array<boolean>(nodes.length).fill(false);
      for (let i = nodes.length - 1; i >= 0; i--) {
        const n = nodes[i] as Node;
        if (n.outputs.some((o) => live.has(o))) {
          keep[i] = true;
          for (const inp of nodeReads(n)) live.add(inp);
        }
      }
      nodes = nodes.filter((_, i) => keep[i]);
      initializers = new Map([...initializers].filter(([k]) => live.has(k) || this.parameters.has(k)));
      valueInfo = new Map([...valueInfo].filter(([k]) => live.has(k)));
    }
    return {
      name: this.name,
      opset: this.opset,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      nodes,
      initializers,
      parameters: new Map(this.parameters),
      valueInfo,
      metadata: new Map(this.metadata),
    };
  }

  /**
   * Builds the nodes that `fn` adds into a subgraph (a branch of `If`, the body of `Loop` or
   * `Scan`) instead of into this graph, and returns it. Inside `fn`, use tensors of this builder
   * as usual: values of the enclosing graph that the nodes read become the subgraph's
   * outer-scope references (ONNX captures them by name); constants made inside `fn` stay in
   * the enclosing graph. `inputs` declares the subgraph's own inputs (a `Scan` body's state and
   * slices), which `fn` receives as tensors. The tensors `fn` returns are the subgraph's
   * outputs, in order; one that is not computed inside (an outer value, an input) or that
   * appears twice is copied by an `Identity`, as ONNX needs.
   */
  subgraph(name: string, fn: (...inputs: Tensor[]) => readonly Tensor[], inputs: readonly ValueInfo[] = []): Graph {
    if (this.built) throw new OnnxGraphError(`graph "${this.name}" was already built`);
    const start = this.nodes.length;
    const declared = inputs.map((i) => {
      this.claim(i.name, 'subgraph input');
      this.valueInfo.set(i.name, i);
      return new Tensor(this, i.name, i.dtype, i.shape);
    });
    let outs: readonly Tensor[];
    try {
      outs = fn(...declared);
    } catch (error) {
      this.nodes.splice(start);
      throw error;
    }
    const inner = new Set<string>();
    for (let i = start; i < this.nodes.length; i++) for (const o of (this.nodes[i] as Node).outputs) if (o !== '') inner.add(o);
    const seen = new Set<string>();
    const outputs = outs.map((t) => {
      this.own(t);
      let out = t;
      if (!inner.has(t.name) || seen.has(t.name)) {
        out = this.op1('Identity', [t], {}, { dtype: t.dtype, shape: t.shape }, `${name}/Identity`);
        inner.add(out.name);
      }
      seen.add(out.name);
      return { name: out.name, dtype: out.dtype, shape: out.shape };
    });
    const nodes = this.nodes.splice(start);
    const valueInfo = new Map<string, ValueInfo>();
    const outputNames = new Set(outputs.map((o) => o.name));
    for (const n of [...inner, ...declared.map((d) => d.name)]) {
      const info = this.valueInfo.get(n);
      this.valueInfo.delete(n);
      if (info && !outputNames.has(n) && !declared.some((d) => d.name === n)) valueInfo.set(n, info);
    }
    return {
      name: this.fresh(name),
      opset: this.opset,
      inputs: inputs.map((i) => ({ ...i, shape: i.shape === null ? null : [...i.shape] })),
      outputs,
      nodes,
      initializers: new Map(),
      parameters: new Map(),
      valueInfo,
      metadata: new Map(),
    };
  }

  /** A name not used yet in this graph, derived from `hint` (scoped). */
  fresh(hint: string, scoped = true): string {
    const base = (scoped && this.scopes.length > 0 ? `${this.scopes.join('/')}/${hint}` : hint).replace(/[^A-Za-z0-9_.:/-]/g, '_');
    let name = base;
    let n = this.counters.get(base) ?? 0;
    while (this.used.has(name)) name = `${base}_${++n}`;
    this.counters.set(base, n);
    this.used.add(name);
    return name;
  }

  private claim(name: string, what: string): void {
    if (this.built) throw new OnnxGraphError(`graph "${this.name}" was already built`);
    if (!NAME_RE.test(name)) throw new OnnxGraphError(`${what} name "${name}" is not valid: use letters, digits, _ . : / -, not starting with a digit`);
    if (this.used.has(name)) throw new OnnxGraphError(`${what} name "${name}" is already used in graph "${this.name}"`);
    this.used.add(name);
  }

  private own(t: Tensor): void {
    if (this.built) throw new OnnxGraphError(`graph "${this.name}" was already built`);
    if (t.builder !== this) throw new OnnxGraphError(`tensor "${t.name}" belongs to another graph builder; use graft() to combine graphs`);
  }

  /** Throws {@link OnnxShapeError} with the shapes involved (used by operator helpers). */
  static shapeError(what: string, ...shapes: (Shape | null)[]): never {
    throw new OnnxShapeError(`${what} (shapes ${shapes.map(formatShape).join(', ')})`);
  }
}
