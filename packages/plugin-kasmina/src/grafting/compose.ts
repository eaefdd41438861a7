import type { ComposedModel, HostModel, SeedSlot } from '@esper/core';
import { GRADIENT_GATES_METADATA_KEY, graft, type Graph } from '@esper/onnx';
import { controlInputNames } from '../blending/controls.js';
import { seedPrefix, type SeedGraph } from './seed-graph.js';

/** A seed to splice into the host: its slot and its built subgraph. */
export interface GraftedSeed {
  readonly seedId: string;
  readonly slot: SeedSlot;
  readonly seed: SeedGraph;
  /** A paused seed: its parameters are listed as frozen. */
  readonly paused?: boolean;
}

/** The gradient-gate table of a graph's metadata (gate output → gate tensor). */
export function gateTable(graph: Graph): Record<string, string> {
  const raw = graph.metadata.get(GRADIENT_GATES_METADATA_KEY);
  return raw === undefined ? {} : (JSON.parse(raw) as Record<string, string>);
}

/**
 * The composed model: `host.graph` with each seed's subgraph grafted at its slot tensor (in the
 * order given), under `seed/<id>/…`. Its inputs are the host's plus each seed's control
 * inputs; its outputs are the host's; a paused seed's parameters are `frozenParameters`.
 * Neither argument changes.
 */
export function composeModel(host: HostModel, seeds: readonly GraftedSeed[], topologyVersion: number): ComposedModel {
  let graph = host.graph;
  const controlInputs: string[] = [];
  const seedParameters: Record<string, readonly string[]> = {};
  const frozenParameters: string[] = [];
  for (const { seedId, slot, seed, paused } of seeds) {
    graph = graft(graph, seed.graph, { at: slot.tensor, prefix: seedPrefix(seedId), input: 'h', output: 'out' });
    controlInputs.push(...controlInputNames(seedId));
    seedParameters[seedId] = [...seed.parameterNames];
    if (paused === true) frozenParameters.push(...seed.parameterNames);
  }
  return Object.freeze({
    graph,
    topologyVersion,
    controlInputs: Object.freeze(controlInputs),
    seedParameters: Object.freeze(seedParameters),
    ...(frozenParameters.length > 0 ? { frozenParameters: Object.freeze(frozenParameters) } : {}),
  });
}
