/**
 * How a grafted seed's output `s` is mixed with its slot's host value `h` (reference kasmina
 * §9.2). The names are the ones the controller writes in the `blend_mode` annotation.
 *
 * - `CONVEX`: `α·s + (1−α)·sg(h)` (the default);
 * - `RESIDUAL`: `sg(h) + α·s`;
 * - `CHANNEL`: `a·s + (1−a)·sg(h)` with `a = clamp01(α·v)` per feature (`v`: `alpha_vec`);
 * - `CONFIDENCE`: `e·s + (1−e)·sg(h)` with `e = clamp(α·sg(g), lo, hi)` per sample, `g` the
 *   confidence gate of the seed's output read as logits.
 */
export type BlendMode = 'CONVEX' | 'RESIDUAL' | 'CHANNEL' | 'CONFIDENCE';

/** The blend modes, in the order of their legacy integer codes (0 = CONVEX … 3 = CONFIDENCE). */
export const BLEND_MODES: readonly BlendMode[] = Object.freeze(['CONVEX', 'RESIDUAL', 'CHANNEL', 'CONFIDENCE']);

/** The command annotation keys the blend-mode parser reads (`alpha_vec_len` is not read: the length comes from `alpha_vec`). */
export const BLEND_ANNOTATION_KEYS = Object.freeze({
  mode: 'blend_mode',
  source: 'blend_mode_source',
  gateK: 'gate_k',
  gateTau: 'gate_tau',
  alphaLo: 'alpha_lo',
  alphaHi: 'alpha_hi',
  alphaVec: 'alpha_vec',
} as const);

/** Parameters of the CONFIDENCE gate `g = sigmoid(k · (top1 − top2 − τ))` and the clamp of `e`. */
export interface ConfidenceGateParameters {
  /** Steepness `k` (≥ 0). */
  readonly gateK: number;
  /** Margin offset `τ` (≥ 0). */
  readonly gateTau: number;
  /** Lower clamp of the effective weight, in [0, 1]. */
  readonly alphaLo: number;
  /** Upper clamp of the effective weight, in [`alphaLo`, 1]. */
  readonly alphaHi: number;
}

/** The reference's defaults of the CONFIDENCE parameters (kasmina §9.3; the plugin's `confidenceGate` config). */
export const DEFAULT_CONFIDENCE_GATE: ConfidenceGateParameters = Object.freeze({ gateK: 4, gateTau: 0.2, alphaLo: 0, alphaHi: 1 });

/** A seed's blend configuration, as parsed from a SEED command's annotations. */
export interface BlendConfig {
  /** The mode asked for (an unknown name is stored as CONVEX). */
  readonly mode: BlendMode;
  /** `blend_mode_source` as sent (`override`, `heuristic`, …), when present. */
  readonly source?: string;
  /** CONFIDENCE only: the gate parameters (defaults filled in, clamped, ordered). */
  readonly confidence?: ConfidenceGateParameters;
  /** CHANNEL only: the per-feature multipliers `v`, each in [0, 1]; absent when `alpha_vec` gave none. */
  readonly alphaVec?: readonly number[];
}

/** One annotation the parser could not take as sent, and what it used instead. */
export interface BlendAnnotationIssue {
  /** The annotation key (`blend_mode`, `gate_k`, …). */
  readonly key: string;
  /** The value as sent. */
  readonly value: string;
  /** What was wrong and what was used instead. */
  readonly reason: string;
}

/** Outcome of {@link parseBlendAnnotations}. */
export interface BlendAnnotationResult {
  /** The configuration to store on the seed, or `undefined` when the command carries no `blend_mode` (keep the current one). */
  readonly config: BlendConfig | undefined;
  /** Values that were invalid or out of range (each becomes a WARNING event); empty when all were fine. */
  readonly issues: readonly BlendAnnotationIssue[];
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));
/** A decimal number as text (`4`, `-0.25`, `1e-3`, `.5`); no `inf`/`nan`, no hex, no empty string. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const INTEGER = /^[+-]?\d+$/;

function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (!NUMBER.test(t)) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Reads a `blend_mode` value: trimmed and upper-cased; one of {@link BLEND_MODES}, or a legacy
 * integer code 0–3. Anything else is `undefined` (the caller falls back to CONVEX).
 */
export function parseBlendMode(value: string): BlendMode | undefined {
  const name = value.trim().toUpperCase();
  if ((BLEND_MODES as readonly string[]).includes(name)) return name as BlendMode;
  if (INTEGER.test(name)) return BLEND_MODES[Number(name)];
  return undefined;
}

/** Outcome of {@link parseAlphaVector}. */
export interface AlphaVectorResult {
  /** The multipliers, each clamped to [0, 1]; `undefined` when the text gave none. */
  readonly values: readonly number[] | undefined;
  /** How the text was read. */
  readonly format: 'json' | 'csv' | 'none';
  /** Elements that were skipped or clamped, and why the text gave nothing (empty when clean). */
  readonly problems: readonly string[];
}

/**
 * Reads an `alpha_vec` annotation. First as JSON: a list whose elements are finite numbers
 * (other elements are skipped and reported). Text that is not a JSON list is read as CSV: outer
 * `[`/`]` removed, split on `,`, blank pieces dropped, every piece a number, or nothing at all.
 * Values outside [0, 1] are clamped and reported. An empty result is `undefined`.
 *
 * The reference meant the same order but, lacking its JSON import, always took the CSV path; the
 * two agree on well-formed lists (`[0.2, 0.6, 1.0]`). They differ on `["a", 0.5]` (here `[0.5]`,
 * there nothing) and `[[0.1, 0.2]]` (here nothing: nested lists are not vectors; there `[0.1, 0.2]`).
 */
