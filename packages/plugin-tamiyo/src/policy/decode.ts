import { create } from '@bufbuild/protobuf';
import {
  AdaptationCommandSchema,
  CircuitBreakerState,
  CommandCircuitBreakerSchema,
  CommandOptimizerAdjustmentSchema,
  CommandSeedOperationSchema,
  CommandType,
  SeedLifecycleStage,
  SeedOperation,
  type AdaptationCommand,
  type SystemStatePacket,
} from '@esper/core/leyline';
import { averageCoverage, coverageTypesJson, type PolicyGraph } from '../graph/builder.js';
import { BLENDING_METHODS } from '../graph/registry.js';
import { TAMIYO_ISSUER } from '../heuristic/commands.js';

/** The policy's outputs as plain arrays (names of `POLICY_OUTPUTS`). */
export type PolicyOutputs = Readonly<Record<string, ArrayLike<number>>>;

/** Policy actions with a meaning (tamiyo §5.7); classes 5–31 act as PAUSE. */
export const POLICY_ACTIONS = { seed: 0, optimizer: 1, pause: 2, breakerOpen: 3, breakerClose: 4 } as const;

/** The reference's `last_action` record (tamiyo §5.6). */
export interface LastAction {
  readonly action: number;
  readonly paramDelta: number;
  readonly paramVector: readonly number[];
  readonly blendingMethod: string;
  readonly blendingIndex: number;
  readonly valueEstimate: number;
  readonly riskIndex: number;
  readonly riskScore: number;
  readonly targetSeed: string;
  readonly blueprintId: string;
  readonly scheduleStart: number;
  readonly scheduleEnd: number;
  readonly selectedSeedIndex: number;
  readonly selectedSeedScore: number;
  readonly selectedBlueprintIndex: number;
}

/** A decoded decision: the unsigned command and its record. */
export interface PolicyDecision {
  readonly command: AdaptationCommand;
  readonly lastAction: LastAction;
}

/** What decoding needs besides the outputs. */
export interface DecodeContext {
  readonly packet: SystemStatePacket;
  readonly graph: PolicyGraph;
  /** `policy_version` annotation (the architecture version or the loaded policy's version). */
  readonly policyVersion: string;
  /** Blending methods in order (default `linear`, `cosine`, `warmup_hold`). */
  readonly blendingMethods?: readonly string[] | undefined;
  /**
   * Seed-operation parameters the blueprint accepts (its descriptor's `allowed_parameters`).
   * When given, the graft's `alpha`, `blending_method_index` and schedule go into
   * `seed_operation.parameters` only if listed, and into annotations otherwise (Kasmina's
   * G0 gate refuses unknown parameters). Unset: all four as parameters, as the reference.
   */
  readonly allowedParameters?: readonly string[] | undefined;
}

