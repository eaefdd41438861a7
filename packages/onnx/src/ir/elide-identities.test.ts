import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder.js';
import { elideOutputIdentities } from './elide-identities.js';
import { f32, toNumbers } from './tensor-data.js';
import { OnnxRuntime } from '../runtime/runtime.js';

function model() {
  const g = new GraphBuilder('m');
  const x = g.input('x', 'float32', [2]);
  const w = g.param('w', f32([2], [2, 3]));
  const h = x.mul(w); // intermediate, read again below and named as an output
  g.output(h, 'next/h');
  g.output(h, 'alias/h'); // a second name for the same value keeps its Identity
  g.output(h.add(x), 'y');
  g.output(x, 'x-copy'); // an input keeps its Identity
  return g.build();
}

describe('elideOutputIdentities', () => {
  it('lets the producer write an output name directly, keeping identities it cannot remove', async () => {
    const before = model();
    const after = elideOutputIdentities(before);
    const identities = (g: typeof before) => g.nodes.filter((n) => n.opType === 'Identity').map((n) => n.outputs[0]);
    expect(identities(before)).toEqual(['next/h', 'alias/h', 'y', 'x-copy']);
    expect(identities(after)).toEqual(['alias/h', 'x-copy']);
    expect(after.nodes.find((n) => n.opType === 'Mul')!.outputs).toEqual(['next/h']);
    expect(after.nodes.find((n) => n.opType === 'Add')!.inputs).toContain('next/h');

    const rt = new OnnxRuntime();
    const feeds = { x: f32([2], [1, -1]) };
    const a = await (await rt.createSession(before, { backends: ['cpu'], intraOpThreads: 1 })).run(feeds);
    const b = await (await rt.createSession(after, { backends: ['cpu'], intraOpThreads: 1 })).run(feeds);
    for (const name of ['next/h', 'alias/h', 'y', 'x-copy']) expect(toNumbers(b[name]!)).toEqual(toNumbers(a[name]!));
    expect(toNumbers(b['y']!)).toEqual([3, -4]);
    await rt.dispose();
  });

  it('returns the same graph when there is nothing to remove', () => {
    const g = new GraphBuilder('n');
    g.output(g.input('x', 'float32', [1]).relu());
    const graph = g.build();
    expect(elideOutputIdentities(graph)).toBe(graph);
  });
});
