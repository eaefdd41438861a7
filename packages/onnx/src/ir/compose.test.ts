import { describe, expect, it } from 'vitest';
import { OnnxGraphError, OnnxShapeError } from '../errors.js';
import { OnnxRuntime } from '../runtime/runtime.js';
import { attr } from './attr.js';
import { GraphBuilder } from './builder.js';
import type { Graph } from './graph.js';
import { graft } from './compose.js';
import { GRADIENT_GATES_METADATA_KEY, gradientGate, readGates } from '../autodiff/gate.js';
import { gradients } from '../autodiff/gradients.js';
import { f32, toNumbers } from './tensor-data.js';

// host: y = relu(x @ w) @ v ; seed: out = h + alpha * (h * 2)
function host() {
  const g = new GraphBuilder('host');
  const x = g.input('x', 'float32', ['batch', 2]);
  const w = g.param('w', f32([2, 2], [1, 0, 0, 1]));
  const v = g.param('v', f32([2, 1], [1, 1]));
  const h = g.scope('layer1', () => x.matmul(w).relu());
  g.output(h.matmul(v), 'y');
  return { graph: g.build(), h: h.name };
}
function seed() {
  const g = new GraphBuilder('seed');
  const h = g.input('h', 'float32', ['batch', 2]);
  const alpha = g.input('alpha', 'float32', []);
  const s = g.param('s', f32([2], [2, 2]));
  g.output(h.add(alpha.mul(h.mul(s))), 'out');
  return g.build();
}

