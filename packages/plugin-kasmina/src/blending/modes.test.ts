import { describe, expect, test } from 'vitest';
import { CONVEX_BLEND, resolveBlend } from './controls.js';
import { parseAlphaVector, parseBlendAnnotations, parseBlendMode } from './modes.js';

describe('parseBlendMode', () => {
  test.each([
    ['CONVEX', 'CONVEX'],
    [' residual ', 'RESIDUAL'],
    ['channel', 'CHANNEL'],
    ['Confidence\n', 'CONFIDENCE'],
    ['0', 'CONVEX'],
    ['1', 'RESIDUAL'],
    ['2', 'CHANNEL'],
    [' 3 ', 'CONFIDENCE'],
    ['4', undefined],
    ['-1', undefined],
    ['2.0', undefined],
    ['FOO', undefined],
    ['DELTA', undefined],
  ])('%j → %s', (text, mode) => {
    expect(parseBlendMode(text)).toBe(mode);
  });
});

describe('parseAlphaVector: JSON list first, CSV fallback', () => {
  test.each([
    ['[0.2, 0.6, 1.0]', [0.2, 0.6, 1], 'json', 0],
    ['[]', undefined, 'json', 1],
    ['[0.5, 2, -1]', [0.5, 1, 0], 'json', 2],
    ['["a", 0.5]', [0.5], 'json', 1],
    ['[[0.1, 0.2]]', undefined, 'json', 2],
    ['[0.3, null, true]', [0.3], 'json', 2],
    ['0.2,1.5,-1', [0.2, 1, 0], 'csv', 2],
    [' 0.25 , 0.5,, ', [0.25, 0.5], 'csv', 0],
    ['[0.1, 0.2', [0.1, 0.2], 'csv', 0],
    ['{"a":1}', undefined, 'none', 1],
    ['0.1, abc', undefined, 'none', 1],
    ['0.1, inf', undefined, 'none', 1],
    ['', undefined, 'csv', 1],
    ['0.5', [0.5], 'csv', 0],
  ] as const)('%j → %j (%s, %d problems)', (text, values, format, problems) => {
    const r = parseAlphaVector(text);
    // '0.5' is JSON, but a number, not a list: read as CSV.
    expect(r.values).toEqual(values);
    expect(r.format).toBe(format);
    expect(r.problems).toHaveLength(problems);
  });
});

