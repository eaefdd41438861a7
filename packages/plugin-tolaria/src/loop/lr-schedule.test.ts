import { describe, expect, it } from 'vitest';
import { learningRateAt, type LrSchedule } from './lr-schedule.js';

const base: LrSchedule = { policy: 'off', base: 0.1, warmupSteps: 0, cosineTMaxSteps: 10, stepSizeEpochs: 10, stepGamma: 0.5 };

describe('learningRateAt (reference tolaria §3.7)', () => {
  it('cosine with warm-up 2, t_max 10, base 0.1: 0.05, 0.1, 0.1, 0.0975528 (the reference acceptance)', () => {
    const s = { ...base, policy: 'cosine' as const, warmupSteps: 2 };
    expect([0, 1, 2].map((k) => learningRateAt(s, k, 0))).toEqual([0.05, 0.1, 0.1]);
    expect(learningRateAt(s, 3, 0)).toBeCloseTo(0.0975528, 6);
    expect(learningRateAt(s, 100, 0)).toBeCloseTo(0, 12);
  });

  it('step decays by γ every step_size epochs; constant and off keep the base', () => {
    const s = { ...base, policy: 'step' as const, stepSizeEpochs: 2 };
    expect([0, 1, 2, 5].map((e) => learningRateAt(s, 0, e))).toEqual([0.1, 0.1, 0.05, 0.025]);
    expect(learningRateAt({ ...base, policy: 'constant' }, 999, 9)).toBe(0.1);
    expect(learningRateAt(base, 999, 9)).toBe(0.1);
    expect(learningRateAt({ ...base, warmupSteps: 20 }, 0, 0)).toBeCloseTo(0.01, 12);
  });
});
