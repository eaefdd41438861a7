import { createHash } from 'node:crypto';
import type { Graph } from './graph.js';
import { serializeModel, type SerializeOptions } from './serialize.js';

/** Hex sha256 of model bytes: the key the session cache uses. */
export function modelDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Hex sha256 of a graph's serialized model. Serialization is deterministic, so two graphs with
 * the same structure, names and initializer values have the same digest.
 */
export function graphDigest(graph: Graph, options: SerializeOptions = {}): string {
  return modelDigest(serializeModel(graph, options));
}
