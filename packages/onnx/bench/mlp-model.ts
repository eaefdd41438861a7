// The benchmark MLP (784-512-512-10, ReLU, softmax cross-entropy), shared by train.bench.ts
// and export-mlp-graphs.ts so that Node and Python time exactly the same graph.
import { GraphBuilder, initParameters, softmaxCrossEntropy, type ParameterSet, type ParameterSpec, type Tensor } from '../src/index.js';

/** Layer widths of the benchmark MLP. */
export const MLP_DIMS = [784, 512, 512, 10] as const;

/** The MLP's parameters, Kaiming weights and zero biases, from a fixed seed. */
export function mlpParameters(seed = 1): ParameterSet {
  const specs: ParameterSpec[] = [];
  for (let i = 0; i < 3; i++) {
    specs.push({ name: `fc${i}.w`, dims: [MLP_DIMS[i]!, MLP_DIMS[i + 1]!], init: { kind: 'kaiming' } }, { name: `fc${i}.b`, dims: [MLP_DIMS[i + 1]!], init: { kind: 'zeros' } });
  }
  return initParameters(specs, seed);
}

/** The forward graph builder: inputs `x` [batch, 784] and `labels` [batch], output `loss`. */
export function mlpForward(params: ParameterSet): GraphBuilder {
  const g = new GraphBuilder('mlp');
  let h: Tensor = g.input('x', 'float32', ['batch', MLP_DIMS[0]]);
  const y = g.input('labels', 'int64', ['batch']);
  for (let i = 0; i < 3; i++) {
    h = h.matmul(g.param(`fc${i}.w`, params.get(`fc${i}.w`))).add(g.param(`fc${i}.b`, params.get(`fc${i}.b`)));
    if (i < 2) h = h.relu();
  }
  g.output(softmaxCrossEntropy(h, y), 'loss');
  return g;
}
