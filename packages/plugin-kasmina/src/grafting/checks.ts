import type { SeedSlot } from '@esper/core';
import { lookupValue, type Graph, type Shape } from '@esper/onnx';
import { CONTROL_KEYS, controlInputName } from '../blending/controls.js';
import { gateTable } from './compose.js';
import { seedPrefix } from './seed-graph.js';

const owned = (name: string, prefix: string): boolean => name.startsWith(`${prefix}/`);
const show = (s: Shape | null | undefined): string => (s == null ? '[?]' : `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]`);

/**
 * Isolation problems of a grafted seed, read from the composed graph (empty when isolated):
 *
 * 1. no parameter of the seed is a host parameter (reference kasmina §10.1, static overlap);
 * 2. the seed reads host values only through gradient gates driven by its own `in_gate` or
 *    `host_gate` input, so with `in_gate = 0` (TRAINING) no gradient from the seed reaches the
 *    host, and the blend's host term can be stop-gradient (`host_gate = 0`);
 * 3. the host reads nothing of the seed but its blend output `seed/<id>/out`.
 */
export function isolationIssues(graph: Graph, seedId: string, seedParameters: readonly string[], hostParameters: ReadonlySet<string>): string[] {
  const prefix = seedPrefix(seedId);
  const issues: string[] = [];
  for (const p of seedParameters) if (hostParameters.has(p)) issues.push(`parameter "${p}" is shared with the host`);
  const gates = gateTable(graph);
  const allowedGates = new Set([controlInputName(seedId, 'inGate'), controlInputName(seedId, 'hostGate')]);
  let inputGated = false;
  for (const node of graph.nodes) {
    const mine = owned(node.name, prefix);
    for (const input of node.inputs) {
      if (input === '') continue;
      if (mine && !owned(input, prefix)) {
        const gate = node.opType === 'Identity' ? gates[node.outputs[0] ?? ''] : undefined;
        if (gate === undefined || !allowedGates.has(gate)) issues.push(`seed node "${node.name}" reads host value "${input}" without its in_gate/host_gate gradient gate`);
        else if (gate === controlInputName(seedId, 'inGate')) inputGated = true;
      } else if (!mine && owned(input, prefix) && input !== `${prefix}/out`) {
        issues.push(`host node "${node.name}" reads seed value "${input}" instead of the blend output`);
      }
    }
  }
  if (!inputGated) issues.push(`the seed's input is not gated by ${controlInputName(seedId, 'inGate')}`);
  return issues;
}

/**
 * Interface problems of a grafted seed in the composed graph (empty when it fits): its control
 * inputs are float32 graph inputs (scalars, `alpha_vec` a vector of the slot's width), its blend output `seed/<id>/out` has the slot's
 * dtype and shape and feeds the host, and each of its parameters is present with its value.
 */
export function interfaceIssues(graph: Graph, seedId: string, slot: SeedSlot, slotShape: Shape | null, seedParameters: readonly string[]): string[] {
  const prefix = seedPrefix(seedId);
  const issues: string[] = [];
  for (const key of CONTROL_KEYS) {
    const name = controlInputName(seedId, key);
    const info = graph.inputs.find((i) => i.name === name);
    const vector = key === 'alphaVec';
    const fits = info !== undefined && info.dtype === 'float32' && info.shape !== null && (vector ? info.shape.length === 1 && info.shape[0] === slot.features : info.shape.length === 0);
    if (info === undefined) issues.push(`control input ${name} missing`);
    else if (!fits) issues.push(`control input ${name} is ${info.dtype} ${show(info.shape)}, not ${vector ? `float32 [${slot.features}]` : 'a float32 scalar'}`);
  }
  const out = lookupValue(graph, `${prefix}/out`);
  if (out === undefined) issues.push(`blend output ${prefix}/out missing`);
  else {
    const fits = out.dtype === 'float32' && out.shape !== null && slotShape !== null && out.shape.length === slotShape.length && out.shape.every((d, i) => d === slotShape[i]);
    if (!fits) issues.push(`blend output ${prefix}/out is ${out.dtype} ${show(out.shape)}, slot ${slot.id} is float32 ${show(slotShape)}`);
    const read = graph.nodes.some((n) => !owned(n.name, prefix) && n.inputs.includes(`${prefix}/out`)) || graph.outputs.some((o) => o.name === `${prefix}/out`);
    if (!read) issues.push(`nothing in the host reads ${prefix}/out`);
  }
  for (const p of seedParameters) {
    if (!graph.parameters.has(p) || !graph.initializers.has(p)) issues.push(`parameter ${p} missing`);
  }
  return issues;
}

/** Names the seed still has in `graph` (inputs, initializers, parameters, node outputs); empty once it is removed. */
export function seedNamesIn(graph: Graph, seedId: string): string[] {
  const prefix = seedPrefix(seedId);
  const names = new Set<string>();
  for (const i of graph.inputs) if (owned(i.name, prefix)) names.add(i.name);
  for (const k of graph.initializers.keys()) if (owned(k, prefix)) names.add(k);
  for (const k of graph.parameters.keys()) if (owned(k, prefix)) names.add(k);
  for (const n of graph.nodes) for (const o of n.outputs) if (owned(o, prefix)) names.add(o);
  return [...names];
}
