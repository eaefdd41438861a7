import { OnnxParameterError, OnnxRunError } from '../errors.js';
import { tensor, toNumbers, type TensorData } from '../ir/tensor-data.js';
import type { SessionOptions } from '../runtime/backend.js';
import type { OnnxRuntime } from '../runtime/runtime.js';
import type { Feeds, OnnxSession } from '../runtime/session.js';
import { ParameterSet } from '../params/parameter-set.js';
import { initialOptimizerState, nextName, type TrainingGraphSpec } from './training-graph.js';
import { buildMultiStepGraph, type MultiStepGraphSpec } from './multi-step.js';

/** What one training step reports. */
export interface StepResult {
  /**
   * 1-based number of the step just taken. A step that was not applied ({@link nonFinite},
   * {@link emptyBatch}) is not counted: it reports the number the next applied step will take.
   */
  readonly step: number;
  /** The batch's loss; NaN for an empty batch (the mean of nothing). */
  readonly loss: number;
  /** Requested metric outputs, as returned by the graph (none for an empty batch). */
  readonly metrics: Readonly<Record<string, TensorData>>;
  /** Gradient L2 norm by group (before clipping), and `global` (0 for an empty batch). */
  readonly gradNorms: Readonly<Record<string, number>>;
  /**
   * True when the loss or the global gradient norm was NaN or ±∞: the training graph's
   * non-finite guard kept the parameters and optimizer state as they were (with per-group
   * clipping, groups whose own norm was finite still updated) and the step was not counted.
   * Counted in {@link Trainer.nonFiniteSteps}.
   */
  readonly nonFinite: boolean;
  /**
   * True when the batch held no examples: no session ran, nothing changed (no step counted,
   * no weight decay). Counted in {@link Trainer.emptyBatches}.
   */
  readonly emptyBatch: boolean;
}

/** Where a new {@link Trainer} starts, besides its parameters. */
export interface TrainerStart {
  /**
   * Optimizer state by state-tensor name (`opt/<parameter>/<slot>`, see
   * {@link TrainingGraphSpec.state}); each must have the slot's dims. Slots not given start at
   * zero; names the training graph does not have are an error. The trainer copies nothing:
   * it replaces state tensors, never writes into them.
   */
  readonly optimizerState?: ReadonlyMap<string, TensorData<'float32'>>;
  /** Steps already taken: the next step is number `stepCount + 1`. Default 0. */
  readonly stepCount?: number;
  /**
   * Compile the one-step session now (default true). With false it is compiled on the first
   * {@link Trainer.step}, so a trainer that only runs {@link Trainer.stepMany} (and is rebuilt at
   * every change of graph) never pays for it.
   */
  readonly compileSingleStep?: boolean;
}

/** A trainer's state, enough to start another trainer where this one stopped. */
export interface TrainerState {
  readonly parameters: ParameterSet;
  readonly optimizerState: ReadonlyMap<string, TensorData<'float32'>>;
  readonly stepCount: number;
}

/**
 * Runs a training graph step by step: feeds the batch, current parameters, optimizer state,
 * learning rate and step number, and swaps in the new parameters and state the graph returns.
 * {@link step} is one `session.run` per step; {@link stepMany} takes K steps in one run (an
 * ONNX `Scan` compiled on first use), which is faster whenever copying the parameters and
 * optimizer state out of ONNX Runtime costs a noticeable part of a step. Both paths compute the
 * same values and share the step counter. The trainer owns its sessions (dispose it) and its
 * copy of the parameters (read them with {@link parameters}).
 */
export class Trainer {
  private params: ParameterSet;
  private state: Map<string, TensorData<'float32'>>;
  private steps = 0;
  private nonFiniteCount = 0;
  private emptyCount = 0;
  private readonly multi = new Map<string, Promise<{ spec: MultiStepGraphSpec; session: OnnxSession }>>();
  private single: Promise<OnnxSession> | undefined;
  private singleSession: OnnxSession | undefined;
  private disposed = false;