describe('parseBlendAnnotations (K7)', () => {
  test('no or blank blend_mode: no configuration, nothing reported (the seed keeps its own)', () => {
    expect(parseBlendAnnotations({})).toEqual({ config: undefined, issues: [] });
    expect(parseBlendAnnotations({ blend_mode: '  ', gate_k: 'x' })).toEqual({ config: undefined, issues: [] });
  });

  test('CONFIDENCE with every value: taken as sent, source copied', () => {
    const r = parseBlendAnnotations({ blend_mode: 'CONFIDENCE', blend_mode_source: 'override', gate_k: '4.0', gate_tau: '0.2', alpha_lo: '0.1', alpha_hi: '0.9' });
    expect(r).toEqual({ config: { mode: 'CONFIDENCE', source: 'override', confidence: { gateK: 4, gateTau: 0.2, alphaLo: 0.1, alphaHi: 0.9 } }, issues: [] });
  });

  test('CONFIDENCE with gate_k=-3, gate_tau=abc, alpha_lo=0.9, alpha_hi=0.2: k 0, τ 0.2, lo 0.2, hi 0.9, each reported', () => {
    const r = parseBlendAnnotations({ blend_mode: 'confidence', gate_k: '-3', gate_tau: 'abc', alpha_lo: '0.9', alpha_hi: '0.2' });
    expect(r.config).toEqual({ mode: 'CONFIDENCE', confidence: { gateK: 0, gateTau: 0.2, alphaLo: 0.2, alphaHi: 0.9 } });
    expect(r.issues.map((i) => i.key)).toEqual(['gate_k', 'gate_tau', 'alpha_hi']);
    expect(r.issues[0]).toMatchObject({ value: '-3', reason: expect.stringContaining('using 0') });
    expect(r.issues[1]).toMatchObject({ value: 'abc', reason: expect.stringContaining('default 0.2') });
    expect(r.issues[2]!.reason).toContain('swapped');
  });

  test('CONFIDENCE defaults come from the caller (the confidenceGate config); out-of-range alphas clamp', () => {
    const r = parseBlendAnnotations({ blend_mode: '3', alpha_lo: '-0.5', alpha_hi: '7' }, { gateK: 2, gateTau: 0.5, alphaLo: 0.1, alphaHi: 0.8 });
    expect(r.config).toEqual({ mode: 'CONFIDENCE', confidence: { gateK: 2, gateTau: 0.5, alphaLo: 0, alphaHi: 1 } });
    expect(r.issues.map((i) => i.key)).toEqual(['alpha_lo', 'alpha_hi']);
  });

  test('CHANNEL with alpha_vec "[0.2, 0.6, 1.0]": the vector; without one, or with nothing readable, no vector and a report', () => {
    expect(parseBlendAnnotations({ blend_mode: 'CHANNEL', alpha_vec: '[0.2, 0.6, 1.0]', alpha_vec_len: '99' })).toEqual({ config: { mode: 'CHANNEL', alphaVec: [0.2, 0.6, 1] }, issues: [] });
    const missing = parseBlendAnnotations({ blend_mode: 'CHANNEL' });
    expect(missing.config).toEqual({ mode: 'CHANNEL' });
    expect(missing.issues).toEqual([{ key: 'alpha_vec', value: '', reason: expect.stringContaining('CONVEX') }]);
    const junk = parseBlendAnnotations({ blend_mode: 'CHANNEL', alpha_vec: '{"a":1}' });
    expect(junk.config).toEqual({ mode: 'CHANNEL' });
    expect(junk.issues).toEqual([{ key: 'alpha_vec', value: '{"a":1}', reason: expect.stringContaining('blends as CONVEX') }]);
  });

  test('an unknown mode is stored as CONVEX and reported; other keys of other modes are ignored', () => {
    const r = parseBlendAnnotations({ blend_mode: 'FOO', gate_k: 'x', alpha_vec: 'y', blend_mode_source: 'heuristic' });
    expect(r.config).toEqual({ mode: 'CONVEX', source: 'heuristic' });
    expect(r.issues).toEqual([{ key: 'blend_mode', value: 'FOO', reason: expect.stringContaining('using CONVEX') }]);
    expect(parseBlendAnnotations({ blend_mode: 'residual' })).toEqual({ config: { mode: 'RESIDUAL' }, issues: [] });
  });
});

describe('resolveBlend: the values the graph gets', () => {
  test('each mode, and CHANNEL falling back to CONVEX when the vector does not fit the slot', () => {
    expect(resolveBlend(undefined, 3)).toEqual({ mode: 'CONVEX', values: CONVEX_BLEND });
    expect(resolveBlend({ mode: 'RESIDUAL' }, 3).values).toEqual({ ...CONVEX_BLEND, residual: 1 });
    expect(resolveBlend({ mode: 'CHANNEL', alphaVec: [0.2, 0.6, 1] }, 3)).toEqual({ mode: 'CHANNEL', values: { ...CONVEX_BLEND, alphaVec: [0.2, 0.6, 1] } });
    expect(resolveBlend({ mode: 'CHANNEL', alphaVec: [0.2, 0.6] }, 3)).toEqual({ mode: 'CONVEX', fallback: 'alpha_vec has 2 values, the slot is 3 wide', values: CONVEX_BLEND });
    expect(resolveBlend({ mode: 'CHANNEL' }, 3)).toMatchObject({ mode: 'CONVEX', fallback: 'CHANNEL without an alpha_vec' });
    const confidence = { gateK: 4, gateTau: 0.1, alphaLo: 0.1, alphaHi: 0.9 };
    expect(resolveBlend({ mode: 'CONFIDENCE', confidence }, 3)).toEqual({ mode: 'CONFIDENCE', values: { ...CONVEX_BLEND, confidence: 1, ...confidence } });
  });
});
