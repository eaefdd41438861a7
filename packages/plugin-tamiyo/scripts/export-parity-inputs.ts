// Writes the inputs of the PyTorch Geometric parity check (issue 17, decision 0058) to
// test/fixtures/gnn-parity/: seeded weights of a small configuration of the policy
// (`weights.f32`, raw little-endian float32, tensors back to back in PyTorch layout) and two
// graphs built by PolicyGraphBuilder (`inputs.json`: dims, weight manifest, graph tensors per
// node type and relation). scripts/gnn_parity.py reads them and writes expected.json on a
// machine with PyTorch Geometric; test/gnn-parity.test.ts compares the ONNX policy with it.
//
//   pnpm exec tsx --conditions=@esper/source packages/plugin-tamiyo/scripts/export-parity-inputs.ts
import { Prng, parameterSeed } from '@esper/onnx';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PolicyGraphBuilder, type BlueprintMetadata, type PolicyGraph } from '../src/graph/builder.js';
import { EDGE_ATTR_DIM, FEATURE_DIMS, NODE_TYPES, RELATIONS } from '../src/graph/schema.js';
import { REFERENCE_DIMS, initPolicyWeights, policyWeightSpecs, type PolicyDims } from '../src/policy/architecture.js';
import { policyStatePacket } from '../test/policy-packet.js';

/** Same architecture, small widths (4 heads as the reference): about 1 MB of weights. */
export const PARITY_DIMS: PolicyDims = { ...REFERENCE_DIMS, sageHidden: 32, gatHidden: 16, heads: 4, headHidden: 16 };
const SEED = 17;

const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'gnn-parity');

function graphs(): { name: string; graph: PolicyGraph }[] {
  const full: BlueprintMetadata = {
    risk: 0.3,
    stage: 2,
    graph: {
      parameters: [
        { name: 'alpha', min: 0, max: 1 },
        { name: 'beta', min: -1, max: 1 },
      ],
      layers: [{ depth: 0 }, { depth: 1 }, { depth: 2 }],
      activations: [{ type: 'relu' }, { type: 'gelu' }],
    },
  };
  const dense = new PolicyGraphBuilder({ maxParameters: 2, maxActivations: 2 }).build(
    policyStatePacket('run-parity', [
      { id: 'a', stage: 4, depth: 0 },
      { id: 'b', stage: 3, depth: 1, risk: 0.2 },
      { id: 'c', stage: 5, depth: 2 },
    ]),
    'BP001',
    full,
  );
  if (!dense.edges.every((e) => e.count > 0)) throw new Error('the "all relations" graph has an empty relation');
  const sparse = new PolicyGraphBuilder().build(policyStatePacket('run-parity', [{ id: 'only', stage: 1 }]), 'BP001', { graph: { layers: [{ depth: 0 }] } });
  if (!sparse.edges.some((e) => e.count === 0)) throw new Error('the "empty relations" graph has no empty relation');
  return [
    { name: 'all_relations', graph: dense },
    { name: 'empty_relations', graph: sparse },
  ];
}

function main(): void {
  const weights = initPolicyWeights(SEED, PARITY_DIMS);
  // Every tensor away from its start (zero biases, unit LayerNorm gains, the untrained policy
  // head's constant weights), so each weight's orientation and use is exercised.
  for (const spec of policyWeightSpecs(PARITY_DIMS)) {
    if (spec.init.kind === 'uniform') continue;
    const prng = new Prng(parameterSeed(SEED + 1, spec.name));
    const data = weights.get(spec.name).data;
    for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) + prng.uniform(-0.3, 0.3);
  }
  const manifest: { name: string; shape: number[]; offset: number; length: number }[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const spec of policyWeightSpecs(PARITY_DIMS)) {
    const data = weights.get(spec.name).data;
    manifest.push({ name: spec.name, shape: [...spec.dims], offset, length: data.length });
    chunks.push(data);
    offset += data.length;
  }
  const all = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const bytes = Buffer.from(all.buffer, all.byteOffset, all.byteLength);
  if (!new Uint8Array(new Uint16Array([1]).buffer)[0]) throw new Error('big-endian host: weights.f32 must be little-endian');

  const inputs = {
    description: 'Inputs of the PyTorch Geometric parity check of the Tamiyo GNN policy (decision 0058). Written by scripts/export-parity-inputs.ts.',
    architecture: 'tamiyo_gnn_v1',
    dims: PARITY_DIMS,
    seed: SEED,
    nodeTypes: NODE_TYPES,
    featureDims: FEATURE_DIMS,
    edgeAttrDim: EDGE_ATTR_DIM,
    relations: RELATIONS.map((r) => ({ src: r.src, name: r.name, dst: r.dst, key: r.key })),
    weights: { file: 'weights.f32', dtype: 'float32', byteOrder: 'little', count: offset, tensors: manifest },
    graphs: graphs().map(({ name, graph }) => ({
      name,
      counts: graph.counts,
      features: Object.fromEntries(NODE_TYPES.map((t) => [t, [...graph.features[t]]])),
      edges: RELATIONS.map((r, i) => {
        const e = graph.edges[i]!;
        return { key: r.key, count: e.count, src: [...e.src.subarray(0, e.count)], dst: [...e.dst.subarray(0, e.count)], attr: [...e.attr.subarray(0, e.count * EDGE_ATTR_DIM)] };
      }),
      emptyRelations: RELATIONS.filter((_, i) => graph.edges[i]!.count === 0).map((r) => r.key),
    })),
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'weights.f32'), bytes);
  writeFileSync(join(outDir, 'inputs.json'), `${JSON.stringify(inputs)}\n`);
  console.log(`wrote ${manifest.length} tensors (${offset} floats, ${bytes.length} bytes) and ${inputs.graphs.length} graphs to ${outDir}`);
  for (const g of inputs.graphs) console.log(`  ${g.name}: counts ${JSON.stringify(g.counts)}, empty relations [${g.emptyRelations.join(', ')}]`);
}

main();
