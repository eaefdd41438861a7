// The example end to end: training through stepMany lowers the loss, the evaluation graph fed
// from the checkpoint classifies held-out points, and a fixed seed gives the same run twice.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainBlobs } from './train.js';

describe('examples/train-mlp', () => {
  it('trains to > 90 % held-out accuracy, one session.run per epoch, deterministically', async () => {
    const lines: string[] = [];
    const a = await trainBlobs({ epochs: 6, dir: mkdtempSync(join(tmpdir(), 'esper-ex-')), log: (l) => lines.push(l) });
    expect(a.epochLosses[0]!).toBeGreaterThan(0.4);
    expect(a.epochLosses.at(-1)!).toBeLessThan(0.25);
    expect(a.accuracy).toBeGreaterThan(0.9);
    expect(lines[0]).toMatch(/^epoch 1: 16 steps in one run/);
    const b = await trainBlobs({ epochs: 6 });
    expect(b.epochLosses).toEqual(a.epochLosses);
    expect(b.accuracy).toBe(a.accuracy);
  });
});
