import { toNumbers, type OnnxSession, type ParameterSet, type TensorData } from '@esper/onnx';
import { evaluationBatches } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import type { ClassifierHost } from '../hosts/classifier.js';

/** Loss and accuracy of a model on a data set. */
export interface Evaluation {
  /** Mean softmax cross-entropy per sample. */
  readonly loss: number;
  /** Correct predictions in percent (0–100). */
  readonly accuracyPct: number;
  readonly samples: number;
}

/**
 * Runs the forward-only graph over `data` in batches of `batchSize` with `parameters` and the
 * executor's control feeds (`controls`), and returns the sample-weighted mean loss and the
 * accuracy in percent.
 */
export async function evaluate(
  session: OnnxSession,
  host: ClassifierHost,
  parameters: ParameterSet,
  controls: Readonly<Record<string, TensorData>>,
  data: Dataset,
  batchSize: number,
): Promise<Evaluation> {
  const shared = { ...controls, ...parameters.toFeeds() };
  let lossSum = 0;
  let correct = 0;
  let samples = 0;
  for (const batch of evaluationBatches(data, batchSize)) {
    const out = await session.run({ ...shared, [host.inputs.features]: batch.inputs, [host.inputs.labels]: batch.labels }, [host.loss, host.correct]);
    lossSum += (toNumbers(out[host.loss] as TensorData)[0] as number) * batch.samples;
    correct += toNumbers(out[host.correct] as TensorData)[0] as number;
    samples += batch.samples;
  }
  return { loss: lossSum / samples, accuracyPct: (100 * correct) / samples, samples };
}
