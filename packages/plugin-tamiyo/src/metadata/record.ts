import { create } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { BlueprintRecord, BlueprintSafetySheet } from '@esper/core';
import {
  BlueprintDescriptorSchema,
  BlueprintParameterBoundsSchema,
  BlueprintTierSchema,
  HandlingClassSchema,
  HazardBandSchema,
  ProvenanceSchema,
  ResourceProfileSchema,
  enumName,
} from '@esper/core/leyline';
import type { BlueprintMetadata, BsdsMetadata, GraphMetadata } from '../graph/builder.js';
import { graphMetadataSchema, type BlueprintRecordFields } from './schema.js';

/** A validated file record as the port's `BlueprintRecord` (Leyline descriptor, BSDS fields, graph JSON). */
export function recordFromFields(f: BlueprintRecordFields): BlueprintRecord {
  const descriptor = create(BlueprintDescriptorSchema, {
    blueprintId: f.blueprint_id,
    name: f.name,
    tier: f.tier,
    risk: f.risk,
    stage: f.stage,
    quarantineOnly: f.quarantine_only,
    approvalRequired: f.approval_required,
    description: f.description,
    allowedParameters: Object.fromEntries(Object.entries(f.allowed_parameters).map(([k, b]) => [k, create(BlueprintParameterBoundsSchema, { minValue: b.min, maxValue: b.max })])),
  });
  const b = f.bsds;
  const bsds: BlueprintSafetySheet | undefined =
    b === undefined
      ? undefined
      : {
          ...(b.risk_score !== undefined ? { riskScore: b.risk_score } : {}),
          ...(b.hazard_band !== undefined ? { hazardBand: b.hazard_band } : {}),
          ...(b.handling_class !== undefined ? { handlingClass: b.handling_class } : {}),
          ...(b.resource_profile !== undefined ? { resourceProfile: b.resource_profile } : {}),
          ...(b.provenance !== undefined ? { provenance: b.provenance } : {}),
          ...(b.recommendation !== undefined ? { recommendation: b.recommendation } : {}),
          ...(b.issued_at !== undefined ? { issuedAt: b.issued_at } : {}),
        };
  const graph = f.graph ?? f.graph_metadata;
  return { descriptor, ...(bsds !== undefined ? { bsds } : {}), ...(graph !== undefined ? { graph } : {}) };
}

/** What {@link blueprintMetadataFromRecord} reports besides the metadata. */
export interface RecordConversion {
  readonly metadata: BlueprintMetadata;
  /** Why the record's graph block was left out (it did not match tamiyo §8.3), if it was. */
  readonly graphError?: string | undefined;
}

/**
 * A blueprint record as the metadata the graph builder and the risk engine read (tamiyo §8.2):
 * tier name and index, risk (the BSDS `riskScore` when present, with `risk_provenance`), stage,
 * flags, allowed parameters with their span, `parameter_count`, `candidate_score` (from the
 * descriptor's risk), the BSDS block with enum names, and the graph metadata with every block
 * the builder reads — adjacency, monitors and per-seed capabilities included (§17 item 6).
 * Graph JSON that does not match the schema is left out (reported in `graphError`).
 */
export function blueprintMetadataFromRecord(record: BlueprintRecord): RecordConversion {
  const d = record.descriptor;
  const allowed: Record<string, { min: number; max: number; span: number }> = {};
  for (const [name, b] of Object.entries(d.allowedParameters)) allowed[name] = { min: b.minValue, max: b.maxValue, span: b.maxValue - b.minValue };
  const parameterCount = Object.keys(allowed).length;
  const bsds = record.bsds === undefined ? undefined : bsdsMetadata(record.bsds);
  const bsdsRisk = bsds?.risk_score;
  let graph: GraphMetadata | undefined;
  let graphError: string | undefined;
  if (record.graph !== undefined) {
    const parsed = graphMetadataSchema.safeParse(record.graph);
    if (parsed.success) graph = parsed.data as GraphMetadata;
    else graphError = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  }
  const metadata: BlueprintMetadata & { risk_provenance?: string } = {
    tier: enumName(BlueprintTierSchema, d.tier) ?? String(d.tier),
    tier_index: d.tier,
    risk: bsdsRisk !== undefined && bsdsRisk >= 0 ? bsdsRisk : d.risk,
    ...(bsdsRisk !== undefined && bsdsRisk >= 0 ? { risk_provenance: 'bsds' } : {}),
    stage: d.stage,
    quarantine_only: d.quarantineOnly,
    approval_required: d.approvalRequired,
    ...(parameterCount > 0 ? { allowed_parameters: allowed } : {}),
    parameter_count: parameterCount,
    candidate_score: Math.max(0, 1 - d.risk + 0.05 * d.stage + 0.02 * parameterCount),
    ...(graph !== undefined ? { graph } : {}),
    ...(bsds !== undefined ? { bsds } : {}),
  };
  return { metadata, ...(graphError !== undefined ? { graphError } : {}) };
}

/** BSDS fields as the risk engine reads them: enum names without their prefix (`CRITICAL`), unset enums left out. */
function bsdsMetadata(s: BlueprintSafetySheet): BsdsMetadata | undefined {
  const name = (schema: Parameters<typeof enumName>[0], prefix: string, v: number | undefined) => {
    if (v === undefined || v === 0) return undefined;
    return enumName(schema, v)?.slice(prefix.length);
  };
  const out: Record<string, string | number> = {};
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  put('hazard_band', name(HazardBandSchema, 'HAZARD_BAND_', s.hazardBand));
  put('handling_class', name(HandlingClassSchema, 'HANDLING_CLASS_', s.handlingClass));
  put('resource_profile', name(ResourceProfileSchema, 'RESOURCE_PROFILE_', s.resourceProfile));
  put('provenance', name(ProvenanceSchema, 'PROVENANCE_', s.provenance));
  if (s.issuedAt !== undefined) put('issued_at', timestampDate(s.issuedAt).toISOString());
  if (typeof s.riskScore === 'number' && Number.isFinite(s.riskScore)) put('risk_score', s.riskScore);
  return Object.keys(out).length === 0 ? undefined : (out as BsdsMetadata);
}
