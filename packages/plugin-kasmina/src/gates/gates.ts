import { SeedLifecycleGate, SeedLifecycleGateSchema, SeedLifecycleStage, enumName, type BlueprintDescriptor } from '@esper/core/leyline';

const G = SeedLifecycleGate;
const S = SeedLifecycleStage;

/**
 * What the gates read, assembled by the executor from the seed, the composed graph and the last
 * training observations when a gate is evaluated. Every field is a measured value, not a flag
 * the executor sets for the gate's sake.
 */
export interface GateInput {
  readonly seedId: string;
  /** G0: the blueprint id of the GERMINATE (trimmed). */
  readonly blueprintId: string;
  /** G0: the catalogue's descriptor of that id, `undefined` when the catalogue lacks it. */
  readonly blueprint: BlueprintDescriptor | undefined;
  /** G0: the command's `seed_operation.parameters`. */
  readonly parameters: Readonly<Record<string, number>>;
  /** G0, G3: whether a host model is attached. */
  readonly hostAttached: boolean;
  /**
   * G0: problems found building the kernel at the slot (its output must have the slot's dtype and
   * shape `[batch, features]`). G3: problems found in the composed graph (the seed's blend output,
   * parameters and control inputs). Empty when it fits.
   */
  readonly interfaceIssues: readonly string[];
  /** G1: whether the seed's kernel is spliced into the current composition. */
  readonly kernelAttached: boolean;
  /** G1, G2, G4, G5: isolation violations recorded for the seed (see the README's isolation checks). */
  readonly isolationViolations: number;
  /** G1, G4: L2 norm of the host gradient at the last observed step (`undefined` before any step). */
  readonly hostGradNorm: number | undefined;
  /** G2: optimizer steps the seed took while TRAINING. */
  readonly trainingSteps: number;
  /** G2, G4: L2 norm of the seed's gradient at the last observed step. */
  readonly seedGradNorm: number | undefined;
  /** G2: time to build and splice the kernel at germination, in ms. */
  readonly kernelLatencyMs: number;
  readonly latencyBudgetMs: number;
  /** G4: mean training loss of the last observed run of steps. */
  readonly loss: number | undefined;
  /** G4: the same when the seed entered BLENDING. */
  readonly lossAtBlendingStart: number | undefined;
  /** G4: largest accepted `loss / lossAtBlendingStart`. */
  readonly maxLossRatio: number;
  /** G5: whether any parameter or control input of the seed is still in the composed graph. */
  readonly inComposition: boolean;
}

/** Outcome of one gate. */
export interface GateResult {
  readonly gate: SeedLifecycleGate;
  readonly passed: boolean;
  /** Why it failed (empty when passed). */
  readonly reason: string;
  /** Details for the `gate_event` telemetry event (strings, as Leyline attributes are). */
  readonly attributes: Readonly<Record<string, string>>;
}

/** The gate that guards entry into each gated stage (reference kasmina §5). */
export const GATE_FOR_STAGE: ReadonlyMap<SeedLifecycleStage, SeedLifecycleGate> = new Map([
  [S.SEED_STAGE_GERMINATED, G.SEED_GATE_G0_SANITY],
  [S.SEED_STAGE_TRAINING, G.SEED_GATE_G1_GRADIENT_HEALTH],
  [S.SEED_STAGE_BLENDING, G.SEED_GATE_G2_STABILITY],
  [S.SEED_STAGE_SHADOWING, G.SEED_GATE_G3_INTERFACE],
  [S.SEED_STAGE_PROBATIONARY, G.SEED_GATE_G4_SYSTEM_IMPACT],
  [S.SEED_STAGE_DORMANT, G.SEED_GATE_G5_RESET],
]);

/** Leyline name of a gate (`SEED_GATE_G2_STABILITY`). */
export function gateName(gate: SeedLifecycleGate): string {
  return enumName(SeedLifecycleGateSchema, gate) ?? String(gate);
}

const fmt = (n: number | undefined): string => (n === undefined ? 'none' : Number.isFinite(n) ? n.toPrecision(6) : String(n));
const isFiniteNumber = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n);

function pass(gate: SeedLifecycleGate, attributes: Record<string, string> = {}): GateResult {
  return { gate, passed: true, reason: '', attributes };
}
function fail(gate: SeedLifecycleGate, reason: string, attributes: Record<string, string> = {}): GateResult {
  return { gate, passed: false, reason, attributes };
}

/** G0 sanity (→ GERMINATED): the blueprint exists and may be grafted here, with valid options. */
function g0(i: GateInput): GateResult {
  const gate = G.SEED_GATE_G0_SANITY;
  if (i.blueprintId === '') return fail(gate, 'missing blueprint id', { blueprint_id: '' });
  const bp = i.blueprint;
  if (bp === undefined) return fail(gate, `unknown blueprint ${i.blueprintId}`, { blueprint_id: i.blueprintId });
  if (bp.quarantineOnly) return fail(gate, `blueprint ${i.blueprintId} is quarantine-only`, { blueprint_id: i.blueprintId });
  for (const [key, value] of Object.entries(i.parameters)) {
    if (!Number.isFinite(value)) return fail(gate, `parameter ${key} invalid`, { parameter: key });
    const bounds = bp.allowedParameters[key];
    if (bounds === undefined) return fail(gate, `parameter ${key} not allowed by blueprint ${i.blueprintId}`, { parameter: key });
    if (value < bounds.minValue || value > bounds.maxValue) {
      return fail(gate, `parameter ${key} out of bounds [${bounds.minValue}, ${bounds.maxValue}]`, { parameter: key, value: String(value) });
    }
  }
  if (!i.hostAttached) return fail(gate, 'host model not attached', { host_attached: 'false' });
  if (i.interfaceIssues.length > 0) return fail(gate, `interface mismatch: ${i.interfaceIssues.join('; ')}`, { interface: 'failed' });
  return pass(gate, { blueprint_id: i.blueprintId });
}

