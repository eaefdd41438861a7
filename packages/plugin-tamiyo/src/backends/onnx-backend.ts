import type { PolicyBackend, PolicySession, PolicyTensor, RealtimeResult } from '@esper/core';
import { OnnxDeadlineError, OnnxRuntime, WorkerSessionRunner, tensor, type BackendName, type Feeds, type Results, type TensorData } from '@esper/onnx';
import { PolicyBackendError } from '../policy/errors.js';

/** Devices a policy backend may use, in the default fallback order. */
export const POLICY_DEVICES = ['cuda', 'webgpu', 'cpu'] as const;

/** One of {@link POLICY_DEVICES}. */
export type PolicyDevice = (typeof POLICY_DEVICES)[number];

/** A loaded model on one device, as the backend layer runs it. */
export interface PolicyRunner {
  readonly device: PolicyDevice;
  /** How real-time scheduling of the inference thread went, when it was asked for. */
  readonly realtime?: RealtimeResult | undefined;
  run(feeds: Feeds, options: { deadlineMs?: number | undefined }): Promise<Results>;
  dispose(): Promise<void>;
}

/** Makes a {@link PolicyRunner} on one device; rejects when the device cannot run the model. */
export type PolicyRunnerFactory = (device: PolicyDevice, model: Uint8Array) => Promise<PolicyRunner>;

/** A device change of a policy session: at load (`load`) or after a failed run (`run`). */
export interface PolicyFallbackEvent {
  readonly from: PolicyDevice;
  readonly to: PolicyDevice | null;
  readonly phase: 'load' | 'run';
  readonly reason: string;
}

/** Options of {@link OnnxPolicyBackend}. */
export interface OnnxPolicyBackendOptions {
  /** Devices in preference order; default `['cpu']`. Put `cpu` last so a GPU failure has somewhere to go. */
  readonly devices?: readonly PolicyDevice[];
  /** Run inference on a worker thread, so a late run can be abandoned at its deadline (default true). */
  readonly worker?: boolean;
  /** ONNX Runtime intra-op threads (default 1: the trainer runs beside the policy). */
  readonly threads?: number;
  /**
   * Run the worker's inference thread under `SCHED_FIFO` at this priority (`tamiyo.gnn.realtime`,
   * decision 0067). Worker runners only; a refusal leaves it at normal priority and is reported
   * on the session ({@link OnnxPolicySession.realtime}).
   */
  readonly realtimePriority?: number;
  /** Feeds of the warm-up run after session creation (P2); none: no warm-up. */
  readonly warmUpFeeds?: Feeds;
  /** Called on every fallback. */
  readonly onFallback?: (event: PolicyFallbackEvent) => void;
  /** Replaces how a runner is made (tests simulate a failing GPU through it). */
  readonly createRunner?: PolicyRunnerFactory;
}

const toOnnx = (t: PolicyTensor): TensorData => tensor(t.type, t.dims, t.data as never);
const toPolicy = (t: TensorData): PolicyTensor => ({ type: t.dtype === 'int64' ? 'int64' : 'float32', data: t.data as Float32Array | BigInt64Array, dims: t.dims });

/** The default runner: `WorkerSessionRunner` (abandonable) or an in-thread ORT session, on exactly one device. */
export function onnxRunnerFactory(options: { worker?: boolean; threads?: number; realtimePriority?: number | undefined } = {}): PolicyRunnerFactory {
  const threads = options.threads ?? 1;
  return async (device, model) => {
    const backends: BackendName[] = [device];
    if (options.worker ?? true) {
      const runner = await WorkerSessionRunner.create(model, {
        backends,
        intraOpThreads: threads,
        interOpThreads: 1,
        ...(options.realtimePriority === undefined ? {} : { realtimePriority: options.realtimePriority }),
      });
      return {
        device,
        get realtime() {
          return runner.realtime;
        },
        run: (feeds, o) => runner.run(feeds, o.deadlineMs === undefined ? {} : { deadlineMs: o.deadlineMs }),
        dispose: () => runner.dispose(),
      };
    }
    const runtime = new OnnxRuntime();
    try {
      const session = await runtime.createSession(model, { backends, intraOpThreads: threads, interOpThreads: 1 });
      return { device, run: (feeds) => session.run(feeds), dispose: () => runtime.dispose() };
    } catch (error) {
      await runtime.dispose();
      throw error;
    }
  };
}

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);

/**
 * A policy session on the first device of the fallback order that loads and warms up. A run
 * that fails on a GPU device falls back to CPU for this and every later run, and **returns the
 * CPU result** (the seed's CPU-inference-fallback fix: the reference discarded a successful CPU
 * retry and issued a spurious PAUSE). Only a failure on CPU reaches the caller.
 */
