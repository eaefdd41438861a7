import { describe, expect, it } from 'vitest';
import { drainAtOnce, drainInSlices } from './slices.js';

function* work(sizes: readonly number[], log: string[]): Generator<number, string, void> {
  for (const [i, n] of sizes.entries()) {
    log.push(`step${i}`);
    yield n;
  }
  return 'done';
}

describe('drainInSlices', () => {
  it('awaits the yield each time about chunkBytes of work is done, and returns the same result as drainAtOnce', async () => {
    const log: string[] = [];
    const result = await drainInSlices(work([3, 3, 3, 1, 6], log), { chunkBytes: 5, yieldControl: async () => void log.push('yield') });
    expect(result).toBe('done');
    // 3+3 ≥ 5 → yield; 3+1 < 5; +6 ≥ 5 → yield.
    expect(log).toEqual(['step0', 'step1', 'yield', 'step2', 'step3', 'step4', 'yield']);
    const once: string[] = [];
    expect(drainAtOnce(work([3, 3, 3, 1, 6], once))).toBe('done');
    expect(once).toEqual(log.filter((l) => l !== 'yield'));
  });

  it('lets queued work run between slices by default (setImmediate)', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('other'));
    const p = drainInSlices(work([1, 1], []), { chunkBytes: 1 }).then(() => order.push('drained'));
    await p;
    expect(order).toEqual(['other', 'drained']);
  });
});