/** G1 gradient health (→ TRAINING): the kernel is in the graph, isolated, and the host's gradient is finite. */
function g1(i: GateInput): GateResult {
  const gate = G.SEED_GATE_G1_GRADIENT_HEALTH;
  if (!i.kernelAttached) return fail(gate, 'kernel not attached', { kernel_attached: 'false' });
  if (i.isolationViolations > 0) return fail(gate, 'gradient isolation violations present', { violations: String(i.isolationViolations) });
  if (i.hostGradNorm !== undefined && !Number.isFinite(i.hostGradNorm)) return fail(gate, 'host gradient not finite', { host_grad_norm: fmt(i.hostGradNorm) });
  return pass(gate, { kernel_attached: 'true', host_grad_norm: fmt(i.hostGradNorm) });
}

/** G2 stability (→ BLENDING): the seed trained, its gradient is finite and non-zero, and its kernel met the latency budget. */
function g2(i: GateInput): GateResult {
  const gate = G.SEED_GATE_G2_STABILITY;
  if (i.isolationViolations > 0) return fail(gate, 'gradient isolation violations present', { violations: String(i.isolationViolations) });
  if (i.trainingSteps <= 0) return fail(gate, 'seed has not trained', { training_steps: '0' });
  if (!isFiniteNumber(i.seedGradNorm)) return fail(gate, 'seed gradient not finite', { seed_grad_norm: fmt(i.seedGradNorm) });
  if (i.seedGradNorm === 0) return fail(gate, 'seed received no gradient', { seed_grad_norm: '0' });
  if (i.kernelLatencyMs > i.latencyBudgetMs) {
    return fail(gate, 'latency budget exceeded', { latency_ms: i.kernelLatencyMs.toFixed(2), budget_ms: i.latencyBudgetMs.toFixed(2) });
  }
  return pass(gate, { training_steps: String(i.trainingSteps), seed_grad_norm: fmt(i.seedGradNorm), latency_ms: i.kernelLatencyMs.toFixed(2) });
}

/** G3 interface (→ SHADOWING): the composed graph still carries the seed's blend output, parameters and controls as built. */
function g3(i: GateInput): GateResult {
  const gate = G.SEED_GATE_G3_INTERFACE;
  if (!i.hostAttached) return fail(gate, 'host model not registered', { host_params_registered: 'false' });
  if (i.interfaceIssues.length > 0) return fail(gate, `interface checks incomplete: ${i.interfaceIssues.join('; ')}`, { interface: 'failed' });
  return pass(gate, { interface: 'ok' });
}

/** G4 system impact (→ PROBATIONARY): no violations, finite gradients, and the training loss did not rise past the allowed ratio since blending began. */
function g4(i: GateInput): GateResult {
  const gate = G.SEED_GATE_G4_SYSTEM_IMPACT;
  if (i.isolationViolations > 0) return fail(gate, 'violations recorded', { violations: String(i.isolationViolations) });
  if (i.hostGradNorm !== undefined && !Number.isFinite(i.hostGradNorm)) return fail(gate, 'host gradient not finite', { host_grad_norm: fmt(i.hostGradNorm) });
  if (i.seedGradNorm !== undefined && !Number.isFinite(i.seedGradNorm)) return fail(gate, 'seed gradient not finite', { seed_grad_norm: fmt(i.seedGradNorm) });
  if (i.loss !== undefined && !Number.isFinite(i.loss)) return fail(gate, 'training loss not finite', { loss: fmt(i.loss) });
  if (isFiniteNumber(i.loss) && isFiniteNumber(i.lossAtBlendingStart) && i.lossAtBlendingStart > 0 && i.loss > i.lossAtBlendingStart * i.maxLossRatio) {
    return fail(gate, `training loss rose from ${fmt(i.lossAtBlendingStart)} to ${fmt(i.loss)}, more than ${i.maxLossRatio}×`, {
      loss: fmt(i.loss),
      loss_at_blending_start: fmt(i.lossAtBlendingStart),
      max_loss_ratio: String(i.maxLossRatio),
    });
  }
  return pass(gate, { loss: fmt(i.loss), loss_at_blending_start: fmt(i.lossAtBlendingStart) });
}

/** G5 reset (→ DORMANT after RESETTING): nothing of the seed is left in the composed graph and it has no violations. */
function g5(i: GateInput): GateResult {
  const gate = G.SEED_GATE_G5_RESET;
  if (i.inComposition) return fail(gate, 'reset state not clean', { in_composition: 'true' });
  if (i.isolationViolations > 0) return fail(gate, 'reset state not clean', { violations: String(i.isolationViolations) });
  return pass(gate);
}

const RULES: ReadonlyMap<SeedLifecycleGate, (input: GateInput) => GateResult> = new Map([
  [G.SEED_GATE_G0_SANITY, g0],
  [G.SEED_GATE_G1_GRADIENT_HEALTH, g1],
  [G.SEED_GATE_G2_STABILITY, g2],
  [G.SEED_GATE_G3_INTERFACE, g3],
  [G.SEED_GATE_G4_SYSTEM_IMPACT, g4],
  [G.SEED_GATE_G5_RESET, g5],
]);

/**
 * Evaluates one gate on `input` (a pure function). An unknown gate value fails with
 * `unsupported gate`, as the reference's does.
 */
export function evaluateGate(gate: SeedLifecycleGate, input: GateInput): GateResult {
  const rule = RULES.get(gate);
  if (rule === undefined) return fail(G.SEED_GATE_UNKNOWN, 'unsupported gate', { gate: 'unknown' });
  return rule(input);
}
