import { CommandType, type AdaptationCommand } from '@esper/core/leyline';
import type { TamiyoConfig } from '../config.js';
import type { BlueprintMetadata } from '../graph/builder.js';

/** The `tamiyo.blendAnnotations` settings (P8). */
export type BlendAnnotationSettings = TamiyoConfig['blendAnnotations'];

/** Longest `alpha_vec` JSON text sent (the reference's annotation limit). */
export const ALPHA_VEC_MAX_CHARS = 1024;

/**
 * The per-channel blend vector sent with CHANNEL for `channels` output channels: all ones.
 * Kasmina blends channel c with `α · v[c]` (kasmina §9.3), so ones make CHANNEL start exactly as
 * the scheduled convex blend and leave per-channel shaping to Kasmina's own updates; the
 * reference's zeros would keep the seed out of the output (and its gradient at zero) for the
 * whole blend (decision 0062).
 */
export function initialAlphaVec(channels: number): number[] {
  return new Array<number>(channels).fill(1);
}

/**
 * P8: adds the blend-mode annotations of a SEED command the policy built (tamiyo §14 P8), each
 * only if absent, when `settings.enabled`: `blend_mode`, `blend_mode_source` (`override` unless
 * CONVEX, else `heuristic`); with CONFIDENCE `gate_k`, `gate_tau`, `alpha_lo`, `alpha_hi` ("%.4f",
 * alphas clamped to [0, 1]); with CHANNEL `alpha_vec` (JSON list) and `alpha_vec_len` for C
 * channels with 0 < C ≤ `alphaVecMax` when the JSON fits {@link ALPHA_VEC_MAX_CHARS}. C is
 * `slotFeatures`, the target slot's width as the executor reports it (SeedState metric
 * `slot_features`; Kasmina checks the vector's length against it), else the output channels the
 * blueprint's first layer declares. Commands of other types, and a disabled flag, get nothing.
 * Mutates `command` (before signing); never throws.
 */
export function annotateBlendMode(
  command: AdaptationCommand,
  settings: BlendAnnotationSettings | undefined,
  metadata: BlueprintMetadata | undefined,
  slotFeatures?: number,
): void {
  if (settings?.enabled !== true || command.commandType !== CommandType.COMMAND_SEED) return;
  const a = command.annotations;
  const mode = settings.mode;
  a.blend_mode ??= mode;
  a.blend_mode_source ??= mode === 'CONVEX' ? 'heuristic' : 'override';
  const f4 = (v: number) => v.toFixed(4);
  const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
  if (mode === 'CONFIDENCE') {
    a.gate_k ??= f4(settings.confidenceGateK);
    a.gate_tau ??= f4(settings.confidenceGateTau);
    a.alpha_lo ??= f4(clamp01(settings.alphaLo));
    a.alpha_hi ??= f4(clamp01(settings.alphaHi));
  } else if (mode === 'CHANNEL') {
    const channels = slotFeatures ?? metadata?.graph?.layers?.[0]?.output_channels;
    if (channels === undefined || !Number.isInteger(channels) || channels <= 0 || channels > Math.max(1, settings.alphaVecMax)) return;
    const json = JSON.stringify(initialAlphaVec(channels));
    if (json.length > ALPHA_VEC_MAX_CHARS) return;
    a.alpha_vec ??= json;
    a.alpha_vec_len ??= String(channels);
  }
}
