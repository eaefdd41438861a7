import { SeedLifecycleGate, SeedLifecycleStage } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { DEFAULT_BLUEPRINTS } from '../blueprints/catalog.js';
import { GATE_FOR_STAGE, evaluateGate, gateName, type GateInput } from './gates.js';

const G = SeedLifecycleGate;
const descriptor = DEFAULT_BLUEPRINTS[0]!.descriptor;

/** A seed for which every gate passes. */
const healthy: GateInput = {
  seedId: 'hidden1',
  blueprintId: descriptor.blueprintId,
  blueprint: descriptor,
  parameters: {},
  hostAttached: true,
  interfaceIssues: [],
  kernelAttached: true,
  isolationViolations: 0,
  hostGradNorm: 0.8,
  trainingSteps: 40,
  seedGradNorm: 0.3,
  kernelLatencyMs: 1.5,
  latencyBudgetMs: 10,
  loss: 0.5,
  lossAtBlendingStart: 0.6,
  maxLossRatio: 1.5,
  inComposition: false,
};

const GATES = [G.SEED_GATE_G0_SANITY, G.SEED_GATE_G1_GRADIENT_HEALTH, G.SEED_GATE_G2_STABILITY, G.SEED_GATE_G3_INTERFACE, G.SEED_GATE_G4_SYSTEM_IMPACT, G.SEED_GATE_G5_RESET];

/** [gate, what is wrong, expected reason (prefix)] */
const FAILURES: ReadonlyArray<readonly [SeedLifecycleGate, Partial<GateInput>, string]> = [
  [G.SEED_GATE_G0_SANITY, { blueprintId: '' }, 'missing blueprint id'],
  [G.SEED_GATE_G0_SANITY, { blueprintId: 'nope', blueprint: undefined }, 'unknown blueprint nope'],
  [G.SEED_GATE_G0_SANITY, { blueprint: { ...descriptor, quarantineOnly: true } }, 'blueprint residual-mlp is quarantine-only'],
  [G.SEED_GATE_G0_SANITY, { parameters: { hidden: Number.NaN } }, 'parameter hidden invalid'],
  [G.SEED_GATE_G0_SANITY, { parameters: { depth: 2 } }, 'parameter depth not allowed by blueprint residual-mlp'],
  [G.SEED_GATE_G0_SANITY, { parameters: { hidden: 0 } }, 'parameter hidden out of bounds [1, 4096]'],
  [G.SEED_GATE_G0_SANITY, { hostAttached: false }, 'host model not attached'],
  [G.SEED_GATE_G0_SANITY, { interfaceIssues: ['kernel output [batch, 3] is not the slot shape [batch, 8]'] }, 'interface mismatch: kernel output'],
  [G.SEED_GATE_G1_GRADIENT_HEALTH, { kernelAttached: false }, 'kernel not attached'],
  [G.SEED_GATE_G1_GRADIENT_HEALTH, { isolationViolations: 1 }, 'gradient isolation violations present'],
  [G.SEED_GATE_G1_GRADIENT_HEALTH, { hostGradNorm: Number.POSITIVE_INFINITY }, 'host gradient not finite'],
  [G.SEED_GATE_G2_STABILITY, { isolationViolations: 2 }, 'gradient isolation violations present'],
  [G.SEED_GATE_G2_STABILITY, { trainingSteps: 0 }, 'seed has not trained'],
  [G.SEED_GATE_G2_STABILITY, { seedGradNorm: Number.NaN }, 'seed gradient not finite'],
  [G.SEED_GATE_G2_STABILITY, { seedGradNorm: undefined }, 'seed gradient not finite'],
  [G.SEED_GATE_G2_STABILITY, { seedGradNorm: 0 }, 'seed received no gradient'],
  [G.SEED_GATE_G2_STABILITY, { kernelLatencyMs: 10.01 }, 'latency budget exceeded'],
  [G.SEED_GATE_G3_INTERFACE, { hostAttached: false }, 'host model not registered'],
  [G.SEED_GATE_G3_INTERFACE, { interfaceIssues: ['control input seed/hidden1/alpha missing'] }, 'interface checks incomplete: control input'],
  [G.SEED_GATE_G4_SYSTEM_IMPACT, { isolationViolations: 1 }, 'violations recorded'],
  [G.SEED_GATE_G4_SYSTEM_IMPACT, { seedGradNorm: Number.NaN }, 'seed gradient not finite'],
  [G.SEED_GATE_G4_SYSTEM_IMPACT, { hostGradNorm: Number.NaN }, 'host gradient not finite'],
  [G.SEED_GATE_G4_SYSTEM_IMPACT, { loss: Number.NaN }, 'training loss not finite'],
  [G.SEED_GATE_G4_SYSTEM_IMPACT, { loss: 0.91, lossAtBlendingStart: 0.6 }, 'training loss rose from 0.600000 to 0.910000, more than 1.5×'],
  [G.SEED_GATE_G5_RESET, { inComposition: true }, 'reset state not clean'],
  [G.SEED_GATE_G5_RESET, { isolationViolations: 1 }, 'reset state not clean'],
];

