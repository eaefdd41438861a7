import { describe, expect, it } from 'vitest';
import { withDeadline } from './deadline.js';

describe('withDeadline', () => {
  it('returns the value of a call that finishes in time', async () => {
    const r = await withDeadline(async () => 7, 1_000);
    expect(r).toMatchObject({ status: 'ok', value: 7 });
  });

  it('gives up at the deadline on a call that never settles, and aborts its signal', async () => {
    let seen: AbortSignal | undefined;
    const t0 = performance.now();
    const r = await withDeadline((signal) => {
      seen = signal;
      return new Promise<never>(() => {});
    }, 50);
    expect(r.status).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(seen?.aborted).toBe(true);
  });

  it('reports a rejection or a synchronous throw as an error, and discards a late result', async () => {
    expect(await withDeadline(() => Promise.reject(new Error('no')), 1_000)).toMatchObject({ status: 'error', error: new Error('no') });
    expect(await withDeadline(() => {
      throw new Error('sync');
    }, 1_000)).toMatchObject({ status: 'error' });
    let late = false;
    const r = await withDeadline(() => new Promise((resolve) => setTimeout(() => resolve((late = true)), 80)), 20);
    expect(r.status).toBe('timeout');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(late).toBe(true);
  });

  it('ends the wait when the outer signal aborts', async () => {
    const outer = new AbortController();
    setTimeout(() => outer.abort(), 20);
    const r = await withDeadline(() => new Promise<never>(() => {}), 10_000, outer.signal);
    expect(r.status).toBe('timeout');
    const already = await withDeadline(() => new Promise<never>(() => {}), 10_000, AbortSignal.abort());
    expect(already.status).toBe('timeout');
  });
});
