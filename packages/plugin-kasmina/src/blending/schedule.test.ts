import { describe, expect, test } from 'vitest';
import { alphaAt, type AlphaScheduleSpec } from './schedule.js';

const linear: AlphaScheduleSpec = { blendingOptimizerSteps: 100, alphaRamp: 'linear', sigmoidTemperatureRatio: 0.1 };
const sigmoid: AlphaScheduleSpec = { ...linear, alphaRamp: 'sigmoid' };

describe('alphaAt', () => {
  test.each([linear, sigmoid])('$alphaRamp: 0 at the start, exactly 1 from T on, strictly inside (0, 1) between, non-decreasing', (spec) => {
    expect(alphaAt(0, spec)).toBe(0);
    expect(alphaAt(-5, spec)).toBe(0);
    expect(alphaAt(100, spec)).toBe(1);
    expect(alphaAt(250, spec)).toBe(1);
    let previous = 0;
    for (let t = 1; t < 100; t++) {
      const a = alphaAt(t, spec);
      expect(a).toBeGreaterThan(0);
      expect(a).toBeLessThan(1);
      expect(a).toBeGreaterThanOrEqual(previous);
      expect(Math.fround(a)).toBe(a);
      previous = a;
    }
  });

  test('linear is t / T in float32', () => {
    expect(alphaAt(25, linear)).toBe(Math.fround(0.25));
    expect(alphaAt(64, linear)).toBe(Math.fround(0.64));
  });

  test('sigmoid is the reference curve, rescaled to [0, 1], symmetric around T/2', () => {
    expect(alphaAt(50, sigmoid)).toBeCloseTo(0.5, 6);
    expect(alphaAt(25, sigmoid) + alphaAt(75, sigmoid)).toBeCloseTo(1, 6);
    // Reference (T = 20, τ = 2): σ((5 − 10) / 2) = 0.075858 before rescaling.
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    const expected = (s(-2.5) - s(-5)) / (s(5) - s(-5));
    expect(alphaAt(5, { blendingOptimizerSteps: 20, alphaRamp: 'sigmoid', sigmoidTemperatureRatio: 0.1 })).toBeCloseTo(expected, 6);
    // Steeper than linear in the middle, flatter at the ends.
    expect(alphaAt(10, sigmoid)).toBeLessThan(alphaAt(10, linear));
    expect(alphaAt(60, sigmoid)).toBeGreaterThan(alphaAt(60, linear));
  });

  test('T = 0 means α is 1 at once', () => {
    expect(alphaAt(0, { ...linear, blendingOptimizerSteps: 0 })).toBe(1);
  });
});
