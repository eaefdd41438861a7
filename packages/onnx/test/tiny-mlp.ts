// The two-layer MLP the training tests share: input → hidden (ReLU) → classes, softmax
// cross-entropy on integer labels, optionally a gradient gate (a `gate` input) after the
// hidden layer. Outputs `logits` and `loss`.
import { GraphBuilder, gradientGate, initParameters, softmaxCrossEntropy, type Graph, type ParameterSet } from '../src/index.js';

/** Parameters `fc1.w [inputs, hidden]`, `fc1.b`, `fc2.w [hidden, classes]`, `fc2.b`, seeded. */
export function tinyMlpParameters(inputs: number, hidden: number, classes: number, seed: number): ParameterSet {
  return initParameters([
    { name: 'fc1.w', dims: [inputs, hidden], init: { kind: 'kaiming' } },
    { name: 'fc1.b', dims: [hidden], init: { kind: 'zeros' } },
    { name: 'fc2.w', dims: [hidden, classes], init: { kind: 'xavier' } },
    { name: 'fc2.b', dims: [classes], init: { kind: 'zeros' } },
  ], seed);
}

/** The forward graph over `params` (input width read from `fc1.w`). */
export function tinyMlpForward(params: ParameterSet, gate = false): Graph {
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['batch', params.get('fc1.w').dims[0] as number]);
  const y = g.input('labels', 'int64', ['batch']);
  let h = x.matmul(g.param('fc1.w', params.get('fc1.w'))).add(g.param('fc1.b', params.get('fc1.b'))).relu();
  if (gate) h = gradientGate(h, g.input('gate', 'float32', []));
  const logits = h.matmul(g.param('fc2.w', params.get('fc2.w'))).add(g.param('fc2.b', params.get('fc2.b')));
  g.output(logits, 'logits');
  g.output(softmaxCrossEntropy(logits, y), 'loss');
  return g.build();
}