export function parseAlphaVector(text: string): AlphaVectorResult {
  const problems: string[] = [];
  const finish = (raw: number[], format: 'json' | 'csv'): AlphaVectorResult => {
    const values = raw.map((v, i) => {
      const c = clamp01(v);
      if (c !== v) problems.push(`element ${i} (${v}) clamped to ${c}`);
      return c;
    });
    if (values.length === 0) {
      problems.push('no numbers in the list');
      return { values: undefined, format, problems };
    }
    return { values, format, problems };
  };
  let json: unknown;
  let isJson = false;
  try {
    json = JSON.parse(text);
    isJson = true;
  } catch {
    // not JSON: read as CSV below
  }
  if (isJson && Array.isArray(json)) {
    const raw: number[] = [];
    json.forEach((element: unknown, i) => {
      if (typeof element === 'number' && Number.isFinite(element)) raw.push(element);
      else problems.push(`element ${i} (${JSON.stringify(element)}) is not a number, skipped`);
    });
    return finish(raw, 'json');
  }
  const body = text.trim().replace(/^\[+/, '').replace(/\]+$/, '');
  const pieces = body.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const raw: number[] = [];
  for (const piece of pieces) {
    const v = parseNumber(piece);
    if (v === undefined) {
      problems.push(`"${piece}" is not a number, so the list gives nothing (neither a JSON list nor comma-separated numbers)`);
      return { values: undefined, format: 'none', problems };
    }
    raw.push(v);
  }
  return finish(raw, 'csv');
}

/**
 * The reference's K7 parser (kasmina §9.3), applied to the annotations of a SEED command:
 *
 * 1. no (or a blank) `blend_mode`: `config` is `undefined` — the seed keeps what it has;
 * 2. the mode, or CONVEX for an unknown one (reported);
 * 3. `blend_mode_source` copied as is;
 * 4. CONFIDENCE: `gate_k`, `gate_tau` ≥ 0 and `alpha_lo`, `alpha_hi` in [0, 1], each from
 *    `defaults` when missing or not a number; swapped when `alpha_hi < alpha_lo`;
 * 5. CHANNEL: `alpha_vec` by {@link parseAlphaVector}; a missing or empty vector leaves
 *    `alphaVec` unset, so the seed blends convexly.
 *
 * Never throws: every value that is not taken as sent is listed in `issues` (the reference
 * dropped them silently).
 */
export function parseBlendAnnotations(annotations: Readonly<Record<string, string>>, defaults: ConfidenceGateParameters = DEFAULT_CONFIDENCE_GATE): BlendAnnotationResult {
  const K = BLEND_ANNOTATION_KEYS;
  const rawMode = annotations[K.mode];
  if (rawMode === undefined || rawMode.trim() === '') return { config: undefined, issues: [] };
  const issues: BlendAnnotationIssue[] = [];
  const issue = (key: string, reason: string): void => void issues.push({ key, value: annotations[key] ?? '', reason });
  let mode = parseBlendMode(rawMode);
  if (mode === undefined) {
    issue(K.mode, `unknown blend mode; expected one of ${BLEND_MODES.join(', ')} (or 0–3), using CONVEX`);
    mode = 'CONVEX';
  }
  const source = annotations[K.source];
  const base = { mode, ...(source === undefined ? {} : { source }) };
  if (mode === 'CONFIDENCE') {
    const read = (key: string, fallback: number, lo: number, hi: number): number => {
      const text = annotations[key];
      if (text === undefined) return fallback;
      const v = parseNumber(text);
      if (v === undefined) {
        issue(key, `not a finite number, using the default ${fallback}`);
        return fallback;
      }
      const c = Math.min(hi, Math.max(lo, v));
      if (c !== v) issue(key, `out of range [${lo}, ${hi === Infinity ? '∞' : hi}], using ${c}`);
      return c;
    };
    const gateK = read(K.gateK, defaults.gateK, 0, Infinity);
    const gateTau = read(K.gateTau, defaults.gateTau, 0, Infinity);
    let alphaLo = read(K.alphaLo, defaults.alphaLo, 0, 1);
    let alphaHi = read(K.alphaHi, defaults.alphaHi, 0, 1);
    if (alphaHi < alphaLo) {
      issue(K.alphaHi, `alpha_hi ${alphaHi} < alpha_lo ${alphaLo}: swapped`);
      [alphaLo, alphaHi] = [alphaHi, alphaLo];
    }
    return { config: { ...base, confidence: { gateK, gateTau, alphaLo, alphaHi } }, issues };
  }
  if (mode === 'CHANNEL') {
    const text = annotations[K.alphaVec];
    if (text === undefined) {
      issues.push({ key: K.alphaVec, value: '', reason: 'CHANNEL needs alpha_vec; the seed blends as CONVEX' });
      return { config: base, issues };
    }
    const parsed = parseAlphaVector(text);
    if (parsed.problems.length > 0) {
      issue(K.alphaVec, `${parsed.problems.join('; ')}${parsed.values === undefined ? '; the seed blends as CONVEX' : ''}`);
    }
    return { config: parsed.values === undefined ? base : { ...base, alphaVec: parsed.values }, issues };
  }
  return { config: base, issues };
}
