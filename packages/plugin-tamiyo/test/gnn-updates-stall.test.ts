import { DEFAULT_SERIALIZE_CHUNK_BYTES, serializeModel, serializeModelChunked } from '@esper/onnx';
import { describe, expect, test } from 'vitest';
import { OnnxPolicyBackend } from '../src/backends/onnx-backend.js';
import { PolicyGraphBuilder } from '../src/graph/builder.js';
import { preparePolicySession } from '../src/gnn/policy-owner.js';
import { parseSafetensors } from '../src/policy-updates/formats.js';
import { RELATIONS } from '../src/graph/schema.js';
import { ARCHITECTURE_VERSION, REFERENCE_DIMS, initPolicyWeights, policyWeightSpecs } from '../src/policy/architecture.js';
import { DEFAULT_FOLD_CHUNK_BYTES, buildPolicyGraph, buildPolicyGraphAsync } from '../src/policy/graph.js';
import { encodePolicyWeights } from '../src/policy/weights.js';

// A full-size (reference dims) policy: the model the P3 update path writes is ≈ 26 MB.
// Timing is not asserted (a loaded CI machine would make it flaky): the tests pin the structure
// that keeps each synchronous stretch short, the number of yields. Decision 0062 has the
// measured stalls.
describe('full-size GNN policy updates do not block decisions for the whole model write', () => {
  const weights = initPolicyWeights(21, REFERENCE_DIMS);
  const graph = buildPolicyGraph(weights, REFERENCE_DIMS);
  const sync = serializeModel(graph);
  const largest = Math.max(...[...graph.initializers.values()].map((t) => t.data.byteLength));
  // The folding yields every DEFAULT_FOLD_CHUNK_BYTES of weights (one weight is never split);
  // a lower bound on the bytes it folds: every SAGE weight (lin_l and lin_r, per relation and layer).
  const largestWeight = 4 * Math.max(...policyWeightSpecs(REFERENCE_DIMS).map((s) => s.dims.reduce((a, b) => a * b, 1)));
  const sageBytes = 2 * RELATIONS.length * 2 * 4 * REFERENCE_DIMS.sageHidden ** 2;
  const foldYields = Math.floor(sageBytes / (DEFAULT_FOLD_CHUNK_BYTES + largestWeight));
  // The same weights as a verified safetensors update payload.
  const payload = {
    format: 'safetensors' as const,
    weights: parseSafetensors(encodePolicyWeights(weights, REFERENCE_DIMS)),
    header: { architecture_version: ARCHITECTURE_VERSION },
  } as Parameters<typeof preparePolicySession>[0];

  test('the chunked writer gives the bytes of serializeModel on the real policy model', async () => {
    let yields = 0;
    const chunked = await serializeModelChunked(graph, { yieldControl: async () => void yields++ });
    expect(chunked.byteLength).toBeGreaterThan(20_000_000);
    expect(Buffer.from(chunked).equals(Buffer.from(sync))).toBe(true);
    // Encoding and copying each pause at least once per (chunk + one initializer + headers).
    const perStretch = DEFAULT_SERIALIZE_CHUNK_BYTES + largest + 4096;
    expect(yields).toBeGreaterThanOrEqual(2 * Math.floor(sync.byteLength / perStretch));
  });

  test('the chunked folding gives the graph of buildPolicyGraph (same model bytes) and yields every few MB', async () => {
    let yields = 0;
    const chunked = await buildPolicyGraphAsync(weights, REFERENCE_DIMS, { yieldControl: async () => void yields++ });
    expect(Buffer.from(serializeModel(chunked)).equals(Buffer.from(sync))).toBe(true);
    expect(foldYields).toBeGreaterThan(4);
    expect(yields).toBeGreaterThanOrEqual(foldYields);
  });

  test('preparing a full-size safetensors update yields between stages and inside the model write', async () => {
    const backend = new OnnxPolicyBackend({ devices: ['cpu'], worker: false });
    let yields = 0;
    const session = await preparePolicySession(payload, {
      dims: REFERENCE_DIMS,
      backend,
      builder: new PolicyGraphBuilder(),
      yieldControl: async () => void yields++,
    });
    try {
      // Three stage boundaries (after mapping, after folding, after writing) plus the folding's and the writer's own.
      const perStretch = DEFAULT_SERIALIZE_CHUNK_BYTES + largest + 4096;
      expect(yields).toBeGreaterThanOrEqual(3 + foldYields + 2 * Math.floor(sync.byteLength / perStretch));
    } finally {
      await session.dispose();
    }
  });

  test('an update prepared at int8 precision loads the quantized model (tamiyo.gnn.precision, decision 0067)', async () => {
    const backend = new OnnxPolicyBackend({ devices: ['cpu'], worker: false });
    let loaded: Uint8Array | undefined;
    const load = backend.load.bind(backend);
    backend.load = (model, ...rest) => ((loaded = model), load(model, ...rest));
    let yields = 0;
    const session = await preparePolicySession(payload, { dims: REFERENCE_DIMS, precision: 'int8', backend, builder: new PolicyGraphBuilder(), yieldControl: async () => void yields++ });
    try {
      const bytes = Buffer.from(loaded!);
      expect(bytes.byteLength).toBeLessThan(sync.byteLength / 3);
      expect(bytes.includes('DynamicQuantizeMatMul')).toBe(true);
      expect(bytes.includes('esper.tamiyo.precision')).toBe(true);
      expect(yields).toBeGreaterThanOrEqual(3 + foldYields);
    } finally {
      await session.dispose();
    }
  });
});
