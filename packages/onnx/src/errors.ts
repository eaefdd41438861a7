import { EsperError } from '@esper/core';

/**
 * A graph was built wrongly: a duplicate or unknown name, a missing input, an operator used
 * with arguments it does not accept. Fix the building code; nothing was run.
 */
export class OnnxGraphError extends EsperError<'ESPER_ONNX_GRAPH'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_ONNX_GRAPH', message, options);
  }
}

/** Two shapes that are known at build time do not fit together (matmul, broadcast, concat …). */
export class OnnxShapeError extends EsperError<'ESPER_ONNX_SHAPE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_ONNX_SHAPE', message, options);
  }
}

/** Bytes that should hold an ONNX `ModelProto` could not be decoded or use unsupported features. */
export class OnnxModelParseError extends EsperError<'ESPER_ONNX_MODEL_PARSE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_ONNX_MODEL_PARSE', message, options);
  }
}

/**
 * No backend in the requested fallback order could create a session. The message lists every
 * backend tried and why it failed; the last failure travels as `cause`.
 */
export class OnnxBackendUnavailableError extends EsperError<'ESPER_ONNX_BACKEND_UNAVAILABLE'> {
  /** Each backend tried, in order, with the reason it failed. */
  readonly attempts: readonly { backend: string; reason: string }[];
  constructor(message: string, attempts: readonly { backend: string; reason: string }[], options?: { cause?: unknown }) {
    super('ESPER_ONNX_BACKEND_UNAVAILABLE', message, options);
    this.attempts = attempts;
  }
}

/**
 * ONNX Runtime could not create a session on the CPU backend, which is always available: the
 * model itself is the problem (an operator or type ORT does not implement, an invalid graph).
 */
export class OnnxSessionCreateError extends EsperError<'ESPER_ONNX_SESSION_CREATE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_ONNX_SESSION_CREATE', message, options);
  }
}

/** ONNX Runtime rejected a model or a run (bad feeds, missing inputs, kernel failure). */
export class OnnxRunError extends EsperError<'ESPER_ONNX_RUN'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_ONNX_RUN', message, options);
  }
}

/** A session, runtime or cache was used after `dispose()`. */
export class OnnxDisposedError extends EsperError<'ESPER_ONNX_DISPOSED'> {
  constructor(message: string) {
    super('ESPER_ONNX_DISPOSED', message);
  }
}

/**
 * A checkpoint file is damaged or not a checkpoint: bad magic, truncated, a header or tensor
 * checksum mismatch. Restore from another checkpoint; never load a partially valid one.
 */
export class OnnxCheckpointCorruptError extends EsperError<'ESPER_ONNX_CHECKPOINT_CORRUPT'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_ONNX_CHECKPOINT_CORRUPT', message, options);
  }
}

/** A parameter set does not match what a graph or checkpoint expects (missing name, wrong shape). */
export class OnnxParameterError extends EsperError<'ESPER_ONNX_PARAMETER'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_ONNX_PARAMETER', message, options);
  }
}

/**
 * A run on a worker did not finish before its deadline. The run's result is discarded; the
 * worker finishes in the background and the next run uses a fresh one.
 */
export class OnnxDeadlineError extends EsperError<'ESPER_ONNX_DEADLINE'> {
  constructor(message: string) {
    super('ESPER_ONNX_DEADLINE', message);
  }
}