const f6 = (v: number) => v.toFixed(6);
const f4 = (v: number) => v.toFixed(4);
const finite = (v: number) => (Number.isFinite(v) ? v : 0);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Index of the largest value (first on ties), −1 when empty. Softmax keeps the order, so argmax of logits is argmax of probabilities. */
export function argmax(values: ArrayLike<number>, allowed?: (i: number) => boolean): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (allowed !== undefined && !allowed(i)) continue;
    const v = values[i] as number;
    if (best === -1 || v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** Softmax of a small vector (float64). */
export function softmax(values: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i] as number);
  const e = Array.from(values, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The neutral record of the no-seed fast path and of a failed inference (tamiyo §5.6). */
export function neutralAction(blendingMethod: string = BLENDING_METHODS[0]): LastAction {
  return {
    action: POLICY_ACTIONS.pause,
    paramDelta: 0,
    paramVector: [],
    blendingMethod,
    blendingIndex: 0,
    valueEstimate: 0,
    riskIndex: 0,
    riskScore: 0,
    targetSeed: '',
    blueprintId: '',
    scheduleStart: 0,
    scheduleEnd: 0,
    selectedSeedIndex: -1,
    selectedSeedScore: 0,
    selectedBlueprintIndex: -1,
  };
}

/** The growth loop's WAIT (`COMMAND_PAUSE`, empty target, `decision=wait`) with the policy's annotations. */
function pauseCommand(annotations: Record<string, string>): AdaptationCommand {
  return create(AdaptationCommandSchema, { version: 1, commandType: CommandType.COMMAND_PAUSE, targetSeedId: '', issuedBy: TAMIYO_ISSUER, annotations });
}

function policyAnnotations(a: LastAction, policyVersion: string, packet: SystemStatePacket): Record<string, string> {
  return {
    controller: 'gnn',
    epoch: String(packet.currentEpoch),
    policy_action: String(a.action),
    policy_param_delta: f6(a.paramDelta),
    policy_version: policyVersion,
    blending_method: a.blendingMethod,
    policy_value_estimate: f6(a.valueEstimate),
    policy_risk_index: String(a.riskIndex),
    policy_risk_score: f6(a.riskScore),
  };
}

/**
 * The neutral PAUSE of the no-seed fast path (tamiyo §5.2 step 2), as the growth loop's WAIT:
 * `reason=no_seed_candidates`.
 */
export function neutralDecision(ctx: Omit<DecodeContext, 'graph'> & { graph?: PolicyGraph }, reason: string): PolicyDecision {
  const lastAction = neutralAction(ctx.blendingMethods?.[0]);
  const annotations = policyAnnotations(lastAction, ctx.policyVersion, ctx.packet);
  annotations.decision = 'wait';
  annotations.reason = reason;
  if (reason === 'no_seed_candidates') annotations.risk_reason = 'no_seed_candidates';
  if (ctx.graph !== undefined) addCoverage(annotations, ctx.graph);
  return { command: pauseCommand(annotations), lastAction };
}

function addCoverage(annotations: Record<string, string>, graph: PolicyGraph): void {
  annotations.feature_coverage = averageCoverage(graph.coverage).toFixed(3);
  annotations.coverage_types = coverageTypesJson(graph.coverage);
}

/**
 * Decodes the policy's outputs into a command (tamiyo §5.4–§5.7): action = argmax of the
 * policy logits; param delta, blending method, schedule (mapped to fractions in [0, 1], start ≤
 * end), value, risk (index and winning probability); the target seed by the model's seed scores
 * and the blueprint node. Port adaptations (decision 0058): a seed graft (action 0) only
 * targets a DORMANT seed (a free slot; the executor refuses others), and a PAUSE is the
 * growth loop's WAIT (empty target, `decision=wait`, `reason=policy`).
 */
export function decodeDecision(outputs: PolicyOutputs, ctx: DecodeContext): PolicyDecision {
  const { packet, graph } = ctx;
  const methods = ctx.blendingMethods ?? BLENDING_METHODS;
  const logits = outputs.policy_logits ?? [];
  let action = Math.max(0, argmax(logits));
  const params = Array.from(outputs.policy_params ?? [], finite);
  const paramDelta = finite((outputs.param_delta ?? params)[0] ?? 0);
  const blendingIndex = Math.max(0, argmax(outputs.blending_logits ?? [0])) % methods.length;
  const blendingMethod = methods[blendingIndex] as string;
  const valueEstimate = finite(outputs.value?.[0] ?? 0);
  const riskProbs = softmax(outputs.risk_logits ?? [0]);
  const riskIndex = Math.max(0, argmax(riskProbs));
  const riskScore = riskProbs[riskIndex] ?? 0;
  const sched = outputs.schedule_params;
  let start = 0;
  let end = 0;
  if (sched !== undefined && sched.length >= 2) {
    start = Math.min(1, Math.max(0, (finite(sched[0] as number) + 1) / 2));
    end = Math.min(1, Math.max(0, (finite(sched[1] as number) + 1) / 2));
    if (end < start) [start, end] = [end, start];
  }

  // Seed: model scores if they cover every seed, else the builder's fallback scores.
  const S = graph.seedIds.length;
  const modelScores = outputs.seed_scores;
  const scores: ArrayLike<number> = modelScores !== undefined && modelScores.length === S ? modelScores : graph.seedFallbackScores;
  const free = (i: number) => graph.seedIds[i] !== '' && packet.seedStates[i]?.stage === SeedLifecycleStage.SEED_STAGE_DORMANT;
  const valid = (i: number) => graph.seedIds[i] !== '';
  const seedIndex = argmax(scores, action === POLICY_ACTIONS.seed ? free : valid);
  const targetSeed = seedIndex >= 0 ? (graph.seedIds[seedIndex] as string) : '';
  const seedScore = seedIndex >= 0 ? finite(scores[seedIndex] as number) : 0;
  if (action === POLICY_ACTIONS.seed && seedIndex < 0) action = POLICY_ACTIONS.pause;
  const blueprintIndex = 0;

  const lastAction: LastAction = {
    action: argmax(logits),
    paramDelta,
    paramVector: params,
    blendingMethod,
    blendingIndex,
    valueEstimate,
    riskIndex,
    riskScore,
    targetSeed,
    blueprintId: graph.blueprintId,
    scheduleStart: start,
    scheduleEnd: end,
    selectedSeedIndex: seedIndex,
    selectedSeedScore: seedScore,
    selectedBlueprintIndex: blueprintIndex,
  };
  const annotations = policyAnnotations(lastAction, ctx.policyVersion, packet);
  const breaker = outputs.breaker_logits;
  if (breaker !== undefined && breaker.length >= 2) {
    annotations.breaker_open_score = f4(sigmoid(breaker[0] as number));
    annotations.breaker_close_score = f4(sigmoid(breaker[1] as number));
  }
  annotations.blending_schedule_units = 'fraction_0_1';
  annotations.blending_schedule_start = f4(start);
  annotations.blending_schedule_end = f4(end);
  addCoverage(annotations, graph);
  if (targetSeed !== '') annotations.selected_seed = targetSeed;
  annotations.selected_blueprint = graph.blueprintId;

  const base = { version: 1, issuedBy: TAMIYO_ISSUER, annotations } as const;
  let command: AdaptationCommand;
  switch (action) {
    case POLICY_ACTIONS.seed: {
      annotations.decision = 'germinate';
      annotations.reason = 'policy';
      const graft: Record<string, number> = {
        alpha: Math.max(0, 0.1 + paramDelta),
        blending_method_index: blendingIndex,
        blending_schedule_start: start,
        blending_schedule_end: end,
      };
      const parameters: Record<string, number> = {};
      for (const [key, value] of Object.entries(graft)) {
        if (ctx.allowedParameters === undefined || ctx.allowedParameters.includes(key)) parameters[key] = value;
        else if (key === 'alpha' || key === 'blending_method_index') annotations[`policy_${key}`] = key === 'alpha' ? f4(value) : String(value);
      }
      command = create(AdaptationCommandSchema, {
        ...base,
        commandType: CommandType.COMMAND_SEED,
        targetSeedId: targetSeed,
        payload: {
          case: 'seedOperation',
          value: create(CommandSeedOperationSchema, {
            operation: SeedOperation.SEED_OP_GERMINATE,
            blueprintId: graph.blueprintId,
            parameters,
          }),
        },
      });
      break;
    }
    case POLICY_ACTIONS.optimizer:
      annotations.decision = 'optimizer';
      annotations.reason = 'policy';
      command = create(AdaptationCommandSchema, {
        ...base,
        commandType: CommandType.COMMAND_OPTIMIZER,
        targetSeedId: '',
        payload: { case: 'optimizerAdjustment', value: create(CommandOptimizerAdjustmentSchema, { optimizerId: 'sgd', hyperparameters: { lr_delta: paramDelta } }) },
      });
      break;
    case POLICY_ACTIONS.breakerOpen:
    case POLICY_ACTIONS.breakerClose:
      annotations.decision = 'circuit_breaker';
      annotations.reason = 'policy';
      command = create(AdaptationCommandSchema, {
        ...base,
        commandType: CommandType.COMMAND_CIRCUIT_BREAKER,
        targetSeedId: '',
        payload: {
          case: 'circuitBreaker',
          value: create(CommandCircuitBreakerSchema, {
            desiredState: action === POLICY_ACTIONS.breakerOpen ? CircuitState.OPEN : CircuitState.CLOSED,
            rationale: 'policy_action',
          }),
        },
      });
      break;
    default:
      annotations.decision = 'wait';
      annotations.reason = 'policy';
      if (targetSeed === '' || (argmax(logits) === POLICY_ACTIONS.seed && seedIndex < 0)) annotations.risk_reason ??= 'no_seed_candidates';
      command = pauseCommand(annotations);
  }
  return { command, lastAction };
}

const CircuitState = { OPEN: CircuitBreakerState.CIRCUIT_STATE_OPEN, CLOSED: CircuitBreakerState.CIRCUIT_STATE_CLOSED } as const;
