import type { BlueprintDescriptor } from '../../leyline/index.js';

/** Read-only catalogue of blueprints (Karn/Urza): Leyline `BlueprintDescriptor`s by id. */
export interface BlueprintCatalog {
  get(blueprintId: string): BlueprintDescriptor | undefined;
  list(): readonly BlueprintDescriptor[];
}

/** An executable seed module produced from a blueprint: an ONNX subgraph and its parameters. */
export interface SeedKernel {
  readonly blueprintId: string;
  /** Serialized ONNX model of the kernel (input `x`, output `y`, same shape). */
  readonly model: Uint8Array;
  /** Initial parameters by name. */
  readonly parameters: ReadonlyMap<string, Float32Array>;
  /** Hex digest of the artifact, checked against the catalogue. */
  readonly checksum: string;
}

/**
 * Loads kernels for blueprints (Kasmina's runtime port). `fetchKernel` may throw; Kasmina then
 * falls back to its fallback blueprint and records the latency against its budget.
 */
export interface BlueprintRuntime {
  fetchKernel(blueprintId: string): Promise<{ kernel: SeedKernel; latencyMs: number }>;
}
