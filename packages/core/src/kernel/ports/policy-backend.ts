/** A named float32/int64 tensor passed to or returned from a policy session. */
export interface PolicyTensor {
  readonly type: 'float32' | 'int64';
  readonly data: Float32Array | BigInt64Array;
  readonly dims: readonly number[];
}

/** A loaded policy model on one execution device. */
export interface PolicySession {
  /** The execution provider that actually runs this session (after any fallback), e.g. `cpu`. */
  readonly device: string;
  /** Time spent compiling and warming the session, in milliseconds. */
  readonly warmUpMs: number;
  run(inputs: Readonly<Record<string, PolicyTensor>>, options?: { signal?: AbortSignal }): Promise<Record<string, PolicyTensor>>;
  dispose(): Promise<void>;
}

/**
 * Where Tamiyo's policy computes: an ONNX Runtime backend (`cpu`, `cuda`, `webgpu`) chosen by
 * configuration. Loading on a GPU device that is absent falls back to CPU and reports it
 * (the seed's "CPU inference fallback"), never nulls a successful CPU result.
 */
export interface PolicyBackend {
  /** Devices in preference order, e.g. `['cuda', 'cpu']`. */
  readonly devices: readonly string[];
  /** Loads ONNX model bytes and warms the session up. */
  load(model: Uint8Array): Promise<PolicySession>;
}
