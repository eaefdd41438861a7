import type { SeedSlot } from '@esper/core';
import { GraphBuilder, attr, initParameters, softmaxCrossEntropy, type ParameterSpec, type Tensor } from '@esper/onnx';
import type { ClassifierHost } from './classifier.js';

/** Options of {@link mlpHost}. */
export interface MlpHostOptions {
  /** Values per sample (784 for MNIST). */
  readonly features: number;
  /** Width of each hidden layer, input side first. Default `[128, 128]`. */
  readonly hidden?: readonly number[];
  /** Number of classes. */
  readonly classes: number;
  /** Seed of the parameter initialisation (each parameter's values depend on it and its name). */
  readonly seed: number;
}

/**
 * The default host: an MLP `features → hidden… → classes` with ReLU after every hidden layer,
 * softmax cross-entropy on integer labels. Each hidden layer's post-ReLU activation is a seed
 * slot, `hidden1`, `hidden2`, … (depth 1, 2, …), where a seed may attach. Parameters
 * `host/fc<i>.w` (`[in, out]`, Kaiming uniform) and `host/fc<i>.b` (zeros); the output layer's
 * weight is Xavier uniform.
 */
export function mlpHost(options: MlpHostOptions): ClassifierHost {
  const hidden = options.hidden ?? [128, 128];
  const widths = [options.features, ...hidden, options.classes];
  const specs: ParameterSpec[] = [];
  for (let i = 1; i < widths.length; i++) {
    const last = i === widths.length - 1;
    specs.push(
      { name: `host/fc${i}.w`, dims: [widths[i - 1] as number, widths[i] as number], init: last ? { kind: 'xavier' } : { kind: 'kaiming' } },
      { name: `host/fc${i}.b`, dims: [widths[i] as number], init: { kind: 'zeros' } },
    );
  }
  const params = initParameters(specs, options.seed);

  const g = new GraphBuilder('tolaria-mlp');
  const x = g.input('x', 'float32', ['batch', options.features]);
  const labels = g.input('labels', 'int64', ['batch']);
  const slots: SeedSlot[] = [];
  let h: Tensor = x;
  for (let i = 1; i < widths.length; i++) {
    const last = i === widths.length - 1;
    const input = h;
    h = g.scope(`fc${i}`, () => {
      const z = input.matmul(g.param(`host/fc${i}.w`, params.get(`host/fc${i}.w`))).add(g.param(`host/fc${i}.b`, params.get(`host/fc${i}.b`)));
      return last ? z : z.relu();
    });
    if (!last) slots.push({ id: `hidden${i}`, tensor: h.name, features: widths[i] as number, depth: i });
  }
  const logits = h;
  g.output(logits, 'logits');
  g.output(softmaxCrossEntropy(logits, labels), 'loss');
  // correct = Σ [argmax(logits) == label], as float32 so it sums like the loss.
  const predicted = g.op1('ArgMax', [logits], { axis: attr.int(1), keepdims: attr.int(0) }, { dtype: 'int64', shape: ['batch'] }, 'ArgMax');
  const hit = g.op1('Equal', [predicted, labels], {}, { dtype: 'bool', shape: ['batch'] }, 'Equal');
  g.output(hit.cast('float32').sum(undefined, { keepDims: false }), 'correct');

  return {
    graph: g.build(),
    slots,
    loss: 'loss',
    metrics: ['logits', 'correct'],
    inputs: { features: 'x', labels: 'labels' },
    logits: 'logits',
    correct: 'correct',
    features: options.features,
    classes: options.classes,
    parameters: specs.map((s) => s.name),
  };
}
