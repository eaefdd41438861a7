// The risk engine's parts (decision 0059): breaker transitions on an injected clock, conservative
// mode's exit count, degraded-input thresholds, the loss-delta tracker and Python-style formats.
import { create } from '@bufbuild/protobuf';
import { ManualClock } from '@esper/core';
import { BlueprintTier, CircuitBreakerState, HandlingClass, HazardBand, SystemStatePacketSchema, TelemetryLevel } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { blueprintRisk, blueprintTierName, handlingClass, hazardBand } from '../src/risk/blueprint.js';
import { RiskBreaker } from '../src/risk/breaker.js';
import { ConservativeMode } from '../src/risk/conservative.js';
import { degradedInputEvents } from '../src/risk/degraded.js';
import { pyFixed, pyFloatText } from '../src/risk/format.js';
import { LossDeltaTracker } from '../src/risk/loss-delta.js';

const { CLOSED, OPEN } = { CLOSED: CircuitBreakerState.CIRCUIT_STATE_CLOSED, OPEN: CircuitBreakerState.CIRCUIT_STATE_OPEN };

describe('RiskBreaker', () => {
  const make = () => {
    const clock = new ManualClock();
    return { clock, breaker: new RiskBreaker('inference', () => clock.monotonicMs(), { failureThreshold: 3, cooldownMs: 100 }) };
  };

  test('count, count, open; successes inside the cool-down change nothing; the first one after it closes', () => {
    const { clock, breaker } = make();
    expect([breaker.failure('t'), breaker.failure('t'), breaker.failure('t')].map((e) => [e.level, e.attributes.action, e.attributes.failures])).toEqual([
      [TelemetryLevel.WARNING, 'count', '1'],
      [TelemetryLevel.WARNING, 'count', '2'],
      [TelemetryLevel.CRITICAL, 'open', '3'],
    ]);
    const openedAt = clock.monotonicMs();
    expect(breaker.snapshot()).toEqual({ state: OPEN, failures: 3, openUntilMs: openedAt + 100 });
    clock.advance(50);
    expect(breaker.success()).toBeUndefined();
    expect(breaker.state).toBe(OPEN);
    clock.advance(50);
    expect(breaker.success()).toEqual({ description: 'breaker_event', level: TelemetryLevel.INFO, attributes: { component: 'inference', action: 'close' } });
    expect(breaker.snapshot()).toEqual({ state: CLOSED, failures: 0, openUntilMs: 0 });
  });

  test('a failure while open counts and restarts the cool-down', () => {
    const { clock, breaker } = make();
    for (let i = 0; i < 3; i++) breaker.failure('t');
    clock.advance(90);
    expect(breaker.failure('t').attributes).toMatchObject({ action: 'count', failures: '4' });
    clock.advance(20); // 110 ms after opening, 20 ms after the last failure
    expect(breaker.success()).toBeUndefined();
    clock.advance(80);
    expect(breaker.success()?.attributes.action).toBe('close');
  });

  test('the failure count is leaky: a success while closed takes one off, never below 0', () => {
    const { breaker } = make();
    breaker.failure('t');
    breaker.failure('t');
    breaker.success();
    expect(breaker.snapshot().failures).toBe(1);
    breaker.success();
    breaker.success();
    expect(breaker.snapshot().failures).toBe(0);
    breaker.failure('t');
    breaker.failure('t');
    expect(breaker.state).toBe(CLOSED);
  });
});

describe('ConservativeMode', () => {
  test('enter reports once; settle counts stable decisions and exits at exitAfter; an unstable one restarts', () => {
    const mode = new ConservativeMode(false, 2);
    expect(mode.settle(true)).toBeUndefined(); // off: nothing to count
    expect(mode.enter('loss_spike')).toMatchObject({ description: 'conservative_entered', attributes: { reason: 'loss_spike' } });
    expect(mode.enter('loss_spike')).toBeUndefined();
    expect(mode.settle(true)).toBeUndefined();
    expect(mode.settle(false)).toBeUndefined();
    expect(mode.stableStreak).toBe(0);
    expect(mode.settle(true)).toBeUndefined();
    expect(mode.settle(true)).toMatchObject({ description: 'conservative_exited', level: TelemetryLevel.INFO, attributes: { reason: 'stabilised' } });
    expect(mode.active).toBe(false);
  });
});

