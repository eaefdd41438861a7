import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { BusMessageType, KernelArtifactReadySchema, KernelPrefetchRequestSchema } from '../leyline/index.js';
import { KernelGuard } from './kernel-guard.js';

const NOW = 1_767_225_600_000;
const req = (id: string, issuedMs?: number): Uint8Array =>
  toBinary(
    KernelPrefetchRequestSchema,
    create(KernelPrefetchRequestSchema, { requestId: id, ...(issuedMs !== undefined ? { issuedAt: timestampFromMs(issuedMs) } : {}) }),
  );

function accept(guard: KernelGuard, type: BusMessageType, bytes: Uint8Array): string {
  const verdict = guard.check(type, bytes);
  if (!verdict.ok) return verdict.reason;
  verdict.commit();
  return 'ok';
}

describe('KernelGuard freshness and replay', () => {
  const R = BusMessageType.KERNEL_PREFETCH_REQUEST;

  it('the window edge is fresh; one ms older is stale; unset is stale; future is accepted', () => {
    let now = NOW;
    const guard = new KernelGuard(() => now, 1_000, 16);
    expect(accept(guard, R, req('edge', NOW - 1_000))).toBe('ok');
    expect(accept(guard, R, req('old', NOW - 1_001))).toBe('stale');
    expect(accept(guard, R, req('unset'))).toBe('stale');
    expect(accept(guard, R, req('future', NOW + 3_600_000))).toBe('ok');
    now += 5;
    expect(accept(guard, R, req('future', NOW + 3_600_000))).toBe('replay');
  });

  it('a window of 0 disables the age check (unset timestamps stay stale)', () => {
    const guard = new KernelGuard(() => NOW, 0, 16);
    expect(accept(guard, R, req('ancient', 1_000))).toBe('ok');
    expect(accept(guard, R, req('unset'))).toBe('stale');
  });

  it('cache eviction at capacity lets the oldest request id through again', () => {
    const guard = new KernelGuard(() => NOW, 60_000, 2);
    expect(accept(guard, R, req('a', NOW))).toBe('ok');
    expect(accept(guard, R, req('b', NOW))).toBe('ok');
    expect(accept(guard, R, req('a', NOW))).toBe('replay');
    expect(accept(guard, R, req('c', NOW))).toBe('ok');
    expect(accept(guard, R, req('a', NOW))).toBe('ok');
  });

  it('ids age out of the request cache with the window', () => {
    let now = NOW;
    const guard = new KernelGuard(() => now, 1_000, 16);
    expect(accept(guard, R, req('x', now))).toBe('ok');
    now += 2_000;
    expect(accept(guard, R, req('y', now))).toBe('ok');
    expect(guard.sizes.requests).toBe(1);
  });

  it('ids are remembered only on commit; in-flight duplicates are replays; release forgets them', () => {
    const guard = new KernelGuard(() => NOW, 60_000, 16);
    const first = guard.check(R, req('r', NOW));
    expect(first.ok).toBe(true);
    expect(guard.check(R, req('r', NOW))).toEqual({ ok: false, reason: 'replay' });
    if (first.ok) first.release();
    expect(accept(guard, R, req('r', NOW))).toBe('ok');
  });

  it('ready/error: empty request id is accepted untracked; repeats are replays', () => {
    const guard = new KernelGuard(() => NOW, 60_000, 16);
    const ready = (id: string) => toBinary(KernelArtifactReadySchema, create(KernelArtifactReadySchema, { requestId: id }));
    const T = BusMessageType.KERNEL_PREFETCH_READY;
    expect(accept(guard, T, ready(''))).toBe('ok');
    expect(accept(guard, T, ready(''))).toBe('ok');
    expect(accept(guard, T, ready('k'))).toBe('ok');
    expect(accept(guard, T, ready('k'))).toBe('replay');
    expect(accept(guard, BusMessageType.SYSTEM_STATE, new Uint8Array())).toBe('ok');
  });
});
