import type ort from 'onnxruntime-node';

/**
 * Where a session runs: `cpu` (always available), `webgpu` (bundled with onnxruntime-node;
 * Vulkan on Linux, needs a GPU and `libvulkan1`), `cuda` (needs the CUDA provider libraries,
 * which onnxruntime-node downloads at install time unless told to skip).
 */
export type BackendName = 'cpu' | 'webgpu' | 'cuda';

/** Every backend name, in the default preference order of a GPU-first request. */
export const BACKENDS: readonly BackendName[] = ['cuda', 'webgpu', 'cpu'];

/** Thread and optimisation settings of a session. */
export interface ThreadOptions {
  /** Threads one operator may use (ORT `intraOpNumThreads`; default: ORT's choice, one per core). */
  readonly intraOpThreads?: number;
  /** Threads for running independent operators at once (only with `executionMode: 'parallel'`). */
  readonly interOpThreads?: number;
  /** `sequential` (default) or `parallel` execution of independent branches. */
  readonly executionMode?: 'sequential' | 'parallel';
  /** ORT graph optimisation level (default `all`). */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Flush denormal (subnormal) floats to zero in this session's intra-op threads (ORT
   * `session.set_denormal_as_zero`; default false). Training that drives gradients towards zero
   * (a loss near 0, saturated softmax) produces subnormal values, and x86 CPUs compute on them
   * tens of times slower: on the benchmark MLP trained on one batch until its loss reached 3e-4,
   * a step took twice as long. The cost is that values below ~1.2e-38 become 0.
   *
   * ONNX Runtime also applies the setting of the first session a process creates to the thread
   * that created it. On the Node main thread that would change JavaScript's own arithmetic
   * (`Number.MIN_VALUE > 0` becomes false), so `OnnxRuntime` never lets a flushing session be
   * the main thread's first: the main thread keeps IEEE semantics and does its share of each
   * operator unflushed. In a {@link WorkerSessionRunner} worker, which runs nothing else, the
   * worker thread is flushed too when its session is the process's first.
   */
  readonly flushDenormals?: boolean;
}

/** Options of a session request. */
export interface SessionOptions extends ThreadOptions {
  /**
   * Backends to try, in order (default `['cpu']`). A backend whose session creation throws is
   * skipped with a fallback event, and the next is tried; when all fail the request throws
   * `OnnxBackendUnavailableError`.
   */
  readonly backends?: readonly BackendName[];
}

/** Execution-provider list for one backend. Each backend is tried alone, so a failure is seen. */
export function executionProviders(backend: BackendName): ort.InferenceSession.ExecutionProviderConfig[] {
  switch (backend) {
    case 'cpu': return ['cpu'];
    case 'webgpu': return ['webgpu'];
    case 'cuda': return ['cuda'];
  }
}

/** ORT session options for a backend and thread settings. */
export function ortSessionOptions(backend: BackendName, options: ThreadOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: executionProviders(backend),
    ...(options.intraOpThreads !== undefined ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads !== undefined ? { interOpNumThreads: options.interOpThreads } : {}),
    executionMode: options.executionMode ?? 'sequential',
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    ...(options.flushDenormals === true ? { extra: { session: { set_denormal_as_zero: '1' } } } : {}),
    // Errors reach callers as exceptions; keep ORT's own logger to real errors.
    logSeverityLevel: 3,
  };
}

/** A short, one-line reason from an ORT error (its messages carry long source paths). */
export function shortReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.replace(/^\/onnxruntime_src\/\S+\s+/, '').replace(/^\S+::\S+\(.*?\)::<lambda\(\)>\s*/, '').slice(0, 300);
}

/** What a person should do when a backend is missing. */
export function backendHint(backend: BackendName): string {
  switch (backend) {
    case 'cpu': return 'the CPU provider ships with onnxruntime-node; check that the package installed correctly';
    case 'webgpu': return 'webgpu needs a GPU with a Vulkan driver and libvulkan1 installed (apt-get install libvulkan1)';
    case 'cuda': return 'cuda needs an NVIDIA GPU and the CUDA provider libraries: reinstall onnxruntime-node without onnxruntime-node-install=skip (see its install docs), with CUDA 12 and cuDNN 9 on the library path';
  }
}
