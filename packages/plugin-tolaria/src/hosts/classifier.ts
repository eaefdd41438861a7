import type { HostModel } from '@esper/core';
import type { Graph } from '@esper/onnx';

/**
 * A host model that classifies: the core `HostModel` plus the names the epoch loop feeds and
 * reads. Its graph takes a `[batch, features]` float32 input and `[batch]` int64 labels and
 * returns the mean softmax cross-entropy (`loss`), the logits and the number of correct
 * predictions in the batch (a float32 scalar), so accuracies need no logits copied out.
 */
export interface ClassifierHost extends HostModel {
  readonly graph: Graph;
  /** Graph input names of the batch. */
  readonly inputs: { readonly features: string; readonly labels: string };
  /** Output with the `[batch, classes]` logits. */
  readonly logits: string;
  /** Output with the count of correct predictions (arg-max of the logits equals the label). */
  readonly correct: string;
  /** Values per sample and classes, as the data set must have them. */
  readonly features: number;
  readonly classes: number;
  /** Names of the host's own parameters (every seed parameter is someone else's). */
  readonly parameters: readonly string[];
}