  private constructor(
    readonly spec: TrainingGraphSpec,
    session: OnnxSession | undefined,
    params: ParameterSet,
    private readonly runtime: OnnxRuntime,
    private readonly options: SessionOptions,
  ) {
    this.params = params;
    this.state = initialOptimizerState(spec, params);
    if (session !== undefined) {
      this.singleSession = session;
      this.single = Promise.resolve(session);
    }
  }

  /**
   * Compiles the training graph and starts from `params` (copied), with zero optimizer state at
   * step 0 unless `start` gives state and a step count (to continue another trainer's run:
   * see {@link carryTrainerState}).
   *
   * @throws OnnxParameterError when `params` lacks a parameter of the graph, or `start` names a
   *   state tensor the graph does not have or gives one with the wrong dims.
   */
  static async create(runtime: OnnxRuntime, spec: TrainingGraphSpec, params: ParameterSet, options: SessionOptions = {}, start: TrainerStart = {}): Promise<Trainer> {
    for (const name of [...spec.parameters, ...spec.frozen]) if (!params.has(name)) throw new OnnxParameterError(`trainer: parameter set lacks "${name}"`);
    const stepCount = start.stepCount ?? 0;
    if (!Number.isInteger(stepCount) || stepCount < 0) throw new OnnxParameterError(`trainer: stepCount must be an integer >= 0, got ${stepCount}`);
    const copy = params.clone();
    const state = initialOptimizerState(spec, copy);
    for (const [name, t] of start.optimizerState ?? []) {
      const zero = state.get(name);
      if (!zero) throw new OnnxParameterError(`trainer: the training graph has no optimizer state "${name}" (it has: ${[...state.keys()].join(', ') || 'none'})`);
      if (t.dtype !== 'float32' || t.dims.length !== zero.dims.length || t.dims.some((d, i) => d !== zero.dims[i])) {
        throw new OnnxParameterError(`trainer: optimizer state "${name}" is ${t.dtype}[${t.dims.join(', ')}], the graph wants float32[${zero.dims.join(', ')}]`);
      }
      state.set(name, t);
    }
    const session = start.compileSingleStep === false ? undefined : await runtime.createSession(spec.graph, options);
    const trainer = new Trainer(spec, session, copy, runtime, options);
    trainer.state = state;
    trainer.steps = stepCount;
    return trainer;
  }

  /**
   * The one-step session. Compiled at creation unless `compileSingleStep` was false; then it
   * exists after the first {@link step}.
   *
   * @throws OnnxRunError when it has not been compiled yet.
   */
  get session(): OnnxSession {
    if (this.singleSession === undefined) throw new OnnxRunError('trainer.session: the one-step session is compiled on the first step() (the trainer was created with compileSingleStep: false)');
    return this.singleSession;
  }

  /** Current optimizer state by state-tensor name (replaced, not mutated, by each step). */
  get optimizerState(): ReadonlyMap<string, TensorData<'float32'>> {
    return this.state;
  }

  /**
   * Parameters, optimizer state and step count now. The tensors are shared, not copied: steps
   * replace them, never write into them.
   */
  snapshot(): TrainerState {
    return { parameters: this.params, optimizerState: new Map(this.state), stepCount: this.steps };
  }

