import { z } from 'zod';
import { POLICY_DEVICES } from '../backends/onnx-backend.js';
import { POLICY_PRECISIONS } from '../policy/precision.js';

const REFERENCE = 'tamiyo §2.4, §5, §7';

/**
 * Options of the GNN controller (`tamiyo.gnn` config section; decision 0058). The policy's
 * device comes from `tamiyo.policy.device` unless `devices` lists a fallback order; its step
 * budget is `tamiyo.stepTimeoutMs` (`TAMIYO_STEP_TIMEOUT_MS`).
 */
export const gnnOptionsSchema = z
  .strictObject({
    seed: z.number().int().nonnegative().optional().meta({
      reference: REFERENCE,
      unset: 'the run seed',
      description: 'Seed of the initial weights (each tensor drawn from the seed and its name). Ignored when `weightsPath` is set.',
    }),
    weightsPath: z.string().min(1).optional().meta({
      reference: REFERENCE,
      unset: 'seeded initial weights',
      description: 'Policy weights: an `@esper/onnx` checkpoint with the PyTorch names of `policyWeightSpecs` (savePolicyWeights writes one).',
    }),
    devices: z.array(z.enum(POLICY_DEVICES)).min(1).optional().meta({
      reference: 'tamiyo §5.3, §14 P2',
      unset: 'from `policy.device`: `cuda…` → cuda, cpu; `webgpu` → webgpu, cpu; `cpu` → cpu; unset → cpu (a GPU is opt-in)',
      description: 'Inference devices in fallback order; a device that fails to load or run hands over to the next, keeping its result (CPU fallback fix).',
    }),
    threads: z.number().int().positive().default(1).meta({
      reference: 'tamiyo §16',
      description: 'ONNX Runtime intra-op threads of the policy session (the trainer runs beside it).',
    }),
    precision: z.enum(POLICY_PRECISIONS).default('fp32').meta({
      env: 'TAMIYO_GNN_PRECISION',
      reference: 'decision 0067',
      description:
        'Precision of the large policy weights: `fp32` (the reference, PyG parity to 1e-7) or `int8` (per-column int8 GraphSAGE and GAT projections on the CPU provider: about 2.5× faster inference; outputs move by up to about 1 % of their range).',
    }),
    realtime: z.boolean().default(false).meta({
      env: 'TAMIYO_GNN_REALTIME',
      reference: 'decision 0067',
      description:
        'Run the decision threads under SCHED_FIFO (Linux; needs CAP_SYS_NICE or RLIMIT_RTPRIO ≥ 1): the inference worker always, and the main thread of `esper serve`. Keeps the p99 inside the step budget when trainers share the cores; refused, it logs why and runs at normal priority.',
    }),
    worker: z.boolean().default(true).meta({
      reference: 'tamiyo §14 P1',
      description: 'Run inference on a worker thread, so a decision past the step budget is abandoned instead of blocking the trainer.',
    }),
    blueprints: z.array(z.string().trim().min(1)).default([]).meta({
      reference: 'tamiyo §6.1, §17 item 5',
      description: "Blueprint ids the blueprint node stands for, in turn (the next after each germination). Empty: the BlueprintCatalog's, in order.",
    }),
    blueprintMetadataPath: z.string().min(1).optional().meta({
      reference: 'tamiyo §8, decision 0065',
      unset: "the run's `BlueprintMetadata` port if a plugin provides one, else the BlueprintCatalog's descriptors",
      description:
        'Blueprint metadata file (JSON `{"blueprints": [...]}` or `.ndjson`): per blueprint its risk, tier, stage, quarantine, BSDS block and graph metadata. Re-read when it changes; ids it lacks come from the BlueprintCatalog.',
    }),
    maxLayers: z.number().int().min(1).default(3).meta({ reference: 'tamiyo §2.4', description: 'Most layer nodes.' }),
    maxActivations: z.number().int().min(1).default(1).meta({ reference: 'tamiyo §2.4', description: 'Most activation nodes.' }),
    maxParameters: z.number().int().min(1).default(1).meta({ reference: 'tamiyo §2.4', description: 'Most parameter nodes.' }),
  })
  .prefault({});

/** Validated GNN options. */
export type GnnOptions = z.output<typeof gnnOptionsSchema>;
/** What a user may write in `tamiyo.gnn`. */
export type GnnOptionsInput = z.input<typeof gnnOptionsSchema>;

/**
 * The device fallback order of `tamiyo.gnn.devices`, or the one `tamiyo.policy.device` implies.
 * Unset means `cpu`: onnxruntime-node ships no CUDA provider libraries by default, and trying a
 * missing provider prints an onnxruntime error on every start, so a GPU is opt-in.
 */
export function deviceOrder(devices: GnnOptions['devices'], policyDevice: string | undefined): (typeof POLICY_DEVICES)[number][] {
  if (devices !== undefined) return [...devices];
  if (policyDevice === undefined) return ['cpu'];
  if (policyDevice.startsWith('cuda')) return ['cuda', 'cpu'];
  if (policyDevice.startsWith('webgpu')) return ['webgpu', 'cpu'];
  return ['cpu'];
}
