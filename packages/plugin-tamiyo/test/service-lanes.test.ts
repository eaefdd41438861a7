// OrderedLanes: per-key order, the concurrency bound, admission backpressure and closing.
import { describe, expect, it } from 'vitest';
import { OrderedLanes } from '../src/index.js';

/** A lane whose items finish when the test says so. */
function harness(concurrency: number, maxQueued: number) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const lanes = new OrderedLanes<string>(
    (key, item) =>
      new Promise<void>((resolve) => {
        started.push(`${key}:${item}`);
        finish.set(`${key}:${item}`, resolve);
      }),
    concurrency,
    maxQueued,
  );
  const done = async (id: string) => {
    finish.get(id)!();
    await new Promise((r) => setImmediate(r));
  };
  return { lanes, started, done };
}

describe('OrderedLanes', () => {
  it('runs one key in order, keys side by side up to the bound, taking turns', async () => {
    const { lanes, started, done } = harness(2, 100);
    for (const [key, item] of [['a', '1'], ['a', '2'], ['b', '1'], ['c', '1'], ['b', '2']] as const) await lanes.admit(key, item);
    expect(started).toEqual(['a:1', 'b:1']);
    expect(lanes.pending).toBe(5);
    await done('a:1');
    // c waited longer than a's next item: c goes first.
    expect(started).toEqual(['a:1', 'b:1', 'c:1']);
    await done('b:1');
    expect(started).toEqual(['a:1', 'b:1', 'c:1', 'a:2']);
    await done('c:1');
    expect(started.at(-1)).toBe('b:2');
    await done('a:2');
    await done('b:2');
    expect(lanes.pending).toBe(0);
    await lanes.idle();
  });

  it('waits for room beyond maxQueued, and closing rejects the waiting admissions', async () => {
    const { lanes, started, done } = harness(1, 2);
    await lanes.admit('a', '1');
    await lanes.admit('b', '1');
    let third = false;
    const waiting = lanes.admit('c', '1').then(() => (third = true));
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    await done('a:1');
    await waiting;
    expect(third).toBe(true);
    const refused = lanes.admit('d', '1');
    lanes.close(new Error('stopping'));
    await expect(refused).rejects.toThrow('stopping');
    await expect(lanes.admit('e', '1')).rejects.toThrow('stopping');
    // What was admitted still runs.
    await done('b:1');
    await done('c:1');
    expect(started).toEqual(['a:1', 'b:1', 'c:1']);
    await lanes.idle();
  });
});
