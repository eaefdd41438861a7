import { BlueprintTierSchema, HandlingClassSchema, HazardBandSchema, enumName, enumValue, type HandlingClass, type HazardBand } from '@esper/core/leyline';
import type { BlueprintMetadata, BsdsMetadata } from '../graph/builder.js';

/**
 * The blueprint's risk: the BSDS `risk_score` when the block has one ≥ 0 (tamiyo §8.2), else
 * the descriptor's `risk` (0 when absent). A BSDS block without a score leaves the descriptor's
 * risk alone (the reference reset it to 0, §17 item 7).
 */
export function blueprintRisk(meta: BlueprintMetadata): number {
  const score = meta.bsds?.risk_score;
  if (typeof score === 'number' && Number.isFinite(score) && score >= 0) return score;
  return typeof meta.risk === 'number' && Number.isFinite(meta.risk) ? meta.risk : 0;
}

/** The `BlueprintTier` name of the metadata: `tier`, else the name of `tier_index` (or its number as text). */
export function blueprintTierName(meta: BlueprintMetadata): string {
  if (meta.tier !== undefined && meta.tier !== '') return meta.tier;
  const index = meta.tier_index ?? 0;
  return enumName(BlueprintTierSchema, index) ?? String(index);
}

/** A BSDS block with at least one field; an empty block counts as absent (tamiyo §8.4). */
export function presentBsds(meta: BlueprintMetadata): BsdsMetadata | undefined {
  const bsds = meta.bsds;
  if (bsds === undefined) return undefined;
  return Object.values(bsds).some((v) => v !== undefined) ? bsds : undefined;
}

/** A hazard band written as `critical`, `CRITICAL` or `HAZARD_BAND_CRITICAL`; undefined when it names none. */
export function hazardBand(text: string | undefined): HazardBand | undefined {
  return enumText(HazardBandSchema, 'HAZARD_BAND_', text) as HazardBand | undefined;
}

/** A handling class written as `quarantine`, `QUARANTINE` or `HANDLING_CLASS_QUARANTINE`. */
export function handlingClass(text: string | undefined): HandlingClass | undefined {
  return enumText(HandlingClassSchema, 'HANDLING_CLASS_', text) as HandlingClass | undefined;
}

function enumText(schema: typeof HazardBandSchema | typeof HandlingClassSchema, prefix: string, text: string | undefined): number | undefined {
  if (typeof text !== 'string') return undefined;
  const upper = text.trim().toUpperCase();
  return enumValue(schema, upper.startsWith(prefix) ? upper : `${prefix}${upper}`);
}
