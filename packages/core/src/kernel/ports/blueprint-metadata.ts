import type { BSDS, BlueprintDescriptor } from '../../leyline/index.js';
import type { BlueprintCatalog } from './blueprints.js';

/**
 * Urabrask's safety data sheet as a blueprint record carries it: the Leyline `BSDS` fields, each
 * optional, because a metadata store (Urza's BSDS-lite block) may hold only some of them. An
 * absent `riskScore` means "no score", not 0: the descriptor's risk stands.
 */
export type BlueprintSafetySheet = Partial<Pick<BSDS, 'riskScore' | 'hazardBand' | 'handlingClass' | 'resourceProfile' | 'provenance' | 'recommendation' | 'issuedAt'>>;

/**
 * What a blueprint metadata store (Urza) knows about one blueprint: its Leyline descriptor, its
 * safety data sheet when one was issued, and its graph metadata (layers, activations,
 * parameters, adjacency, monitors, capabilities) as JSON, which the consumer validates.
 */
export interface BlueprintRecord {
  readonly descriptor: BlueprintDescriptor;
  readonly bsds?: BlueprintSafetySheet | undefined;
  /** Graph metadata (the Urza → Tamiyo schema of the blueprint's graph); untrusted JSON. */
  readonly graph?: Readonly<Record<string, unknown>> | undefined;
}

/** Options of {@link BlueprintMetadataSource.lookup}. */
export interface BlueprintMetadataLookupOptions {
  /**
   * Aborted when the caller stops waiting (its budget passed). A source may stop work then; a
   * result it still returns may be cached by the caller.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Blueprint metadata by id (Urza; `Tokens.BlueprintMetadata`): what a controller needs to gate
 * a blueprint (risk, tier, stage, quarantine, BSDS) and to describe it to a policy (graph
 * metadata). Lookups are asynchronous and may be slow; callers bound them with their own
 * budget and cache results. Resolves `undefined` for an unknown id; rejects only when the store
 * cannot be read.
 */
export interface BlueprintMetadataSource {
  lookup(blueprintId: string, options?: BlueprintMetadataLookupOptions): Promise<BlueprintRecord | undefined>;
}

/**
 * The blueprint metadata of a {@link BlueprintCatalog}: each record is the catalogue's
 * descriptor alone (no safety data sheet, no graph metadata), answered at once. The fallback
 * when no run provides `Tokens.BlueprintMetadata`.
 */
export function catalogBlueprintMetadata(catalog: BlueprintCatalog): BlueprintMetadataSource {
  return {
    lookup(blueprintId) {
      const descriptor = catalog.get(blueprintId);
      return Promise.resolve(descriptor === undefined ? undefined : { descriptor });
    },
  };
}