  /** Current parameters (replaced, not mutated, by each step). */
  get parameters(): ParameterSet {
    return this.params;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** Steps whose update was not applied because the loss or a gradient norm was not finite. */
  get nonFiniteSteps(): number {
    return this.nonFiniteCount;
  }

  /** Steps (and each step of a {@link stepMany} run) skipped because their batch held no examples. */
  get emptyBatches(): number {
    return this.emptyCount;
  }

  /**
   * Takes one optimisation step on `batch` with learning rate `lr`. An empty batch (see
   * {@link Trainer.isEmptyBatch}) runs nothing and reports `emptyBatch: true`; a step whose
   * loss or gradient norm is not finite changes nothing and reports `nonFinite: true`.
   */
  async step(batch: Feeds, lr: number): Promise<StepResult> {
    const step = this.steps + 1;
    if (this.isEmptyBatch(batch)) return this.skippedEmpty(step);
    const feeds: Record<string, TensorData> = { ...batch, lr: tensor('float32', [], Float32Array.of(lr)), step: tensor('float32', [], Float32Array.of(step)) };
    for (const [name, t] of this.params) feeds[name] = t;
    for (const [name, t] of this.state) feeds[name] = t;
    const out = await (await this.singleStep()).run(feeds);
    const nonFinite = this.nonFiniteFlags(out)[0] === true;
    this.adopt(out, nonFinite ? this.steps : step);
    if (nonFinite) this.nonFiniteCount += 1;
    const gradNorms: Record<string, number> = {};
    for (const [group, name] of Object.entries(this.spec.outputs.gradNorms)) gradNorms[group] = toNumbers(out[name] as TensorData)[0] as number;
    return {
      step,
      loss: toNumbers(out[this.spec.outputs.loss] as TensorData)[0] as number,
      metrics: Object.fromEntries(this.spec.outputs.metrics.map((m) => [m, out[m] as TensorData])),
      gradNorms,
      nonFinite,
      emptyBatch: false,
    };
  }

  /**
   * Whether `batch` holds no examples: every data input whose declared shape has a symbolic
   * or unknown dim (the batch axis, an edge count) was fed with zero elements. Inputs of fixed
   * shape (gates, masks) do not count, and a graph with none of the other kind never has an
   * empty batch. `stacked` names inputs fed with a leading steps axis (of {@link stepMany}),
   * whose per-step slice is what counts. A graph network with nodes but no edges is not empty.
   */
  isEmptyBatch(batch: Feeds, stacked: ReadonlySet<string> = new Set()): boolean {
    let variable = 0;
    for (const name of this.spec.dataInputs) {
      const declared = this.spec.graph.inputs.find((i) => i.name === name);
      const fed = batch[name];
      if (!declared || !fed || (declared.shape !== null && declared.shape.every((d) => typeof d === 'number'))) continue;
      variable += 1;
      const dims = stacked.has(name) ? fed.dims.slice(1) : fed.dims;
      if (dims.every((d) => d > 0)) return false;
    }
    return variable > 0;
  }

  /** The result of a step skipped for an empty batch: nothing ran and nothing changed. */
  private skippedEmpty(step: number): StepResult {
    this.emptyCount += 1;
    const gradNorms = Object.fromEntries(Object.keys(this.spec.outputs.gradNorms).map((group) => [group, 0]));
    return { step, loss: Number.NaN, metrics: {}, gradNorms, nonFinite: false, emptyBatch: true };
  }

  /** The per-step non-finite flags of a run (all false without the guard). */
  private nonFiniteFlags(out: Readonly<Record<string, TensorData>>): boolean[] {
    const name = this.spec.outputs.nonFinite;
    if (name === undefined) return [];
    return toNumbers(out[name] as TensorData).map((v) => v !== 0);
  }

  /**
   * Takes K optimisation steps in one `session.run`. `stacked` holds every per-step data input
   * with a leading axis of K (slice `i` is step `i`'s batch; see {@link stackBatches});
   * `shared` holds data inputs read unchanged by all K steps (gates, masks). `lr` is one rate
   * for all steps or one per step. Returns the K step results, in order; the values equal K
   * calls of {@link step} with the same batches. The K-step graph for each set of shared names
   * is compiled on first use with the trainer's session options.
   */
  async stepMany(stacked: Feeds, lr: number | readonly number[], shared: Feeds = {}): Promise<StepResult[]> {
    const sharedNames = Object.keys(shared).sort();
    for (const name of Object.keys(stacked)) {
      if (!this.spec.dataInputs.includes(name)) throw new OnnxRunError(`trainer.stepMany: "${name}" is not a data input of the training graph (data inputs: ${this.spec.dataInputs.join(', ')})`);
      if (name in shared) throw new OnnxRunError(`trainer.stepMany: "${name}" is given both stacked and shared; give it in one of them`);
    }
    const stackedNames = this.spec.dataInputs.filter((d) => !sharedNames.includes(d));
    const first = stackedNames[0];
    if (first === undefined) throw new OnnxRunError('trainer.stepMany: every data input is shared, so nothing says how many steps to take; stack at least one input');
    const k = stacked[first]?.dims[0];
    if (k === undefined || k < 1) throw new OnnxRunError(`trainer.stepMany: stacked input "${first}" is missing or has no leading steps axis`);
    for (const name of stackedNames) {
      const t = stacked[name];
      if (!t) throw new OnnxRunError(`trainer.stepMany: stacked input "${name}" is missing (stack it, or pass it in shared)`);
      if (t.dims[0] !== k) throw new OnnxRunError(`trainer.stepMany: stacked input "${name}" has ${t.dims[0]} steps on its leading axis, "${first}" has ${k}`);
    }
    const rates = typeof lr === 'number' ? new Float32Array(k).fill(lr) : Float32Array.from(lr);
    if (rates.length !== k) throw new OnnxRunError(`trainer.stepMany: ${rates.length} learning rates for ${k} steps`);
    if (this.isEmptyBatch({ ...stacked, ...shared }, new Set(stackedNames))) return Array.from({ length: k }, () => this.skippedEmpty(this.steps + 1));
    const { spec, session } = await this.multiStep(sharedNames);
    const first1 = this.steps + 1;
    const feeds: Record<string, TensorData> = { ...stacked, ...shared, [spec.lrInput]: tensor('float32', [k], rates), [spec.stepInput]: tensor('float32', [], Float32Array.of(first1)) };
    for (const [name, t] of this.params) feeds[name] = t;
    for (const [name, t] of this.state) feeds[name] = t;
    const out = await session.run(feeds);
    const flags = this.nonFiniteFlags(out);
    const skipped = flags.filter((f) => f).length;
    this.adopt(out, this.steps + k - skipped);
    this.nonFiniteCount += skipped;
    const per = (name: string, i: number): TensorData => {
      const t = out[name] as TensorData;
      const inner = t.dims.slice(1);
      const n = inner.reduce((a, b) => a * b, 1);
      return tensor(t.dtype, inner, (t.data as Float32Array).subarray(i * n, (i + 1) * n) as never);
    };
    const losses = toNumbers(out[this.spec.outputs.loss] as TensorData);
    const norms = Object.entries(this.spec.outputs.gradNorms).map(([group, name]) => [group, toNumbers(out[name] as TensorData)] as const);
    let number = first1;
    return Array.from({ length: k }, (_, i) => {
      const nonFinite = flags[i] === true;
      const result = {
        step: number,
        loss: losses[i] as number,
        metrics: Object.fromEntries(this.spec.outputs.metrics.map((m) => [m, per(m, i)])),
        gradNorms: Object.fromEntries(norms.map(([group, v]) => [group, v[i] as number])),
        nonFinite,
        emptyBatch: false,
      };
      if (!nonFinite) number += 1;
      return result;
    });
  }

  /** Releases the sessions. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const multi = await Promise.allSettled(this.multi.values());
    this.multi.clear();
    const single = this.single === undefined ? [] : [await this.single.catch(() => undefined)];
    await Promise.all([...single.flatMap((x) => (x === undefined ? [] : [x.dispose()])), ...multi.flatMap((m) => (m.status === 'fulfilled' ? [m.value.session.dispose()] : []))]);
  }

  private singleStep(): Promise<OnnxSession> {
    if (this.disposed) return Promise.reject(new OnnxRunError('trainer.step: the trainer was disposed'));
    if (this.single === undefined) {
      const pending = this.runtime.createSession(this.spec.graph, this.options).then((session) => (this.singleSession = session));
      // A failed compile is not cached: the next call tries again.
      pending.catch(() => {
        if (this.single === pending) this.single = undefined;
      });
      this.single = pending;
    }
    return this.single;
  }

  private multiStep(shared: readonly string[]): Promise<{ spec: MultiStepGraphSpec; session: OnnxSession }> {
    if (this.disposed) return Promise.reject(new OnnxRunError('trainer.stepMany: the trainer was disposed'));
    const key = shared.join('\u0000');
    let entry = this.multi.get(key);
    if (!entry) {
      entry = (async () => {
        const spec = buildMultiStepGraph(this.spec, { shared });
        return { spec, session: await this.runtime.createSession(spec.graph, this.options) };
      })();
      // A failed compile is not cached: the next call tries again.
      entry.catch(() => this.multi.delete(key));
      this.multi.set(key, entry);
    }
    return entry;
  }

  /** Swaps in the parameters and optimizer state a run returned. */
  private adopt(out: Readonly<Record<string, TensorData>>, steps: number): void {
    const next = new ParameterSet();
    for (const [name, t] of this.params) {
      next.add(name, this.spec.parameters.includes(name) ? (out[nextName(name)] as TensorData<'float32'>) : t);
    }
    this.params = next;
    for (const s of this.spec.state) this.state.set(s.name, out[nextName(s.name)] as TensorData<'float32'>);
    this.steps = steps;
  }
}

/** What {@link carryTrainerState} carried over, started fresh and dropped, by parameter name. */
export interface CarriedState extends TrainerStart {
  /** The new trainer's parameters: surviving values, else the new graph's start values. */
  readonly parameters: ParameterSet;
  readonly optimizerState: ReadonlyMap<string, TensorData<'float32'>>;
  readonly stepCount: number;
  /** Parameters whose values (and optimizer state) came from `from`. */
  readonly carried: readonly string[];
  /** Parameters of the new graph that start from `initial` with zero optimizer state. */
  readonly fresh: readonly string[];
  /** Parameters of `from` that the new graph does not have. */
  readonly dropped: readonly string[];
}

/**
 * Carries a trainer's state across a rebuild (a graph whose set of parameters changed): every
 * parameter of `spec` that `from` has with the same dims keeps its value and its optimizer state
 * (slots matched by name, so the same optimizer kind carries everything); the others start from
 * `initial` (the new graph's start values, e.g. `ParameterSet.fromGraph(forward)`) with zero
 * state; parameters of `from` that `spec` lacks are dropped. The step count carries on. Start
 * the new trainer with `Trainer.create(runtime, spec, carried.parameters, options, carried)`: with
 * an identical graph it continues exactly as the old trainer would have.
 */
export function carryTrainerState(spec: TrainingGraphSpec, initial: ParameterSet, from: TrainerState): CarriedState {
  const parameters = new ParameterSet();
  const carried: string[] = [];
  const fresh: string[] = [];
  const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  for (const name of [...spec.parameters, ...spec.frozen]) {
    const start = initial.get(name);
    const old = from.parameters.has(name) ? from.parameters.get(name) : undefined;
    if (old !== undefined && sameDims(old.dims, start.dims)) {
      parameters.add(name, old);
      carried.push(name);
    } else {
      parameters.add(name, start);
      fresh.push(name);
    }
  }
  const kept = new Set(carried);
  const optimizerState = new Map<string, TensorData<'float32'>>();
  for (const slot of spec.state) {
    const old = from.optimizerState.get(slot.name);
    const want = slot.dims ?? parameters.get(slot.parameter).dims;
    if (kept.has(slot.parameter) && old !== undefined && sameDims(old.dims, want)) optimizerState.set(slot.name, old);
  }
  const dropped = from.parameters.names.filter((n) => !parameters.has(n));
  return { parameters, optimizerState, stepCount: from.stepCount, carried, fresh, dropped };
}
