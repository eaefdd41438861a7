// Exports the benchmark MLP's training graph (and diagnostics) as .onnx files for device runs.
// Usage (repo root): node --conditions=@esper/source --import tsx packages/onnx/bench/export-mlp-graphs.ts <dir> [name]
// Writes <dir>/<name>.onnx (the training step), <dir>/fwdbwd.onnx (forward + gradients, no
// optimizer), <dir>/<name>-multi.onnx (the multi-step graph: K steps per run, K from the feeds)
// and <dir>/ceiling.onnx (the step's eight matmuls) for bench/ort_step.py.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { GraphBuilder, buildMultiStepGraph, buildTrainingGraph, serializeModel } from '../src/index.js';
import { gradients } from '../src/autodiff/gradients.js';
import { MLP_DIMS, mlpForward, mlpParameters } from './mlp-model.js';

const out = process.argv[2] ?? '.device/onnx';
const tag = process.argv[3] ?? 'mlp';

mkdirSync(out, { recursive: true });
const B = 256;
const dims = MLP_DIMS;
const params = mlpParameters(1);
const specs = [...params].map(([name]) => ({ name }));
const forward = () => mlpForward(params);
const spec = buildTrainingGraph(forward().build(), { loss: 'loss', optimizer: { kind: 'adam' } });
writeFileSync(`${out}/${tag}.onnx`, serializeModel(spec.graph));
writeFileSync(`${out}/${tag}-multi.onnx`, serializeModel(buildMultiStepGraph(spec).graph));
console.log(tag, 'inputs', spec.graph.inputs.map((i) => `${i.name}:${i.dtype}[${i.shape}]`).join(' '));
if (!existsSync(`${out}/fwdbwd.onnx`)) {
  // forward + gradients only (no optimizer): what the optimizer costs on top.
  const g = forward();
  const built = g.build();
  const b = GraphBuilder.from({ ...built, outputs: built.outputs });
  const ps = specs.map((s) => b.tensor(s.name));
  const grads = gradients(b, b.tensor('loss'), ps);
  grads.forEach((gr, i) => b.output(gr, `grad/${specs[i]!.name}`));
  const { withParameterInputs } = await import('../src/train/training-graph.js');
  writeFileSync(`${out}/fwdbwd.onnx`, serializeModel(withParameterInputs(b.build({ prune: true }))));
  // the 8 matmuls of a step as independent nodes
  const c = new GraphBuilder('ceiling');
  const shapes: [number, number, number][] = [];
  for (let i = 0; i < 3; i++) shapes.push([B, dims[i]!, dims[i + 1]!], [dims[i]!, B, dims[i + 1]!]);
  for (let i = 1; i < 3; i++) shapes.push([B, dims[i + 1]!, dims[i]!]);
  shapes.forEach(([m, k, n], i) => c.output(c.input(`a${i}`, 'float32', [m, k]).matmul(c.input(`b${i}`, 'float32', [k, n])), `c${i}`));
  writeFileSync(`${out}/ceiling.onnx`, serializeModel(c.build()));
}