describe('graft', () => {
  it('inserts a subgraph at a named tensor; consumers read its output', async () => {
    const { graph, h } = host();
    const grafted = graft(graph, seed(), { at: h, prefix: 'seed0' });
    expect(grafted.inputs.map((i) => i.name)).toEqual(['x', 'seed0/alpha']);
    expect(grafted.parameters.get('seed0/s')).toBe('initializer');
    const rt = new OnnxRuntime();
    const s = await rt.createSession(grafted);
    const x = f32([2, 2], [1, 2, -1, 3]);
    const run = async (alpha: number) => toNumbers((await s.run({ x, 'seed0/alpha': f32([], [alpha]) })).y!);
    expect(await run(0)).toEqual([3, 3]);
    // h = relu(x) = [[1,2],[0,3]]; out = h * (1 + 2 alpha); alpha 0.5 → 2h → sums 6, 6
    expect(await run(0.5)).toEqual([6, 6]);
    await rt.dispose();
  });

  it('grafts at a graph output, keeping the output name', async () => {
    const g = new GraphBuilder('host2');
    const x = g.input('x', 'float32', ['batch', 2]);
    g.output(x.relu(), 'feat');
    const grafted = graft(g.build(), seed(), { at: 'feat', prefix: 'sd', bind: {} });
    expect(grafted.outputs.map((o) => o.name)).toEqual(['feat']);
    const rt = new OnnxRuntime();
    const s = await rt.createSession(grafted);
    const out = await s.run({ x: f32([1, 2], [1, -1]), 'sd/alpha': f32([], [1]) });
    expect(toNumbers(out.feat!)).toEqual([3, 0]);
    await rt.dispose();
  });

  it('binds extra subgraph inputs to host tensors', async () => {
    const g = new GraphBuilder('host3');
    const x = g.input('x', 'float32', ['batch', 2]);
    g.input('gate', 'float32', []);
    const h = x.relu();
    g.output(h.sum([1], { keepDims: false }), 'y');
    const bound = graft(g.build(), seed(), { at: h.name, prefix: 's1', bind: { alpha: 'gate' } });
    expect(bound.inputs.map((i) => i.name)).toEqual(['x', 'gate']);
    const rt = new OnnxRuntime();
    const s = await rt.createSession(bound);
    const out = await s.run({ x: f32([1, 2], [1, 2]), gate: f32([], [1]) });
    expect(toNumbers(out.y!)).toEqual([9]);
    await rt.dispose();
    expect(() => graft(bound, seed(), { at: 'x', prefix: 's2', bind: { alpha: 'x' } })).toThrow(OnnxShapeError);
  });

  it('reports unknown names, collisions and shape mismatches', () => {
    const { graph, h } = host();
    expect(() => graft(graph, seed(), { at: 'nope', prefix: 'p' })).toThrow(OnnxGraphError);
    const once = graft(graph, seed(), { at: h, prefix: 'p' });
    expect(() => graft(once, seed(), { at: 'x', prefix: 'p' })).toThrow(/choose another prefix/);
    const wide = new GraphBuilder('wide');
    wide.output(wide.input('h', 'float32', ['batch', 3]).relu(), 'o');
    expect(() => graft(graph, wide.build(), { at: h, prefix: 'w' })).toThrow(OnnxShapeError);
  });

  it('refuses graphs whose Loop/If bodies would need renaming it cannot follow', () => {
    const { graph, h } = host();
    const body = (reads: string): Graph => ({
      name: 'body', opset: graph.opset,
      inputs: [{ name: 'i', dtype: 'int64', shape: [] }, { name: 'c', dtype: 'bool', shape: [] }],
      outputs: [{ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'scan', dtype: 'float32', shape: null }],
      nodes: [
        { name: 'n0', opType: 'Identity', domain: '', inputs: ['c'], outputs: ['c_out'], attributes: {} },
        { name: 'n1', opType: 'Identity', domain: '', inputs: [reads], outputs: ['scan'], attributes: {} },
      ],
      initializers: new Map(), parameters: new Map(), valueInfo: new Map(), metadata: new Map(),
    });
    const withLoop = (g: Graph, reads: string): Graph => ({
      ...g,
      nodes: [...g.nodes, { name: 'loop', opType: 'Loop', domain: '', inputs: ['', ''], outputs: ['loop_scan'], attributes: { body: attr.graph(body(reads)) } }],
    });
    expect(() => graft(withLoop(graph, h), seed(), { at: h, prefix: 'p' })).toThrow(/read inside the body of Loop/);
    expect(() => graft(graph, withLoop(seed(), 'h'), { at: h, prefix: 'p' })).toThrow(/body graph/);
  });
  it("carries the subgraph's gradient gates under their new names, so a grafted stop-gradient still stops", async () => {
    const { graph, h } = host();
    const g = new GraphBuilder('gated-seed');
    const hin = g.input('h', 'float32', ['batch', 2]);
    const gate = g.input('gate', 'float32', []);
    const s = g.param('s', f32([2], [2, 2]));
    g.output(gradientGate(hin, gate).mul(s).add(hin), 'out');
    const grafted = graft(graph, g.build(), { at: h, prefix: 'seed0' });
    const table = readGates(grafted.metadata.get(GRADIENT_GATES_METADATA_KEY));
    const [[output, gateName]] = Object.entries(table) as [[string, string]];
    expect(output.startsWith('seed0/')).toBe(true);
    expect(gateName).toBe('seed0/gate');
    // d y / d w through the gated branch vanishes with gate 0: only the residual path is left.
    const b = GraphBuilder.from(grafted);
    const [dw] = gradients(b, b.tensor('y'), [b.tensor('w')]);
    b.output(dw!, 'dw');
    const rt = new OnnxRuntime();
    const sess = await rt.createSession(b.build());
    const x = f32([1, 2], [1, 2]);
    const run = async (gv: number) => toNumbers((await sess.run({ x, 'seed0/gate': f32([], [gv]) })).dw!);
    const open = await run(1);
    const closed = await run(0);
    // y = sum over units of (relu(xw)·(1 + gate-path·2)); the gated path triples the gradient.
    expect(open).toEqual(closed.map((v) => v * 3));
    await rt.dispose();
  });
});
