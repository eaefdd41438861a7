import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, OnnxGraphError, OnnxRunError, OnnxRuntime, Trainer, attr, buildMultiStepGraph, buildTrainingGraph, f32, i64,
  parseModel, serializeModel, stackBatches, tensor, toNumbers, type TensorData,
} from '../src/index.js';
import { Prng } from '../src/params/prng.js';
import { protoc } from './protoc.js';
import { tinyMlpForward, tinyMlpParameters } from './tiny-mlp.js';

const protoDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'proto');

const rt = new OnnxRuntime({ defaults: { intraOpThreads: 1 } });
afterAll(() => rt.dispose());

const params0 = () => tinyMlpParameters(4, 8, 3, 11);
const forward = tinyMlpForward;

function batches(seed: number, count: number, size = 6): { x: TensorData; labels: TensorData }[] {
  const p = new Prng(seed);
  return Array.from({ length: count }, () => ({
    x: f32([size, 4], Array.from({ length: size * 4 }, () => p.normal())),
    labels: i64([size], Array.from({ length: size }, () => Math.floor(p.next() * 3))),
  }));
}

describe('multi-step training: K optimizer steps in one session.run', () => {
  it('gives exactly the values of K single steps: losses, metrics, gradient norms, parameters, state, step count', async () => {
    const params = params0();
    const spec = buildTrainingGraph(forward(params), {
      loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 0.05 }, metrics: ['logits'], clipGradNorm: 1, groups: { fc1: ['fc1.w', 'fc1.b'] },
    });
    const data = batches(3, 7);
    const lrs = [0.05, 0.04, 0.03, 0.02, 0.01, 0.01, 0.005];
    const single = await Trainer.create(rt, spec, params);
    const expected = [];
    for (const [i, b] of data.entries()) expected.push(await single.step(b, lrs[i]!));
    const multi = await Trainer.create(rt, spec, params);
    // 3 steps, then 4 more: the step number and optimizer state carry across runs.
    const got = [...(await multi.stepMany(stackBatches(data.slice(0, 3)), lrs.slice(0, 3))), ...(await multi.stepMany(stackBatches(data.slice(3)), lrs.slice(3)))];
    expect(got.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(multi.stepCount).toBe(7);
    for (const [i, r] of got.entries()) {
      const e = expected[i]!;
      expect(r.loss).toBe(e.loss);
      expect(r.gradNorms).toEqual(e.gradNorms);
      expect(r.metrics.logits!.dims).toEqual([6, 3]);
      expect(Array.from(r.metrics.logits!.data as Float32Array)).toEqual(Array.from(e.metrics.logits!.data as Float32Array));
    }
    for (const [name, t] of single.parameters) expect(Array.from(multi.parameters.get(name).data)).toEqual(Array.from(t.data));
    // Mixing the two paths continues from the same state.
    const next = batches(4, 1)[0]!;
    const a = await single.step(next, 0.01);
    const [b] = await multi.stepMany(stackBatches([next]), 0.01);
    expect(b!.loss).toBe(a.loss);
    expect(b!.step).toBe(8);
    await single.dispose();
    await multi.dispose();
  });

  it('feeds shared inputs once to every step, and leaves frozen parameters alone', async () => {
    const params = params0();
    const spec = buildTrainingGraph(forward(params, true), { loss: 'loss', optimizer: { kind: 'sgd', momentum: 0.9 }, trainable: ['fc1.w', 'fc1.b', 'fc2.w'] });
    const data = batches(5, 4);
    const gate = { gate: tensor('float32', [], Float32Array.of(0)) };
    const single = await Trainer.create(rt, spec, params);
    const expected = [];
    for (const b of data) expected.push(await single.step({ ...b, ...gate }, 0.1));
    const multi = await Trainer.create(rt, spec, params);
    const got = await multi.stepMany(stackBatches(data), 0.1, gate);
    expect(got.map((r) => r.loss)).toEqual(expected.map((r) => r.loss));
    // Gate 0 isolates fc1; fc2.b is frozen.
    expect(got.every((r) => r.gradNorms['fc1.w'] === 0)).toBe(true);
    expect(multi.parameters.get('fc1.w').data).toEqual(params.get('fc1.w').data);
    expect(multi.parameters.get('fc2.b').data).toEqual(params.get('fc2.b').data);
    expect(multi.parameters.get('fc2.w').data).toEqual(single.parameters.get('fc2.w').data);
    // The same trainer can also run with the gate stacked (one value per step): another graph.
    const stackedGate = await multi.stepMany({ ...stackBatches(data.slice(0, 2)), gate: f32([2], [1, 1]) }, 0.1);
    expect(stackedGate[0]!.gradNorms['fc1.w']).toBeGreaterThan(0);
    await single.dispose();
    await multi.dispose();
  });

  it('rejects feeds that do not describe K steps, naming the input', async () => {
    const params = params0();
    const spec = buildTrainingGraph(forward(params), { loss: 'loss', optimizer: { kind: 'sgd' } });
    const t = await Trainer.create(rt, spec, params);
    const [a, b] = batches(6, 2) as [{ x: TensorData; labels: TensorData }, { x: TensorData; labels: TensorData }];
    const stacked = stackBatches([a, b]);
    await expect(t.stepMany({ x: stacked.x! }, 0.1)).rejects.toThrow(/stacked input "labels" is missing/);
    await expect(t.stepMany({ ...stacked, labels: stackBatches([a]).labels! }, 0.1)).rejects.toThrow(/"labels" has 1 steps.*"x" has 2/);
    await expect(t.stepMany(stacked, [0.1, 0.1, 0.1])).rejects.toThrow(OnnxRunError);
    await expect(t.stepMany({ ...stacked, nope: stacked.x! }, 0.1)).rejects.toThrow(/"nope" is not a data input/);
    await expect(t.stepMany(stacked, 0.1, { x: a.x })).rejects.toThrow(/both stacked and shared/);
    expect(t.stepCount).toBe(0);
    expect(() => stackBatches([a, { x: a.x, labels: i64([5], [0, 1, 2, 0, 1]) }])).toThrow(/"labels" of batch 1 is int64\[5\]/);
    expect(() => stackBatches([])).toThrow(OnnxGraphError);
    expect(() => buildMultiStepGraph(spec, { shared: ['fc1.w'] })).toThrow(/not a data input/);
    await t.dispose();
    await expect(t.stepMany(stacked, 0.1)).rejects.toThrow(/disposed/);
  });

  it('serializes the Scan body as a graph attribute and parses it back unchanged', () => {
    const params = params0();
    const multi = buildMultiStepGraph(buildTrainingGraph(forward(params), { loss: 'loss', optimizer: { kind: 'adam' } }));
    const bytes = serializeModel(multi.graph);
    const back = parseModel(bytes);
    expect(serializeModel(back)).toEqual(bytes);
    const scan = back.nodes.find((n) => n.opType === 'Scan')!;
    // Per-step inputs (x, labels, lr) are scanned: ONNX Runtime hands each step a view of its
    // slice instead of a copy.
    expect(scan.attributes.num_scan_inputs).toEqual({ type: 'int', value: 3 });
    expect(scan.inputs.slice(-3)).toEqual(['x', 'labels', 'lr']);
    const body = scan.attributes.body!;
    expect(body.type).toBe('graph');
    if (body.type === 'graph') {
      // state first (parameters, optimizer state, step number), then one slice per scanned input
      expect(body.value.inputs.slice(-4).map((i) => [i.name, i.dtype])).toEqual([['k/step', 'float32'], ['k/x', 'float32'], ['k/labels', 'int64'], ['k/lr', 'float32']]);
      expect(body.value.nodes.length).toBeGreaterThan(20);
    }
  });

  it('writes a Scan body that protoc decodes as a GRAPH attribute', () => {
    const params = params0();
    const multi = buildMultiStepGraph(buildTrainingGraph(forward(params), { loss: 'loss', optimizer: { kind: 'sgd' } }));
    const text = execFileSync(protoc.command, [`-I${protoDir}`, '--decode=onnx.ModelProto', join(protoDir, 'onnx.proto')], { input: serializeModel(multi.graph) }).toString();
    expect(text).toMatch(/op_type: "Scan"/);
    expect(text).toMatch(/name: "num_scan_inputs"\s+i: 3/);
    expect(text).toMatch(/name: "body"/);
    expect(text).toMatch(/type: GRAPH/);
    expect(text).toMatch(/\bg \{\s+node \{/);
    expect(text).toMatch(/input: "k\/step"/);
  });
});

describe('graph attributes in the builder', () => {
  it('prune keeps nodes that only a subgraph reads from the outer scope', async () => {
    const g = new GraphBuilder('outer');
    const x = g.input('x', 'float32', [2]);
    const doubled = x.add(x); // read only inside the Loop body
    g.output(x, 'x_out');
    const trips = g.constant(i64([], [3]), 'trips');
    const acc = g.constant(f32([2], [0, 0]), 'acc0');
    const body = {
      name: 'body', opset: g.opset,
      inputs: [{ name: 'i', dtype: 'int64', shape: [] }, { name: 'c', dtype: 'bool', shape: [] }, { name: 'acc', dtype: 'float32', shape: [2] }],
      outputs: [{ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'acc_out', dtype: 'float32', shape: [2] }],
      nodes: [
        { name: 'n0', opType: 'Identity', domain: '', inputs: ['c'], outputs: ['c_out'], attributes: {} },
        { name: 'n1', opType: 'Add', domain: '', inputs: ['acc', doubled.name], outputs: ['acc_out'], attributes: {} },
      ],
      initializers: new Map(), parameters: new Map(), valueInfo: new Map(), metadata: new Map(),
    } as const;
    const [sum] = g.op('Loop', [trips, null, acc], { body: attr.graph(body as never) }, [{ dtype: 'float32', shape: [2] }]);
    g.output(sum!, 'sum');
    const graph = g.build({ prune: true });
    expect(graph.nodes.some((n) => n.outputs.includes(doubled.name))).toBe(true);
    const s = await rt.createSession(graph);
    const r = await s.run({ x: f32([2], [1, -2]) });
    expect(toNumbers(r.sum!)).toEqual([6, -12]);
    await s.dispose();
  });
});
