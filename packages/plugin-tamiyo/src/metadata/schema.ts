import type { DescEnum, EnumShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  BlueprintTierSchema,
  HandlingClassSchema,
  HazardBandSchema,
  ProvenanceSchema,
  ResourceProfileSchema,
  enumValue,
} from '@esper/core/leyline';
import { z } from 'zod';

/**
 * A Leyline enum written as text: the full name (`HAZARD_BAND_CRITICAL`) or without its prefix,
 * in any case (`critical`). Unknown names are an error listing the accepted ones.
 */
function leylineEnum<S extends DescEnum>(schema: S, prefix: string) {
  const names = schema.values.filter((v) => v.number !== 0).map((v) => v.name.slice(prefix.length));
  return z.string().transform((text, ctx): EnumShape<S> => {
    const upper = text.trim().toUpperCase();
    const value = enumValue(schema, upper.startsWith(prefix) ? upper : `${prefix}${upper}`);
    if (value === undefined || value === 0) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not one of ${names.join(', ')} (any case, with or without the ${prefix} prefix)` });
      return z.NEVER;
    }
    return value;
  });
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const index = z.number().int().nonnegative();
/** `[src, dst]` or `[src, dst, weight]`. */
const pair = z.array(finite).min(2).max(3);

/**
 * The graph metadata of a blueprint record (tamiyo §8.3, the Urza → Tamiyo schema): every block
 * the graph builder reads, adjacency and monitors included (the reference dropped those, §17
 * item 6). Unknown fields are ignored; known ones must have the documented types.
 */
export const graphMetadataSchema = z.object({
  schema_version: z.number().int().optional(),
  layers: z
    .array(
      z.object({
        layer_id: z.string().optional(),
        type: z.string().optional(),
        depth: finite.optional(),
        latency_ms: finite.optional(),
        parameter_count: finite.optional(),
        dropout_rate: finite.optional(),
        activation: z.string().optional(),
        activation_type: z.string().optional(),
        weight_norm: finite.optional(),
        gradient_norm: finite.optional(),
        output_channels: finite.optional(),
      }),
    )
    .optional(),
  activations: z
    .array(
      z.object({
        activation_id: z.string().optional(),
        type: z.string().optional(),
        saturation_rate: finite.optional(),
        gradient_flow: finite.optional(),
        computational_cost: finite.optional(),
        nonlinearity_strength: finite.optional(),
      }),
    )
    .optional(),
  parameters: z
    .array(z.object({ name: z.string().optional(), min: finite.optional(), max: finite.optional(), span: finite.optional(), default: finite.optional() }))
    .optional(),
  capabilities: z
    .object({
      allowed_blending_methods: z.array(z.string()).optional(),
      allowed_parameters_by_seed_id: z.record(z.string(), z.array(z.union([z.string(), index]))).optional(),
      allowed_parameters_by_seed_index: z.record(z.string(), z.array(index)).optional(),
    })
    .optional(),
  adjacency: z.union([z.array(pair), z.object({ layer: z.array(pair).optional() })]).optional(),
  monitored_layers: z.array(pair).optional(),
  monitors: z
    .object({
      by_seed_id: z.record(z.string(), z.array(index)).optional(),
      by_seed_index: z.record(z.string(), z.array(index)).optional(),
      thresholds: z.object({ risk_max: finite.optional(), stage_min: finite.optional() }).optional(),
    })
    .optional(),
});

/** The BSDS-lite block of a record (tamiyo §8.4): Leyline `BSDS` fields, each optional. */
export const bsdsBlockSchema = z.strictObject({
  risk_score: z.number().min(0).max(1).optional(),
  hazard_band: leylineEnum(HazardBandSchema, 'HAZARD_BAND_').optional(),
  handling_class: leylineEnum(HandlingClassSchema, 'HANDLING_CLASS_').optional(),
  resource_profile: leylineEnum(ResourceProfileSchema, 'RESOURCE_PROFILE_').optional(),
  provenance: leylineEnum(ProvenanceSchema, 'PROVENANCE_').optional(),
  recommendation: z.string().optional(),
  issued_at: z.iso
    .datetime({ offset: true })
    .transform((t) => timestampFromMs(Date.parse(t)))
    .optional(),
});

/**
 * One blueprint record of a metadata file, as Urza exports it (snake_case): the Leyline
 * `BlueprintDescriptor` fields, then `bsds` and `graph` (alias `graph_metadata`). Unknown keys
 * are errors, so a misspelt `quarantine_only` cannot silently let a blueprint through.
 */
export const blueprintRecordSchema = z.strictObject({
  blueprint_id: z.string().trim().min(1, 'must be a non-empty blueprint id'),
  name: z.string().default(''),
  tier: z.union([leylineEnum(BlueprintTierSchema, 'BLUEPRINT_TIER_'), z.number().int().nonnegative()]).default(0),
  risk: z.number().min(0).max(1).default(0),
  stage: z.number().int().nonnegative().default(0),
  quarantine_only: z.boolean().default(false),
  approval_required: z.boolean().default(false),
  description: z.string().default(''),
  allowed_parameters: z
    .record(z.string(), z.strictObject({ min: finite, max: finite }).refine((b) => b.min <= b.max, 'min must not exceed max'))
    .default({}),
  bsds: bsdsBlockSchema.optional(),
  graph: graphMetadataSchema.optional(),
  graph_metadata: graphMetadataSchema.optional(),
});

/** A record of a metadata file before it becomes a `BlueprintRecord`. */
export type BlueprintRecordInput = z.input<typeof blueprintRecordSchema>;
/** A validated record of a metadata file. */
export type BlueprintRecordFields = z.output<typeof blueprintRecordSchema>;
/** Validated graph metadata. */
export type GraphMetadataFields = z.output<typeof graphMetadataSchema>;

/** A JSON metadata file: `{ "blueprints": [ … ] }` (or the bare array). */
export const blueprintFileSchema = z.union([
  z.strictObject({ schema_version: z.literal(1).optional(), blueprints: z.array(z.unknown()) }),
  z.array(z.unknown()),
]);
