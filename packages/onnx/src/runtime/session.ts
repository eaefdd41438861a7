import type { Clock } from '@esper/core';
import type ort from 'onnxruntime-node';
import { OnnxDisposedError, OnnxRunError } from '../errors.js';
import type { TensorData } from '../ir/tensor-data.js';
import type { BackendName } from './backend.js';
import { fromOrtTensor, toOrtTensor } from './convert.js';

/** Feeds of a run: host tensors by input name. */
export type Feeds = Readonly<Record<string, TensorData>>;
/** Results of a run: host tensors by output name. */
export type Results = Record<string, TensorData>;

/** Timing of {@link OnnxSession.warmUp}. */
export interface WarmUpReport {
  /** Milliseconds ONNX Runtime took to create (load, optimise, compile) the session. */
  readonly compileMs: number;
  /** The first run, which pays for lazy allocations and kernel selection. */
  readonly firstRunMs: number;
  /** Median of the runs after the first: the steady-state cost of one call. */
  readonly warmRunMs: number;
  /** Number of runs made, including the first. */
  readonly runs: number;
}

/** Running totals of a session. */
export interface SessionMetrics {
  runs: number;
  totalRunMs: number;
  lastRunMs: number;
}

/**
 * One ONNX Runtime session on one backend. `run()` blocks the Node event loop for the whole
 * computation (ONNX Runtime runs synchronously on the calling thread's pool). Owns native
 * memory until {@link dispose}.
 */
export class OnnxSession {
  /** Running totals of the calls made through {@link run}. */
  readonly metrics: SessionMetrics = { runs: 0, totalRunMs: 0, lastRunMs: 0 };
  private disposed = false;
  private readonly onDispose: (() => void) | undefined;

  constructor(
    private readonly inner: ort.InferenceSession,
    /** The backend the session actually runs on (after any fallback). */
    readonly backend: BackendName,
    /** The backends that were asked for, in order. */
    readonly requestedBackends: readonly BackendName[],
    /** sha256 of the model bytes. */
    readonly digest: string,
    /** Milliseconds session creation took on {@link backend}. */
    readonly compileMs: number,
    private readonly clock: Clock,
    onDispose?: () => void,
  ) {
    this.onDispose = onDispose;
  }

  /** True when a backend earlier in the requested order failed and this one was used instead. */
  get fellBack(): boolean {
    return this.requestedBackends[0] !== this.backend;
  }

  /** Input names the model expects. */
  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }

  /** Output names the model produces. */
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /**
   * Runs the model. `outputs` restricts which outputs are computed (default all).
   * Throws {@link OnnxRunError} when ONNX Runtime rejects the feeds or fails.
   */
  async run(feeds: Feeds, outputs?: readonly string[]): Promise<Results> {
    if (this.disposed) throw new OnnxDisposedError(`session ${this.digest.slice(0, 12)} was disposed; create a new one`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(t);
    const t0 = this.clock.monotonicMs();
    let raw: ort.InferenceSession.ReturnType;
    try {
      raw = outputs === undefined ? await this.inner.run(ortFeeds) : await this.inner.run(ortFeeds, outputs as string[]);
    } catch (cause) {
      throw new OnnxRunError(`ONNX Runtime run failed on ${this.backend}: ${(cause as Error).message}`, { cause });
    }
    const ms = this.clock.monotonicMs() - t0;
    this.metrics.runs++;
    this.metrics.totalRunMs += ms;
    this.metrics.lastRunMs = ms;
    const out: Results = {};
    for (const [name, t] of Object.entries(raw)) out[name] = fromOrtTensor(name, t);
    return out;
  }

  /**
   * Runs the model `runs` times (default 3, at least 1) on `feeds` so that later calls see
   * steady-state latency, and reports compile, first-run and warm-run times.
   */
  async warmUp(feeds: Feeds, options: { runs?: number } = {}): Promise<WarmUpReport> {
    const runs = Math.max(1, options.runs ?? 3);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = this.clock.monotonicMs();
      await this.run(feeds);
      times.push(this.clock.monotonicMs() - t0);
    }
    const rest = times.slice(1).sort((a, b) => a - b);
    const warmRunMs = rest.length === 0 ? (times[0] as number) : (rest[Math.floor(rest.length / 2)] as number);
    return { compileMs: this.compileMs, firstRunMs: times[0] as number, warmRunMs, runs };
  }

  /** True after {@link dispose}. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Releases the native session. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.onDispose?.();
    await this.inner.release();
  }
}
