import { fromBinary } from '@bufbuild/protobuf';
import {
  BusMessageType,
  KernelArtifactErrorSchema,
  KernelArtifactReadySchema,
  KernelPrefetchRequestSchema,
} from '../leyline/index.js';

/** Outcome of {@link KernelGuard.check}. */
export type KernelGuardVerdict =
  | { readonly ok: true; readonly commit: () => void; readonly release: () => void }
  | { readonly ok: false; readonly reason: 'stale' | 'replay' };

const ACCEPT: KernelGuardVerdict = { ok: true, commit: () => undefined, release: () => undefined };

/**
 * Freshness and replay guards for kernel prefetch traffic (reference §1.12), with one fix:
 * a request id is remembered only when its handler **succeeded** (`commit`), so a kernel
 * message whose handler failed is retried instead of being dropped as a replay of itself
 * (decision 0032). While a message is being handled its id is "in flight"; a duplicate that
 * arrives meanwhile is a replay. `release` forgets the in-flight mark after a failure.
 *
 * Requests (type 6): unset `issued_at` is stale; with a window > 0, `issued < now − window` is
 * stale (the edge itself is fresh); future timestamps are accepted. Ready/error (7/8): an
 * empty request id is accepted untracked. Both caches are insertion-ordered and capped.
 */
export class KernelGuard {
  private readonly requests = new Map<string, number>();
  private readonly responses = new Map<string, number>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly nowMs: () => number,
    private readonly freshnessWindowMs: number,
    private readonly cacheSize: number,
  ) {}

  /** Decides on one envelope; throws only when the payload does not decode (the caller counts it). */
  check(messageType: BusMessageType, payload: Uint8Array): KernelGuardVerdict {
    switch (messageType) {
      case BusMessageType.KERNEL_PREFETCH_REQUEST:
        return this.checkRequest(payload);
      case BusMessageType.KERNEL_PREFETCH_READY:
        return this.checkResponse(fromBinary(KernelArtifactReadySchema, payload).requestId);
      case BusMessageType.KERNEL_PREFETCH_ERROR:
        return this.checkResponse(fromBinary(KernelArtifactErrorSchema, payload).requestId);
      default:
        return ACCEPT;
    }
  }

  private checkRequest(payload: Uint8Array): KernelGuardVerdict {
    const request = fromBinary(KernelPrefetchRequestSchema, payload);
    const seconds = Number(request.issuedAt?.seconds ?? 0n);
    const nanos = request.issuedAt?.nanos ?? 0;
    if (seconds === 0 && nanos === 0) return { ok: false, reason: 'stale' };
    const issuedMs = seconds * 1000 + nanos / 1e6;
    if (this.freshnessWindowMs > 0) {
      const oldest = this.nowMs() - this.freshnessWindowMs;
      for (const [id, ms] of this.requests) {
        if (ms >= oldest) break;
        this.requests.delete(id);
      }
      if (issuedMs < oldest) return { ok: false, reason: 'stale' };
    }
    return this.track(this.requests, 'q:', request.requestId, issuedMs);
  }

  private checkResponse(requestId: string): KernelGuardVerdict {
    if (requestId === '') return ACCEPT;
    return this.track(this.responses, 'r:', requestId, this.nowMs());
  }

  private track(cache: Map<string, number>, kind: string, id: string, value: number): KernelGuardVerdict {
    const key = kind + id;
    if (cache.has(id) || this.inFlight.has(key)) return { ok: false, reason: 'replay' };
    this.inFlight.add(key);
    return {
      ok: true,
      commit: () => {
        this.inFlight.delete(key);
        cache.delete(id);
        cache.set(id, value);
        while (cache.size > Math.max(1, this.cacheSize)) {
          const first = cache.keys().next();
          if (first.done === true) break;
          cache.delete(first.value);
        }
      },
      release: () => {
        this.inFlight.delete(key);
      },
    };
  }

  /** Sizes of the request and response caches (for tests and metrics). */
  get sizes(): { requests: number; responses: number } {
    return { requests: this.requests.size, responses: this.responses.size };
  }
}
