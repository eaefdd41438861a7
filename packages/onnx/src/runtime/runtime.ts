import { SystemClock, type Clock } from '@esper/core';
import { isMainThread } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { OnnxBackendUnavailableError, OnnxDisposedError, OnnxGraphError, OnnxSessionCreateError } from '../errors.js';
import { modelDigest } from '../ir/digest.js';
import type { Graph } from '../ir/graph.js';
import { GraphBuilder } from '../ir/builder.js';
import { serializeModel } from '../ir/serialize.js';
import { backendHint, ortSessionOptions, shortReason, type BackendName, type SessionOptions } from './backend.js';
import { OnnxSession } from './session.js';

/** Emitted when a backend could not create a session and the next one in the order is tried. */
export interface BackendFallbackEvent {
  /** The backend that failed. */
  readonly from: BackendName;
  /** The backend tried next. */
  readonly to: BackendName;
  /** One-line reason from ONNX Runtime. */
  readonly reason: string;
  /** The full requested order. */
  readonly requested: readonly BackendName[];
  /** sha256 of the model bytes. */
  readonly digest: string;
  /** The original error. */
  readonly cause: unknown;
}

/** Listener for {@link BackendFallbackEvent}s. */
export type FallbackListener = (event: BackendFallbackEvent) => void;

/** Counters of a runtime (for telemetry). */
export interface RuntimeMetrics {
  /** Sessions created (cache misses and uncached requests). */
  sessionsCreated: number;
  /** Session requests answered from the cache. */
  cacheHits: number;
  /** Backend fallbacks, total. */
  fallbacks: number;
  /** Backend fallbacks by the backend that failed. */
  fallbacksFrom: Record<BackendName, number>;
  /** Milliseconds spent creating sessions, total. */
  compileMsTotal: number;
}

/** Options of {@link OnnxRuntime}. */
export interface OnnxRuntimeOptions {
  /** Clock used for timings (default the system clock). */
  readonly clock?: Clock;
  /** Called on every backend fallback (more with {@link OnnxRuntime.onFallback}). */
  readonly onFallback?: FallbackListener;
  /** Defaults merged under every request's options. */
  readonly defaults?: SessionOptions;
}

/** A model in any form the runtime accepts: a built graph or ONNX bytes. */
export type ModelSource = Graph | Uint8Array;

/**
 * Creates ONNX Runtime sessions with an explicit backend fallback order, caches them by model
 * digest and options, and counts what happened. Create one per process (or per plugin) and
 * dispose it at shutdown; it owns every session it cached.
 *
 * ```ts
 * const runtime = new OnnxRuntime({ onFallback: (e) => log.warn(e.reason) });
 * const session = await runtime.session(graph, { backends: ['webgpu', 'cpu'], intraOpThreads: 2 });
 * const { y } = await session.run({ x });
 * ```
 */
export class OnnxRuntime {
  /** Counters since construction. */
  readonly metrics: RuntimeMetrics = { sessionsCreated: 0, cacheHits: 0, fallbacks: 0, fallbacksFrom: { cpu: 0, webgpu: 0, cuda: 0 }, compileMsTotal: 0 };
  private readonly clock: Clock;
  private readonly listeners = new Set<FallbackListener>();
  private readonly cache = new Map<string, Promise<OnnxSession>>();
  private readonly defaults: SessionOptions;
  private disposed = false;

  constructor(options: OnnxRuntimeOptions = {}) {
    this.clock = options.clock ?? new SystemClock();
    this.defaults = options.defaults ?? {};
    if (options.onFallback) this.listeners.add(options.onFallback);
  }

