import { OnnxParameterError } from '../errors.js';
import { tensor, toNumbers, type TensorData } from '../ir/tensor-data.js';
import type { SessionOptions } from '../runtime/backend.js';
import type { OnnxRuntime } from '../runtime/runtime.js';
import type { Feeds, OnnxSession } from '../runtime/session.js';
import { ParameterSet } from '../params/parameter-set.js';
import { initialOptimizerState, nextName, type TrainingGraphSpec } from './training-graph.js';

/** What one training step reports. */
export interface StepResult {
  /** 1-based number of the step just taken. */
  readonly step: number;
  readonly loss: number;
  /** Requested metric outputs, as returned by the graph. */
  readonly metrics: Readonly<Record<string, TensorData>>;
  /** Gradient L2 norm by group (before clipping), and `global`. */
  readonly gradNorms: Readonly<Record<string, number>>;
}

/**
 * Runs a training graph step by step: feeds the batch, current parameters, optimizer state,
 * learning rate and step number, and swaps in the new parameters and state the graph returns.
 * Each step is one `session.run`. The trainer owns its session (dispose it) and its copy of
 * the parameters (read them with {@link parameters}).
 */
export class Trainer {
  private params: ParameterSet;
  private state: Map<string, TensorData<'float32'>>;
  private steps = 0;

  private constructor(
    readonly spec: TrainingGraphSpec,
    readonly session: OnnxSession,
    params: ParameterSet,
  ) {
    this.params = params;
    this.state = initialOptimizerState(spec, params);
  }

  /** Compiles the training graph and starts from `params` (copied) with zero optimizer state. */
  static async create(runtime: OnnxRuntime, spec: TrainingGraphSpec, params: ParameterSet, options: SessionOptions = {}): Promise<Trainer> {
    for (const name of [...spec.parameters, ...spec.frozen]) if (!params.has(name)) throw new OnnxParameterError(`trainer: parameter set lacks "${name}"`);
    const session = await runtime.createSession(spec.graph, options);
    return new Trainer(spec, session, params.clone());
  }

  /** Current parameters (replaced, not mutated, by each step). */
  get parameters(): ParameterSet {
    return this.params;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** Takes one optimisation step on `batch` with learning rate `lr`. */
  async step(batch: Feeds, lr: number): Promise<StepResult> {
    const step = this.steps + 1;
    const feeds: Record<string, TensorData> = { ...batch, lr: tensor('float32', [], Float32Array.of(lr)), step: tensor('float32', [], Float32Array.of(step)) };
    for (const [name, t] of this.params) feeds[name] = t;
    for (const [name, t] of this.state) feeds[name] = t;
    const out = await this.session.run(feeds);
    const next = new ParameterSet();
    for (const [name, t] of this.params) {
      next.add(name, this.spec.parameters.includes(name) ? (out[nextName(name)] as TensorData<'float32'>) : t);
    }
    this.params = next;
    for (const s of this.spec.state) this.state.set(s.name, out[nextName(s.name)] as TensorData<'float32'>);
    this.steps = step;
    const gradNorms: Record<string, number> = {};
    for (const [group, name] of Object.entries(this.spec.outputs.gradNorms)) gradNorms[group] = toNumbers(out[name] as TensorData)[0] as number;
    return {
      step,
      loss: toNumbers(out[this.spec.outputs.loss] as TensorData)[0] as number,
      metrics: Object.fromEntries(this.spec.outputs.metrics.map((m) => [m, out[m] as TensorData])),
      gradNorms,
    };
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