describe('degradedInputEvents (§4 step 8)', () => {
  test.each([
    [[0.3, 0.3], undefined],
    [[0.2999, 0.3], TelemetryLevel.WARNING],
    [[0.1, 0.1], TelemetryLevel.WARNING],
    [[0.0999, 0.1], TelemetryLevel.CRITICAL],
    [[0, 0, 0.2], TelemetryLevel.CRITICAL],
  ])('coverage %j → %s', (values, level) => {
    const events = degradedInputEvents(Object.fromEntries(values.map((v, i) => [`k${i}`, v])));
    expect(events[0]?.level).toBe(level);
  });

  test('attributes: mean "%.3f" and the count of keys at 0; Maps work; empty coverage is no event', () => {
    expect(degradedInputEvents(new Map([['a', 0], ['b', 0], ['c', 0.5]]))).toEqual([
      { description: 'degraded_inputs', level: TelemetryLevel.WARNING, attributes: { coverage_avg: '0.167', missing_features: '2' } },
    ]);
    expect(degradedInputEvents({})).toEqual([]);
  });
});

describe('LossDeltaTracker (§4 step 5)', () => {
  const p = (validationLoss: number, metrics: Record<string, number> = {}) => create(SystemStatePacketSchema, { validationLoss, trainingMetrics: metrics });

  test('first call: the packet’s loss_delta metric or 0; then the difference to the previous loss', () => {
    const t = new LossDeltaTracker();
    expect(t.observe(p(0.1, { loss_delta: 0.1 }))).toBe(0.1);
    expect(t.observe(p(0.3, { loss_delta: 9 }))).toBeCloseTo(0.2, 12);
    t.reset();
    expect(t.observe(p(0.5))).toBe(0);
  });
});

describe('blueprint helpers', () => {
  test('risk: a BSDS score ≥ 0 replaces the descriptor risk; an absent or negative one does not', () => {
    expect(blueprintRisk({ risk: 0.3, bsds: { risk_score: 0.7 } })).toBe(0.7);
    expect(blueprintRisk({ risk: 0.3, bsds: { risk_score: 0 } })).toBe(0);
    expect(blueprintRisk({ risk: 0.3, bsds: { hazard_band: 'LOW' } })).toBe(0.3);
    expect(blueprintRisk({ risk: 0.3, bsds: { risk_score: -1 } })).toBe(0.3);
    expect(blueprintRisk({})).toBe(0);
  });

  test('tier names and BSDS enum texts map to Leyline enums', () => {
    expect(blueprintTierName({ tier_index: BlueprintTier.EXPERIMENTAL })).toBe('BLUEPRINT_TIER_EXPERIMENTAL');
    expect(blueprintTierName({ tier_index: 9 })).toBe('9');
    expect(blueprintTierName({})).toBe('BLUEPRINT_TIER_UNSPECIFIED');
    expect(hazardBand(' critical ')).toBe(HazardBand.CRITICAL);
    expect(hazardBand('HAZARD_BAND_HIGH')).toBe(HazardBand.HIGH);
    expect(hazardBand('severe')).toBeUndefined();
    expect(handlingClass('Quarantine')).toBe(HandlingClass.QUARANTINE);
  });
});

describe("Python's %.Nf and str()", () => {
  test.each([
    [0.125, 2, '0.12'],
    [0.375, 2, '0.38'],
    [-0.125, 2, '-0.12'],
    [2.5, 0, '2'],
    [1.005, 2, '1.00'],
    [0.2, 3, '0.200'],
    [0.1 + 0.2, 3, '0.300'],
    [-0.0001, 3, '-0.000'],
    [Number.NaN, 3, 'nan'],
    [Number.POSITIVE_INFINITY, 2, 'inf'],
  ])('pyFixed(%s, %s) = %s', (x, digits, text) => {
    expect(pyFixed(x, digits)).toBe(text);
  });

  test('pyFloatText writes integers with .0', () => {
    expect([pyFloatText(1), pyFloatText(0.7), pyFloatText(0), pyFloatText(0.42)]).toEqual(['1.0', '0.7', '0.0', '0.42']);
  });
});