export class OnnxPolicySession implements PolicySession {
  /** Load and run fallbacks so far (the reference's `compile_fallbacks`). */
  fallbacks = 0;
  private cpu: Promise<PolicyRunner> | undefined;

  constructor(
    private runner: PolicyRunner,
    /** Milliseconds of the warm-up run after session creation (P2). */
    readonly warmUpMs: number,
    private readonly model: Uint8Array,
    private readonly backend: OnnxPolicyBackend,
    loadFallbacks: number,
  ) {
    this.fallbacks = loadFallbacks;
  }

  /** The device the next run uses. */
  get device(): string {
    return this.runner.device;
  }

  /** How real-time scheduling of the inference thread went (undefined when not asked for, or not a worker runner). */
  get realtime(): RealtimeResult | undefined {
    return this.runner.realtime;
  }

  /** Runs the port's way: Leyline-neutral tensors in and out. */
  async run(inputs: Readonly<Record<string, PolicyTensor>>, options: { signal?: AbortSignal; deadlineMs?: number } = {}): Promise<Record<string, PolicyTensor>> {
    const feeds: Record<string, TensorData> = {};
    for (const [k, v] of Object.entries(inputs)) feeds[k] = toOnnx(v);
    const out = await this.runFeeds(feeds, options);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, toPolicy(v)]));
  }

  /**
   * Runs `@esper/onnx` feeds. `deadlineMs` abandons a worker run that takes longer
   * (`ESPER_ONNX_DEADLINE`; its result is discarded). A non-deadline failure on a GPU device
   * moves this session to CPU and returns the CPU run's result.
   */
  async runFeeds(feeds: Feeds, options: { signal?: AbortSignal; deadlineMs?: number } = {}): Promise<Results> {
    options.signal?.throwIfAborted();
    try {
      return await this.runner.run(feeds, { deadlineMs: options.deadlineMs });
    } catch (error) {
      if (this.runner.device === 'cpu' || error instanceof OnnxDeadlineError) throw error;
      const from = this.runner.device;
      this.fallbacks++;
      this.backend.reportFallback({ from, to: 'cpu', phase: 'run', reason: reasonOf(error) });
      const broken = this.runner;
      this.cpu ??= this.backend.createRunner('cpu', this.model);
      this.runner = await this.cpu;
      void broken.dispose().catch(() => undefined);
      options.signal?.throwIfAborted();
      return this.runner.run(feeds, { deadlineMs: options.deadlineMs });
    }
  }

  async dispose(): Promise<void> {
    await this.runner.dispose();
  }
}

/**
 * Tamiyo's `PolicyBackend` on `@esper/onnx`: `cuda`, `webgpu` and `cpu` in a fallback order.
 * `load` tries each device in turn (a device whose session creation or warm-up run fails counts
 * a fallback and the next is tried), warms the session up with one run and reports its time as
 * `warmUpMs` (metric `tamiyo.gnn.compile_warm_ms`).
 */
export class OnnxPolicyBackend implements PolicyBackend {
  readonly devices: readonly PolicyDevice[];
  private readonly factory: PolicyRunnerFactory;

  constructor(private readonly options: OnnxPolicyBackendOptions = {}) {
    this.devices = options.devices ?? ['cpu'];
    if (this.devices.length === 0) throw new PolicyBackendError('the device list is empty');
    this.factory = options.createRunner ?? onnxRunnerFactory(options);
  }

  /** @internal */
  reportFallback(event: PolicyFallbackEvent): void {
    this.options.onFallback?.(event);
  }

  /** @internal */
  createRunner(device: PolicyDevice, model: Uint8Array): Promise<PolicyRunner> {
    return this.factory(device, model);
  }

  /**
   * Loads the model on the first device that works and warms it up.
   *
   * @throws {@link PolicyBackendError} (`ESPER_TAMIYO_POLICY_BACKEND`) when every device fails.
   */
  async load(model: Uint8Array): Promise<OnnxPolicySession> {
    const attempts: string[] = [];
    for (const [i, device] of this.devices.entries()) {
      let runner: PolicyRunner | undefined;
      try {
        runner = await this.factory(device, model);
        let warmUpMs = 0;
        if (this.options.warmUpFeeds !== undefined) {
          const started = performance.now();
          await runner.run(this.options.warmUpFeeds, {});
          warmUpMs = performance.now() - started;
        }
        return new OnnxPolicySession(runner, warmUpMs, model, this, i);
      } catch (error) {
        await runner?.dispose().catch(() => undefined);
        attempts.push(`${device}: ${reasonOf(error)}`);
        this.reportFallback({ from: device, to: this.devices[i + 1] ?? null, phase: 'load', reason: reasonOf(error) });
      }
    }
    throw new PolicyBackendError(`tried ${attempts.join('; ')}`);
  }
}