  /** Subscribes to fallback events; returns the unsubscribe function. */
  onFallback(listener: FallbackListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Creates a new session that the caller owns (and must dispose), trying the requested
   * backends in order. Throws {@link OnnxBackendUnavailableError} when none works.
   */
  async createSession(model: ModelSource, options: SessionOptions = {}): Promise<OnnxSession> {
    this.assertLive();
    const bytes = toBytes(model);
    return this.create(bytes, modelDigest(bytes), { ...this.defaults, ...options });
  }

  /**
   * A cached session for this model and options: the same model (by sha256 of its bytes) with
   * the same options returns the same session. The runtime owns cached sessions; disposing one
   * evicts it.
   */
  async session(model: ModelSource, options: SessionOptions = {}): Promise<OnnxSession> {
    this.assertLive();
    const bytes = toBytes(model);
    const digest = modelDigest(bytes);
    const merged = { ...this.defaults, ...options };
    const key = `${digest}|${cacheKey(merged)}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.metrics.cacheHits++;
      return hit;
    }
    const pending = this.create(bytes, digest, merged, () => this.cache.delete(key));
    this.cache.set(key, pending);
    pending.catch(() => this.cache.delete(key));
    return pending;
  }

  /** Number of sessions in the cache. */
  get cachedSessions(): number {
    return this.cache.size;
  }

  /** Disposes every cached session and refuses further requests. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const all = [...this.cache.values()];
    this.cache.clear();
    await Promise.allSettled(all.map(async (p) => (await p).dispose()));
  }

  private async create(bytes: Uint8Array, digest: string, options: SessionOptions, onDispose?: () => void): Promise<OnnxSession> {
    const order = options.backends ?? ['cpu'];
    if (order.length === 0) throw new OnnxGraphError('session options: backends must list at least one backend');
    const attempts: { backend: BackendName; reason: string }[] = [];
    let lastError: unknown;
    for (let i = 0; i < order.length; i++) {
      const backend = order[i] as BackendName;
      const t0 = this.clock.monotonicMs();
      try {
        const ortOptions = ortSessionOptions(backend, options);
        await guardMainThreadFloats(ortOptions);
        const inner = await ort.InferenceSession.create(bytes, ortOptions);
        const compileMs = this.clock.monotonicMs() - t0;
        this.metrics.sessionsCreated++;
        this.metrics.compileMsTotal += compileMs;
        return new OnnxSession(inner, backend, [...order], digest, compileMs, this.clock, onDispose);
      } catch (cause) {
        lastError = cause;
        const reason = shortReason(cause);
        if (backend === 'cpu') {
          // The CPU provider always loads, so this failure is the model's, not the machine's.
          throw new OnnxSessionCreateError(`ONNX Runtime rejected model ${digest.slice(0, 12)} on cpu: ${reason}`, { cause });
        }
        attempts.push({ backend, reason });
        const next = order[i + 1];
        if (next !== undefined) {
          this.metrics.fallbacks++;
          this.metrics.fallbacksFrom[backend]++;
          const event: BackendFallbackEvent = { from: backend, to: next, reason, requested: [...order], digest, cause };
          for (const l of this.listeners) {
            try {
              l(event);
            } catch {
              // A failing listener must not turn a successful fallback into a failure.
            }
          }
        }
      }
    }
    const detail = attempts.map((a) => `  - ${a.backend}: ${a.reason} (${backendHint(a.backend)})`).join('\n');
    throw new OnnxBackendUnavailableError(
      `no requested backend could create a session for model ${digest.slice(0, 12)} (tried ${order.join(', ')}):\n${detail}\n` +
        `Add 'cpu' at the end of the backends list to fall back to the CPU.`,
      attempts,
      { cause: lastError },
    );
  }

  private assertLive(): void {
    if (this.disposed) throw new OnnxDisposedError('OnnxRuntime was disposed; create a new one');
  }
}

let firstSessionRequested = false;

/**
 * ONNX Runtime applies the denormal setting of the first session a process creates to the
 * creating thread, once. Before a flushing session would be that first one on the Node main
 * thread, a tiny plain session is created (and released) so that the main thread keeps IEEE
 * arithmetic for JavaScript. See `flushDenormals` in {@link SessionOptions}.
 */
async function guardMainThreadFloats(options: ort.InferenceSession.SessionOptions): Promise<void> {
  if (firstSessionRequested) return;
  firstSessionRequested = true;
  const flush = (options.extra as { session?: { set_denormal_as_zero?: string } } | undefined)?.session?.set_denormal_as_zero === '1';
  if (!flush || !isMainThread) return;
  const g = new GraphBuilder('esper_float_guard');
  g.output(g.input('x', 'float32', [1]).relu(), 'y');
  const guard = await ort.InferenceSession.create(serializeModel(g.build()), { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
  await guard.release();
}

function toBytes(model: ModelSource): Uint8Array {
  return model instanceof Uint8Array ? model : serializeModel(model);
}

function cacheKey(o: SessionOptions): string {
  return JSON.stringify([o.backends ?? ['cpu'], o.intraOpThreads ?? null, o.interOpThreads ?? null, o.executionMode ?? 'sequential', o.graphOptimizationLevel ?? 'all', o.flushDenormals === true]);
}