describe('gates G0–G5', () => {
  test('each gate guards the entry into its stage', () => {
    expect([...GATE_FOR_STAGE].map(([stage, gate]) => [SeedLifecycleStage[stage], gateName(gate)])).toStrictEqual([
      ['SEED_STAGE_GERMINATED', 'SEED_GATE_G0_SANITY'],
      ['SEED_STAGE_TRAINING', 'SEED_GATE_G1_GRADIENT_HEALTH'],
      ['SEED_STAGE_BLENDING', 'SEED_GATE_G2_STABILITY'],
      ['SEED_STAGE_SHADOWING', 'SEED_GATE_G3_INTERFACE'],
      ['SEED_STAGE_PROBATIONARY', 'SEED_GATE_G4_SYSTEM_IMPACT'],
      ['SEED_STAGE_DORMANT', 'SEED_GATE_G5_RESET'],
    ]);
  });

  test.each(GATES.map((g) => [gateName(g), g] as const))('%s passes a healthy seed', (_name, gate) => {
    const result = evaluateGate(gate, healthy);
    expect(result).toMatchObject({ gate, passed: true, reason: '' });
  });

  test.each(FAILURES.map(([gate, change, reason]) => [gateName(gate), reason, gate, change] as const))('%s fails: %s', (_name, reason, gate, change) => {
    const result = evaluateGate(gate, { ...healthy, ...change });
    expect(result.passed).toBe(false);
    expect(result.gate).toBe(gate);
    expect(result.reason.startsWith(reason)).toBe(true);
  });

  test('G0 accepts a hidden width within the blueprint bounds; G2 accepts latency equal to the budget; G4 ignores a loss that fell', () => {
    expect(evaluateGate(G.SEED_GATE_G0_SANITY, { ...healthy, parameters: { hidden: 32 } }).passed).toBe(true);
    expect(evaluateGate(G.SEED_GATE_G2_STABILITY, { ...healthy, kernelLatencyMs: 10 }).passed).toBe(true);
    expect(evaluateGate(G.SEED_GATE_G4_SYSTEM_IMPACT, { ...healthy, loss: 0.1 }).passed).toBe(true);
  });

  test('latency failure reports both figures; an unknown gate fails as unsupported', () => {
    expect(evaluateGate(G.SEED_GATE_G2_STABILITY, { ...healthy, kernelLatencyMs: 25 }).attributes).toStrictEqual({ latency_ms: '25.00', budget_ms: '10.00' });
    expect(evaluateGate(42 as SeedLifecycleGate, healthy)).toMatchObject({ gate: G.SEED_GATE_UNKNOWN, passed: false, reason: 'unsupported gate' });
  });
});
