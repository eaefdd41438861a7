// ifElse and GraphBuilder.subgraph: the If the non-finite guard and the Conv weight gradient use.
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, OnnxGraphError, OnnxRuntime, f32, graphDigest, ifElse, outerReferences, parseModel, serializeModel, tensor, toNumbers } from '../src/index.js';

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

describe('ifElse', () => {
  it('runs only the chosen branch, which reads values of the enclosing graph; outer values returned as they are get an Identity', async () => {
    const g = new GraphBuilder('if');
    const c = g.input('c', 'bool', []);
    const x = g.input('x', 'float32', [3]);
    const y = x.mul(2);
    const [a, b] = ifElse(c, () => [y.add(1), x], () => [x, x]);
    g.output(a!, 'a');
    g.output(b!, 'b');
    const graph = g.build();
    const node = graph.nodes.find((n) => n.opType === 'If')!;
    const then = (node.attributes.then_branch as { value: typeof graph }).value;
    expect(outerReferences(then)).toContain(y.name);
    expect(outerReferences(then)).toContain('x');
    expect(then.nodes.map((n) => n.opType)).toEqual(['Add', 'Identity']);
    // Serializes and parses back to the same model.
    expect(graphDigest(parseModel(serializeModel(graph)))).toBe(graphDigest(graph));
    const s = await rt.createSession(graph);
    const on = await s.run({ c: tensor('bool', [], Uint8Array.of(1)), x: f32([3], [1, 2, 3]) });
    expect(toNumbers(on.a!)).toEqual([3, 5, 7]);
    const off = await s.run({ c: tensor('bool', [], Uint8Array.of(0)), x: f32([3], [1, 2, 3]) });
    expect(toNumbers(off.a!)).toEqual([1, 2, 3]);
    expect(toNumbers(off.b!)).toEqual([1, 2, 3]);
    await s.dispose();
  });

  it('checks its branches', () => {
    const g = new GraphBuilder();
    const c = g.input('c', 'bool', []);
    const x = g.input('x', 'float32', [3]);
    expect(() => ifElse(x, () => [x], () => [x])).toThrow(/must be bool/);
    expect(() => ifElse(c, () => [x], () => [x, x])).toThrow(OnnxGraphError);
    expect(() => ifElse(c, () => [x], () => [x.cast('float64')])).toThrow(/float32 in one branch and float64/);
  });
});
