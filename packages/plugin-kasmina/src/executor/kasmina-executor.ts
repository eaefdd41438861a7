import { create } from '@bufbuild/protobuf';
import {
  SystemClock,
  buildTelemetryPacket,
  priorityForEvents,
  type Clock,
  type CommandOutcome,
  type CommandVerification,
  type ComposedModel,
  type ControlFeedOptions,
  type EventInput,
  type HostModel,
  type Logger,
  type MetricInput,
  type SeedExecutor,
  type StepObservation,
} from '@esper/core';
import {
  SeedLifecycleStage,
  SeedStateSchema,
  TelemetryLevel,
  type AdaptationCommand,
  type MessagePriority,
  type SeedLifecycleGate,
  type SeedOperation,
  type SeedState,
  type TelemetryPacket,
  SeedOperation as Op,
} from '@esper/core/leyline';
import { lookupValue, tensor, type DType, type Shape, type TensorData } from '@esper/onnx';
import { KasminaBlueprintCatalog } from '../blueprints/catalog.js';
import { CONTROL_KEYS, COUNTERFACTUAL_CONTROLS, controlInputName, controlValues, resolveBlend, type ControlValues } from '../blending/controls.js';
import { BLEND_ANNOTATION_KEYS, parseBlendAnnotations, type BlendConfig, type BlendMode } from '../blending/modes.js';
import { alphaAt } from '../blending/schedule.js';
import { operationName, parseCommand } from '../commands/parse.js';
import { HostAttachError, HostNotAttachedError, UnknownSeedError, stageName } from '../errors.js';
import { GATE_FOR_STAGE, evaluateGate, gateName, type GateInput, type GateResult } from '../gates/gates.js';
import { interfaceIssues, isolationIssues, seedNamesIn } from '../grafting/checks.js';
import { composeModel, type GraftedSeed } from '../grafting/compose.js';
import { buildSeedGraph, type SeedGraph } from '../grafting/seed-graph.js';
import { canTransition, isGrafted, transition } from '../lifecycle/transitions.js';
import { SeedContext } from './seed-context.js';
import { DEFAULT_EXECUTOR_SETTINGS, type ExecutorSettings } from './settings.js';

const S = SeedLifecycleStage;

/** A stage change, as the executor reports it (the payload of `seed:stage-changed`). */
export interface SeedStageChange {
  readonly seedId: string;
  readonly from: SeedLifecycleStage;
  readonly to: SeedLifecycleStage;
  /** Epoch in which it happened. */
  readonly epoch: number;
  /** Blueprint of the seed, when it has one. */
  readonly blueprintId?: string;
  /** Why: the seed operation (`SEED_OP_START_TRAINING`), `gate_failed:<gate>: <reason>`, `embargo_elapsed`, … */
  readonly reason: string;
}

/** Verifies commands: the kernel's `CommandSigner`, or core's `CommandVerifier` over a `Signer`. */
export interface CommandVerifierLike {
  verify(command: AdaptationCommand): CommandVerification;
}

/** Where telemetry goes: the kernel's `Telemetry` hub has this shape. */
export interface TelemetryEmitterLike {
  emit(packet: TelemetryPacket, priority: MessagePriority): void | Promise<void>;
}

/** Options of {@link KasminaExecutor}. */
export interface KasminaExecutorOptions {
  /** Checks signature, freshness and replay of every command before anything else. */
  readonly verifier: CommandVerifierLike;
  /** The run seed: seed parameters are initialised from it and their names. */
  readonly runSeed: number;
  /** Blueprints that GERMINATE may name. Default: {@link KasminaBlueprintCatalog} with the default blueprints. */
  readonly catalog?: KasminaBlueprintCatalog;
  /** Growth settings; missing ones take {@link DEFAULT_EXECUTOR_SETTINGS}. */
  readonly settings?: Partial<ExecutorSettings>;
  /** Times kernel builds (G2) and stamps telemetry. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Called, and awaited, for every stage change, in order (the plugin fires `seed:stage-changed`
   * here). A throw is logged and does not undo the change.
   */
  readonly onStageChanged?: (change: SeedStageChange) => void | Promise<void>;
  /** Receives one telemetry packet per command and per flush of queued events. */
  readonly telemetry?: TelemetryEmitterLike;
  readonly logger?: Logger;
}

/** A command outcome that did not apply. */
function rejected(commandId: string, reason: string): CommandOutcome {
  return { applied: false, commandId, reason };
}

const SOURCE = 'kasmina';

/**
 * Kasmina, the seed executor (`SeedExecutor` port): verifies signed `AdaptationCommand`s, runs
 * each slot's seed through the 12-stage lifecycle with gates G0–G5 on entry, grafts blueprint
 * kernels into the host graph and blends them in through per-seed control inputs.
 *
 * The trainer attaches its host once ({@link attachHost}), trains {@link compose}'s graph with
 * {@link controlFeeds} as shared feeds, reports each run of steps with {@link observeSteps}
 * (α advances there), recomposes when {@link topologyVersion} changes, and calls
 * {@link updateEpoch} at every epoch boundary (embargoes end there).
 */
export class KasminaExecutor implements SeedExecutor {
  private readonly verifier: CommandVerifierLike;
  private readonly catalog: KasminaBlueprintCatalog;
  /** The growth settings in force (defaults filled in). */
  readonly settings: ExecutorSettings;
  private readonly clock: Clock;
  private readonly runSeed: number;
  private readonly onStageChanged: ((change: SeedStageChange) => void | Promise<void>) | undefined;
  private readonly telemetry: TelemetryEmitterLike | undefined;
  private readonly logger: Logger | undefined;

  private host: HostModel | undefined;
  private hostParameters = new Set<string>();
  private readonly slotValues = new Map<string, { dtype: DType; shape: Shape | null }>();
  private readonly seeds = new Map<string, SeedContext>();
  private version = 0;
  private composed: ComposedModel | undefined;
  private epoch = 0;
  private globalStep = 0;
  private lastLoss: number | undefined;
  private lastHostGradNorm: number | undefined;
  private totalViolations = 0;
  private events: EventInput[] = [];
  private packets = 0;
  private announcements: SeedStageChange[] = [];
  private settling: Promise<void> = Promise.resolve();

  constructor(options: KasminaExecutorOptions) {
    this.verifier = options.verifier;
    this.catalog = options.catalog ?? new KasminaBlueprintCatalog();
    this.settings = { ...DEFAULT_EXECUTOR_SETTINGS, ...options.settings };
    this.clock = options.clock ?? new SystemClock();
    this.runSeed = options.runSeed;
    this.onStageChanged = options.onStageChanged;
    this.telemetry = options.telemetry;
    this.logger = options.logger;
  }

  // ---------------------------------------------------------------- host and composition

  /**
   * Hands Kasmina the host model, once per run. Every slot becomes a DORMANT seed context.
   *
   * @throws {@link HostAttachError} when a host is already attached, when slot ids or tensors
   *   repeat, when a slot names no float32 `[batch, features]` tensor of the host graph, or when a
   *   host name starts with `seed/` (Kasmina's namespace).
   */
  attachHost(host: HostModel): void {
    if (this.host !== undefined) throw new HostAttachError('A host model is already attached to this executor; attach one host per run (create a new executor for a new run).');
    const graph = host.graph;
    const problems: string[] = [];
    const ids = new Set<string>();
    const tensors = new Set<string>();
    const values = new Map<string, { dtype: DType; shape: Shape | null }>();
    for (const slot of host.slots) {
      if (slot.id === '' || !/^[A-Za-z0-9_.:-]+$/.test(slot.id)) problems.push(`slot id "${slot.id}" must be non-empty letters, digits, _ . : -`);
      if (ids.has(slot.id)) problems.push(`slot id "${slot.id}" is used twice`);
      if (tensors.has(slot.tensor)) problems.push(`tensor "${slot.tensor}" is the slot of two seeds`);
      ids.add(slot.id);
      tensors.add(slot.tensor);
      const info = lookupValue(graph, slot.tensor);
      if (info === undefined) {
        problems.push(`slot ${slot.id} names tensor "${slot.tensor}", which the host graph does not have`);
        continue;
      }
      const last = info.shape?.[info.shape.length - 1];
      if (info.dtype !== 'float32' || info.shape === null || info.shape.length !== 2 || last !== slot.features) {
        problems.push(`slot ${slot.id} tensor "${slot.tensor}" is ${info.dtype} [${info.shape?.join(', ') ?? '?'}], not float32 [batch, ${slot.features}]`);
      }
      values.set(slot.id, { dtype: info.dtype, shape: info.shape });
    }
    const foreign = [...graph.parameters.keys(), ...graph.inputs.map((i) => i.name)].filter((n) => n.startsWith('seed/'));
    if (foreign.length > 0) problems.push(`host names ${foreign.join(', ')} are in Kasmina's "seed/" namespace; rename them`);
    if (problems.length > 0) throw new HostAttachError(`The host model cannot be attached: ${problems.join('; ')}.`);
    this.host = host;
    this.hostParameters = new Set(graph.parameters.keys());
    for (const [id, v] of values) this.slotValues.set(id, v);
    for (const slot of host.slots) this.seeds.set(slot.id, new SeedContext(slot));
    this.composed = undefined;
  }

  /** Topology version of the current seeds: +1 at every graft and every removal. */
  get topologyVersion(): number {
    return this.version;
  }

  /**
   * The host graph with every grafted seed spliced in at its slot (seeds in slot order),
   * memoised per topology version.
   *
   * @throws {@link HostNotAttachedError} before {@link attachHost}.
   */
  compose(): ComposedModel {
    const host = this.requireHost('compose the model');
    if (this.composed === undefined || this.composed.topologyVersion !== this.version) {
      this.composed = composeModel(host, this.graftedSeeds(), this.version);
    }
    return this.composed;
  }

  /**
   * Values (float32) for every control input of the current composition: `seed/<id>/alpha`,
   * `/st`, `/in_gate`, `/host_gate` by the seed's stage and α, and the blend-mode inputs
   * (`/alpha_vec` of the slot's width, `/residual`, `/confidence`, `/gate_k`, `/gate_tau`,
   * `/alpha_lo`, `/alpha_hi`) by its blend configuration from BLENDING on. With
   * `counterfactual`, that seed gets α = 0, the CONVEX blend and no straight-through term (the
   * model without it). A paused seed always gets those counterfactual values (identity
   * substitution).
   *
   * @throws {@link UnknownSeedError} when `counterfactual` names no grafted seed.
   * @throws {@link HostNotAttachedError} before {@link attachHost}.
   */
  controlFeeds(options: ControlFeedOptions = {}): Record<string, TensorData> {
    this.requireHost('supply control feeds');
    const grafted = [...this.seeds.values()].filter((s) => isGrafted(s.stage));
    const cf = options.counterfactual;
    if (cf !== undefined && !grafted.some((s) => s.slot.id === cf)) {
      throw new UnknownSeedError(cf, 'controlFeeds({ counterfactual })', grafted.map((s) => s.slot.id));
    }
    const feeds: Record<string, TensorData> = {};
    for (const seed of grafted) {
      const features = seed.slot.features;
      // A paused seed is substituted by the identity: the controls of the model without it.
      const values: ControlValues = seed.slot.id === cf || seed.paused ? COUNTERFACTUAL_CONTROLS : controlValues(seed.stage, seed.alpha, resolveBlend(seed.blend, features).values);
      for (const key of CONTROL_KEYS) {
        const name = controlInputName(seed.slot.id, key);
        if (key !== 'alphaVec') feeds[name] = tensor('float32', [], Float32Array.of(values[key] as number));
        else {
          const v = values.alphaVec;
          feeds[name] = tensor('float32', [features], typeof v === 'number' ? new Float32Array(features).fill(v) : Float32Array.from(v));
        }
      }
    }
    return feeds;
  }

  /** Which seed owns a parameter of the composed graph, or `null` for host (and unknown) parameters. */
  ownerOf(parameterName: string): string | null {
    for (const seed of this.seeds.values()) if (seed.seed?.parameterNames.includes(parameterName)) return seed.slot.id;
    return null;
  }

  /** Blueprint of the seed in slot `seedId`, or `undefined` when the slot is free or unknown. */
  blueprintOf(seedId: string): string | undefined {
    return this.seeds.get(seedId)?.blueprintId;
  }

  /**
   * The blend of the seed in slot `seedId`: its configuration from the SEED commands'
   * annotations (`undefined`: none, CONVEX) and the mode the graph computes with it at this slot.
   * `undefined` for an unknown slot.
   */
  blendOf(seedId: string): { readonly config: BlendConfig | undefined; readonly mode: BlendMode; readonly fallback?: string } | undefined {
    const seed = this.seeds.get(seedId);
    if (seed === undefined) return undefined;
    const { mode, fallback } = resolveBlend(seed.blend, seed.slot.features);
    return { config: seed.blend, mode, ...(fallback === undefined ? {} : { fallback }) };
  }

  // ---------------------------------------------------------------- training observations

  /**
   * Records a run of optimizer steps: the last gradient norms and the loss (gate inputs), steps
   * spent TRAINING, and α of BLENDING seeds, which advances by `steps`. A seed in TRAINING whose
   * gradient is not finite counts an isolation violation: its output then reaches the host's
   * forward value (0 · ∞ is NaN) despite α = 0.
   */
  observeSteps(observation: StepObservation): void {
    this.globalStep = observation.globalStep;
    this.epoch = Math.max(this.epoch, observation.epoch);
    this.lastLoss = observation.loss;
    this.lastHostGradNorm = observation.hostGradNorm;
    for (const seed of this.seeds.values()) {
      // A paused seed is out of the computation: nothing it does advances (and its gradient is 0).
      if (!isGrafted(seed.stage) || seed.paused) continue;
      const norm = observation.seedGradNorms[seed.slot.id];
      if (norm !== undefined) seed.seedGradNorm = norm;
      if (seed.stage === S.SEED_STAGE_TRAINING) {
        seed.trainingSteps += observation.steps;
        if (norm !== undefined && !Number.isFinite(norm)) {
          this.recordViolation(seed, `seed gradient ${norm} while TRAINING: its output reaches the host forward`);
        }
      } else if (seed.stage === S.SEED_STAGE_BLENDING) {
        this.advanceAlpha(seed.slot.id, observation.steps);
      }
    }
  }

  /** Advances α of a BLENDING seed by `steps` optimizer steps (other stages and paused seeds: no change). */
  advanceAlpha(seedId: string, steps = 1): void {
    const seed = this.seeds.get(seedId);
    if (seed === undefined || seed.stage !== S.SEED_STAGE_BLENDING || seed.paused) return;
    seed.blendSteps += Math.max(0, steps);
    seed.alpha = alphaAt(seed.blendSteps, this.settings);
  }

  /** Sends the telemetry queued since the last packet (e.g. violations seen by {@link observeSteps}), without waiting. */
  finalizeStep(stepIndex: number): void {
    this.globalStep = Math.max(this.globalStep, stepIndex);
    void this.settle();
  }

  /**
   * Epoch boundary: records the epoch and ends the embargo of every seed EMBARGOED for at least
   * `embargoEpochs` epochs (EMBARGOED → RESETTING → G5 → DORMANT: the slot is free again). The
   * stages change before this returns; the promise resolves once the changes are announced
   * (`onStageChanged`) and the telemetry is out, so a trainer should await it.
   */
  updateEpoch(epoch: number): Promise<void> {
    this.epoch = epoch;
    for (const seed of this.seeds.values()) {
      if (seed.stage !== S.SEED_STAGE_EMBARGOED || seed.embargoedEpoch === undefined) continue;
      if (epoch - seed.embargoedEpoch < this.settings.embargoEpochs) continue;
      this.move(seed, S.SEED_STAGE_RESETTING, 'embargo_elapsed');
    }
    // Also retries a seed whose G5 failed at an earlier boundary.
    for (const seed of this.seeds.values()) if (seed.stage === S.SEED_STAGE_RESETTING) this.reset(seed);
    return this.settle();
  }

  // ---------------------------------------------------------------- commands

  /**
   * Verifies and applies a command. Never throws for a rejected command: the outcome carries
   * the reason (`invalid_signature`, `nonce_replayed`, `stale_command`, `unknown_seed:<id>`,
   * `illegal_transition:<from>-><to>`, `gate_failed:<gate>: <why>`, `alpha_not_reached: …`,
   * `unsupported_command:<type>`, …). A failed gate also culls the seed when its stage allows.
   */
  async applyCommand(command: AdaptationCommand): Promise<CommandOutcome> {
    const commandId = command.commandId;
    const verification = this.verifier.verify(command);
    let outcome: CommandOutcome;
    if (!verification.ok) {
      this.event('command_rejected', TelemetryLevel.ERROR, { reason: verification.reason, command_id: commandId });
      outcome = rejected(commandId, verification.reason);
    } else {
      const parsed = parseCommand(command);
      if (parsed.kind === 'wait') {
        outcome = { applied: true, commandId };
      } else if (parsed.kind === 'pause') {
        outcome = this.pauseOrResume(commandId, parsed.seedId, parsed.resume);
        if (!outcome.applied) this.event('seed_operation_rejected', TelemetryLevel.WARNING, { seed_id: parsed.seedId, operation: parsed.resume ? 'resume' : 'pause', reason: outcome.reason, command_id: commandId });
      } else if (parsed.kind === 'unsupported') {
        this.event('unsupported_command', TelemetryLevel.WARNING, { reason: parsed.reason, command_id: commandId });
        outcome = rejected(commandId, parsed.reason);
      } else {
        const seed = this.seeds.get(parsed.seedId);
        const previousBlend = seed?.blend;
        if (seed !== undefined) this.configureBlend(seed, parsed.annotations, commandId);
        outcome = this.applySeedOperation(commandId, parsed.seedId, parsed.operation, parsed.blueprintId, parsed.parameters);
        if (outcome.applied && seed !== undefined) this.ensureConfidenceGate(seed);
        if (!outcome.applied) {
          // A rejected command leaves the seed as it was, blend configuration included.
          if (seed !== undefined) seed.blend = previousBlend;
          this.event('seed_operation_rejected', TelemetryLevel.WARNING, { seed_id: parsed.seedId, operation: operationName(parsed.operation), reason: outcome.reason, command_id: commandId });
        }
      }
    }
    await this.settle();
    return outcome;
  }

  /**
   * The K7 blend-mode parser on a SEED command's annotations (reference kasmina §9.3), before
   * the operation runs: no `blend_mode` keeps the seed's configuration; otherwise the parsed one
   * replaces it (invalid values fall back, never fail the command) and every value not taken as
   * sent, or an `alpha_vec` whose length is not the slot's width, is a `blend_annotation_invalid`
   * WARNING. Mode and parameters are control inputs, so a change applies from the next
   * `controlFeeds()` without recompiling (except a switch to CONFIDENCE: {@link ensureConfidenceGate}).
   */
  private configureBlend(seed: SeedContext, annotations: Readonly<Record<string, string>>, commandId: string): void {
    const parsed = parseBlendAnnotations(annotations, this.settings.confidenceGate);
    const { config } = parsed;
    const issues = [...parsed.issues];
    // The parser does not know the slot: a vector of another width is reported here.
    const fallback = config === undefined ? undefined : resolveBlend(config, seed.slot.features).fallback;
    if (fallback !== undefined && !issues.some((i) => i.key === BLEND_ANNOTATION_KEYS.alphaVec)) {
      issues.push({ key: BLEND_ANNOTATION_KEYS.alphaVec, value: annotations[BLEND_ANNOTATION_KEYS.alphaVec] ?? '', reason: `${fallback}; the seed blends as CONVEX` });
    }
    for (const issue of issues) {
      this.event('blend_annotation_invalid', TelemetryLevel.WARNING, { seed_id: seed.slot.id, key: issue.key, value: issue.value, reason: issue.reason, command_id: commandId });
    }
    if (config !== undefined) seed.blend = config;
  }

  /**
   * A grafted seed whose configuration became CONFIDENCE after it was grafted without the gate
   * gets its subgraph rebuilt with it (same parameter names, so a trainer carries their values
   * and optimizer state): topology +1. The only blend change that recompiles (decision 0060).
   */
  private ensureConfidenceGate(seed: SeedContext): void {
    const current = seed.seed;
    if (this.host === undefined || current === undefined || current.confidenceGate || seed.blend?.mode !== 'CONFIDENCE' || !isGrafted(seed.stage)) return;
    const blueprint = seed.blueprintId === undefined ? undefined : this.catalog.blueprint(seed.blueprintId);
    if (blueprint === undefined) return;
    const result = buildSeedGraph({
      seedId: seed.slot.id,
      slot: seed.slot,
      slotValue: this.slotValues.get(seed.slot.id)!,
      blueprint,
      options: seed.options,
      generation: seed.generation,
      runSeed: this.runSeed,
      confidenceGate: true,
    });
    if (!result.ok) {
      this.logger?.warn('kasmina could not rebuild a seed with the confidence gate; it blends as before', { seedId: seed.slot.id, issues: result.issues.join('; ') });
      return;
    }
    seed.seed = result.seed;
    this.version += 1;
    this.composed = undefined;
    for (const issue of isolationIssues(this.compose().graph, seed.slot.id, result.seed.parameterNames, this.hostParameters)) this.recordViolation(seed, issue);
    this.event('blend_rebuilt', TelemetryLevel.INFO, { seed_id: seed.slot.id, reason: 'CONFIDENCE needs the confidence gate in the graph', topology_version: String(this.version) });
  }

  private applySeedOperation(commandId: string, seedId: string, operation: SeedOperation, blueprintId: string, parameters: Readonly<Record<string, number>>): CommandOutcome {
    const seed = this.seeds.get(seedId);
    if (seed === undefined) return rejected(commandId, this.host === undefined ? 'host_not_attached' : `unknown_seed:${seedId}`);
    const op = operationName(operation);
    this.event('seed_operation', TelemetryLevel.INFO, { operation: op, seed_id: seedId, blueprint_id: blueprintId, command_id: commandId });
    if (seed.paused && operation !== Op.SEED_OP_CULL && operation !== Op.SEED_OP_CANCEL) {
      return rejected(commandId, `seed_paused:${seedId}: resume it first (COMMAND_PAUSE with annotation resume=true), or cull it`);
    }
    switch (operation) {
      case Op.SEED_OP_GERMINATE:
        return this.germinate(commandId, seed, blueprintId, parameters);
      case Op.SEED_OP_START_TRAINING:
        return this.advance(commandId, seed, S.SEED_STAGE_TRAINING, op);
      case Op.SEED_OP_START_GRAFTING:
        return this.advance(commandId, seed, S.SEED_STAGE_BLENDING, op);
      case Op.SEED_OP_STABILIZE:
        if (seed.stage === S.SEED_STAGE_BLENDING && seed.alpha < 1) {
          return rejected(commandId, `alpha_not_reached: alpha ${seed.alpha.toFixed(4)} < 1 after ${seed.blendSteps} of ${this.settings.blendingOptimizerSteps} blending steps`);
        }
        return this.advance(commandId, seed, S.SEED_STAGE_SHADOWING, op);
      case Op.SEED_OP_EVALUATE:
        return this.advance(commandId, seed, S.SEED_STAGE_PROBATIONARY, op);
      case Op.SEED_OP_FOSSILIZE:
        return this.advance(commandId, seed, S.SEED_STAGE_FOSSILIZED, op);
      case Op.SEED_OP_CULL:
      case Op.SEED_OP_CANCEL: {
        if (!canTransition(seed.stage, S.SEED_STAGE_CULLED)) return rejected(commandId, illegal(seed.stage, S.SEED_STAGE_CULLED));
        this.retire(seed, op);
        return { applied: true, commandId };
      }
      default:
        return rejected(commandId, `unsupported_operation:${op}`);
    }
  }

  /**
   * `COMMAND_PAUSE` of a seed (reference kasmina §7.8, decision 0068). Pause: the seed is
   * substituted by the identity through its control inputs, and its parameters are listed as
   * frozen in the composition (topology +1, so the trainer stops updating them); its stage and
   * parameter values are kept; `seed_paused` WARNING. Resume: the seed's own
   * controls return from the next `controlFeeds()` and its parameters train again (topology +1);
   * `seed_resumed` INFO (`cache=hit`: the kernel never left the graph). Both are idempotent. Only a grafted seed can be paused or resumed.
   */
  private pauseOrResume(commandId: string, seedId: string, resume: boolean): CommandOutcome {
    const seed = this.seeds.get(seedId);
    if (seed === undefined) return rejected(commandId, this.host === undefined ? 'host_not_attached' : `unknown_seed:${seedId}`);
    if (!isGrafted(seed.stage) || seed.seed === undefined) {
      return rejected(commandId, `not_grafted:${seedId}: a ${stageName(seed.stage)} slot has no seed to ${resume ? 'resume' : 'pause'}`);
    }
    // Freezing or thawing the seed's parameters changes what the trainer trains: a new version.
    if (seed.paused === resume) {
      this.version += 1;
      this.composed = undefined;
    }
    if (resume) {
      seed.paused = false;
      this.event('seed_resumed', TelemetryLevel.INFO, { seed_id: seedId, blueprint_id: seed.blueprintId ?? '', cache: 'hit', command_id: commandId });
    } else {
      seed.paused = true;
      this.event('seed_paused', TelemetryLevel.WARNING, { seed_id: seedId, stage: stageName(seed.stage), command_id: commandId });
    }
    return { applied: true, commandId };
  }

  /** GERMINATE: G0 on the blueprint and its kernel at the slot, then GERMINATED and the graft (topology +1). */
  private germinate(commandId: string, seed: SeedContext, blueprintId: string, parameters: Readonly<Record<string, number>>): CommandOutcome {
    if (!canTransition(seed.stage, S.SEED_STAGE_GERMINATED)) return rejected(commandId, illegal(seed.stage, S.SEED_STAGE_GERMINATED));
    const host = this.host;
    const blueprint = this.catalog.blueprint(blueprintId);
    const started = this.clock.monotonicMs();
    let built: SeedGraph | undefined;
    let composed: ComposedModel | undefined;
    let issues: readonly string[] = [];
    if (host !== undefined && blueprint !== undefined) {
      const result = buildSeedGraph({
        seedId: seed.slot.id,
        slot: seed.slot,
        slotValue: this.slotValues.get(seed.slot.id)!,
        blueprint,
        options: parameters,
        generation: seed.generation + 1,
        runSeed: this.runSeed,
        confidenceGate: seed.blend?.mode === 'CONFIDENCE',
      });
      if (result.ok) {
        built = result.seed;
        try {
          composed = composeModel(host, [...this.graftedSeeds(), { seedId: seed.slot.id, slot: seed.slot, seed: built }].sort(bySlot(host)), this.version + 1);
        } catch (error) {
          issues = [`the kernel cannot be spliced at "${seed.slot.tensor}": ${error instanceof Error ? error.message : String(error)}`];
        }
      } else {
        issues = result.issues;
      }
    }
    const latencyMs = this.clock.monotonicMs() - started;
    const g0 = this.runGate(seed, S.SEED_STAGE_GERMINATED, {
      blueprintId,
      blueprint: blueprint?.descriptor,
      parameters,
      interfaceIssues: issues,
    });
    if (!g0.passed || built === undefined || composed === undefined) {
      this.failGate(seed, g0);
      return rejected(commandId, gateFailure(g0));
    }
    seed.clear();
    seed.generation += 1;
    seed.blueprintId = blueprintId;
    seed.riskScore = blueprint?.descriptor.risk ?? 0;
    seed.seed = built;
    seed.options = { ...parameters };
    seed.kernelLatencyMs = latencyMs;
    seed.germinatedEpoch = this.epoch;
    seed.lastGateFailure = undefined;
    this.version += 1;
    this.composed = composed;
    for (const issue of isolationIssues(composed.graph, seed.slot.id, built.parameterNames, this.hostParameters)) this.recordViolation(seed, issue);
    this.move(seed, S.SEED_STAGE_GERMINATED, operationName(Op.SEED_OP_GERMINATE));
    return { applied: true, commandId };
  }

  /** Moves a grafted seed forward: the gate of the target stage on entry, then the move; a failed gate culls. */
  private advance(commandId: string, seed: SeedContext, to: SeedLifecycleStage, reason: string): CommandOutcome {
    if (!canTransition(seed.stage, to)) return rejected(commandId, illegal(seed.stage, to));
    if (GATE_FOR_STAGE.has(to)) {
      const result = this.runGate(seed, to, {});
      if (!result.passed) {
        this.failGate(seed, result);
        return rejected(commandId, gateFailure(result));
      }
    }
    this.move(seed, to, reason);
    return { applied: true, commandId };
  }

  // ---------------------------------------------------------------- gates and moves

  /** Evaluates the gate guarding `to` for `seed` and records a `gate_event`. */
  private runGate(seed: SeedContext, to: SeedLifecycleStage, g0: Partial<Pick<GateInput, 'blueprintId' | 'blueprint' | 'parameters' | 'interfaceIssues'>>): GateResult {
    const gate = GATE_FOR_STAGE.get(to) as SeedLifecycleGate;
    const id = seed.slot.id;
    const composed = this.host === undefined ? undefined : this.compose();
    let issues = g0.interfaceIssues ?? [];
    if (to === S.SEED_STAGE_SHADOWING) {
      issues = composed === undefined || seed.seed === undefined ? ['the seed is not grafted'] : interfaceIssues(composed.graph, id, seed.slot, this.slotValues.get(id)?.shape ?? null, seed.seed.parameterNames);
    }
    const input: GateInput = {
      seedId: id,
      blueprintId: g0.blueprintId ?? seed.blueprintId ?? '',
      blueprint: g0.blueprint ?? (seed.blueprintId === undefined ? undefined : this.catalog.get(seed.blueprintId)),
      parameters: g0.parameters ?? {},
      hostAttached: this.host !== undefined,
      interfaceIssues: issues,
      kernelAttached: composed?.seedParameters[id] !== undefined,
      isolationViolations: seed.isolationViolations,
      hostGradNorm: this.lastHostGradNorm,
      trainingSteps: seed.trainingSteps,
      seedGradNorm: seed.seedGradNorm,
      kernelLatencyMs: seed.kernelLatencyMs,
      latencyBudgetMs: this.settings.latencyBudgetMs,
      loss: this.lastLoss,
      lossAtBlendingStart: seed.lossAtBlendingStart,
      maxLossRatio: this.settings.maxLossRatio,
      inComposition: composed !== undefined && seedNamesIn(composed.graph, id).length > 0,
    };
    const result = evaluateGate(gate, input);
    this.event('gate_event', result.passed ? TelemetryLevel.INFO : TelemetryLevel.WARNING, {
      seed_id: id,
      gate: gateName(result.gate),
      passed: String(result.passed),
      ...result.attributes,
      ...(result.reason === '' ? {} : { reason: result.reason }),
    });
    return result;
  }

  /**
   * The gate-failure procedure (reference kasmina §5.2): `gate_failure` telemetry, then CULLED
   * (the seed leaves the graph) and EMBARGOED where the lifecycle allows; from a stage with no
   * way to CULLED (DORMANT at G0, RESETTING at G5) the seed stays where it is.
   */
  private failGate(seed: SeedContext, result: GateResult): void {
    const reason = gateFailure(result);
    seed.lastGateFailure = result.reason;
    this.event('gate_failure', TelemetryLevel.WARNING, { seed_id: seed.slot.id, gate: gateName(result.gate), reason: result.reason });
    if (canTransition(seed.stage, S.SEED_STAGE_CULLED)) this.retire(seed, reason);
  }

  /** CULLED (removed from the graph: topology +1), then EMBARGOED from this epoch on. */
  private retire(seed: SeedContext, reason: string): void {
    seed.paused = false;
    if (isGrafted(seed.stage)) {
      seed.seed = undefined;
      seed.alpha = 0;
      this.version += 1;
      this.composed = undefined;
    }
    this.move(seed, S.SEED_STAGE_CULLED, reason);
    seed.embargoedEpoch = this.epoch;
    this.move(seed, S.SEED_STAGE_EMBARGOED, reason);
  }

  /** RESETTING → G5 → DORMANT: the seed's state is cleared and the slot is free. */
  private reset(seed: SeedContext): void {
    seed.clear();
    seed.blend = undefined;
    const g5 = this.runGate(seed, S.SEED_STAGE_DORMANT, {});
    if (!g5.passed) {
      this.failGate(seed, g5);
      return;
    }
    this.move(seed, S.SEED_STAGE_DORMANT, 'reset');
  }

  /** Applies the lifecycle table and the stage's entry effects, and queues the announcement ({@link settle}). */
  private move(seed: SeedContext, to: SeedLifecycleStage, reason: string): void {
    const from = transition(seed, to);
    seed.stageEpoch = this.epoch;
    if (to === S.SEED_STAGE_BLENDING) {
      seed.blendSteps = 0;
      seed.alpha = alphaAt(0, this.settings);
      seed.lossAtBlendingStart = this.lastLoss;
    } else if (to === S.SEED_STAGE_SHADOWING || to === S.SEED_STAGE_PROBATIONARY || to === S.SEED_STAGE_FOSSILIZED) {
      seed.alpha = 1;
    } else if (!isGrafted(to)) {
      seed.alpha = 0;
    }
    const change: SeedStageChange = {
      seedId: seed.slot.id,
      from,
      to,
      epoch: this.epoch,
      ...(seed.blueprintId === undefined ? {} : { blueprintId: seed.blueprintId }),
      reason,
    };
    this.event('seed_stage', TelemetryLevel.INFO, {
      seed_id: change.seedId,
      from: stageName(from),
      stage: stageName(to),
      alpha: seed.alpha.toFixed(4),
      reason,
      ...(change.blueprintId === undefined ? {} : { blueprint_id: change.blueprintId }),
    });
    this.announcements.push(change);
  }

  /**
   * Announces queued stage changes to `onStageChanged`, one at a time and in order, then sends
   * the queued telemetry. Calls chain, so concurrent callers never reorder announcements.
   */
  private settle(): Promise<void> {
    this.settling = this.settling.then(async () => {
      while (this.announcements.length > 0) {
        const change = this.announcements.shift() as SeedStageChange;
        if (this.onStageChanged === undefined) continue;
        try {
          await this.onStageChanged(change);
        } catch (error) {
          this.logger?.warn('seed:stage-changed listener failed', { seedId: change.seedId, to: stageName(change.to), error: String(error) });
        }
      }
      await this.flush();
    });
    return this.settling;
  }

  private recordViolation(seed: SeedContext, detail: string): void {
    seed.isolationViolations += 1;
    this.totalViolations += 1;
    this.event('violation_recorded', TelemetryLevel.WARNING, { seed_id: seed.slot.id, violations: String(seed.isolationViolations), detail });
  }

  // ---------------------------------------------------------------- export and telemetry

  /**
   * One Leyline `SeedState` per slot, in slot order (DORMANT ones are the free slots): stage,
   * last seed gradient norm, slot depth, epochs since germination, the blueprint's risk and
   * `metrics` `alpha`, `epochs_in_stage`, `blend_steps`, `training_steps`, `seed_grad_norm`,
   * `isolation_violations`, `parameters` (scalar count), `kernel_latency_ms`, `slot_features`
   * (the slot's width: the length a CHANNEL `alpha_vec` must have, which a controller cannot
   * learn from the slot-independent blueprint descriptors) and `paused` (1 while paused).
   */
  exportSeedStates(): readonly SeedState[] {
    return [...this.seeds.values()].map((seed) =>
      create(SeedStateSchema, {
        seedId: seed.slot.id,
        stage: seed.stage,
        gradientNorm: seed.seedGradNorm ?? 0,
        layerDepth: seed.slot.depth,
        ageEpochs: seed.germinatedEpoch === undefined ? 0 : Math.max(0, this.epoch - seed.germinatedEpoch),
        riskScore: seed.riskScore,
        metrics: {
          alpha: seed.alpha,
          epochs_in_stage: Math.max(0, this.epoch - seed.stageEpoch),
          blend_steps: seed.blendSteps,
          training_steps: seed.trainingSteps,
          seed_grad_norm: seed.seedGradNorm ?? 0,
          isolation_violations: seed.isolationViolations,
          parameters: seed.seed?.parameterCount ?? 0,
          kernel_latency_ms: seed.kernelLatencyMs,
          slot_features: seed.slot.features,
          paused: seed.paused ? 1 : 0,
        },
      }),
    );
  }

  private event(description: string, level: TelemetryLevel, attributes: Record<string, string>): void {
    this.events.push({ description, level, attributes });
  }

  /**
   * Sends the queued events, with the current seed metrics and a `blend_config` event for every
   * seed with a blend configuration, as one packet.
   */
  private async flush(): Promise<void> {
    if (this.events.length === 0) return;
    const events = [...this.events, ...this.blendConfigEvents()];
    this.events = [];
    if (this.telemetry === undefined) return;
    const metrics: MetricInput[] = [
      { name: 'kasmina.seeds.active', value: [...this.seeds.values()].filter((s) => isGrafted(s.stage)).length, unit: 'count' },
      { name: 'kasmina.seeds.paused', value: [...this.seeds.values()].filter((s) => s.paused).length, unit: 'count' },
      { name: 'kasmina.isolation.violations', value: this.totalViolations, unit: 'count' },
      { name: 'kasmina.topology.version', value: this.version, unit: 'count' },
    ];
    for (const seed of this.seeds.values()) {
      const attributes = { seed_id: seed.slot.id };
      metrics.push({ name: 'kasmina.seed.stage', value: seed.stage, unit: 'state', attributes });
      metrics.push({ name: 'kasmina.seed.alpha', value: seed.alpha, unit: 'ratio', attributes });
      metrics.push({ name: 'kasmina.seed.isolation_violations', value: seed.isolationViolations, unit: 'count', attributes });
    }
    this.packets += 1;
    try {
      const packet = buildTelemetryPacket(
        {
          packetId: `kasmina-${this.packets}`,
          source: SOURCE,
          metrics,
          events,
          health: { indicators: { step_index: String(this.globalStep), epoch: String(this.epoch), seeds: String(this.seeds.size) } },
        },
        { clock: this.clock },
      );
      await this.telemetry.emit(packet, priorityForEvents(events.map((e) => e.level ?? TelemetryLevel.INFO)));
    } catch (error) {
      this.logger?.warn('kasmina telemetry packet was not delivered', { error: String(error) });
    }
  }

  /**
   * `blend_config` (INFO) per seed with a configuration: `seed_id`, `mode` (as configured; an
   * unknown name reads CONVEX), `source` and `alpha_vec_len` when known, and, when the graph
   * blends otherwise (CHANNEL without a fitting vector), `effective_mode` and `fallback`.
   */
  private blendConfigEvents(): EventInput[] {
    const out: EventInput[] = [];
    for (const seed of this.seeds.values()) {
      const config = seed.blend;
      if (config === undefined) continue;
      const resolved = resolveBlend(config, seed.slot.features);
      out.push({
        description: 'blend_config',
        level: TelemetryLevel.INFO,
        attributes: {
          seed_id: seed.slot.id,
          mode: config.mode,
          ...(config.source === undefined ? {} : { source: config.source }),
          ...(config.alphaVec === undefined ? {} : { alpha_vec_len: String(config.alphaVec.length) }),
          ...(resolved.fallback === undefined ? {} : { effective_mode: resolved.mode, fallback: resolved.fallback }),
        },
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- helpers

  private requireHost(operation: string): HostModel {
    if (this.host === undefined) throw new HostNotAttachedError(operation);
    return this.host;
  }

  private graftedSeeds(): GraftedSeed[] {
    const out: GraftedSeed[] = [];
    for (const seed of this.seeds.values()) {
      if (isGrafted(seed.stage) && seed.seed !== undefined) out.push({ seedId: seed.slot.id, slot: seed.slot, seed: seed.seed, paused: seed.paused });
    }
    return out;
  }
}

function illegal(from: SeedLifecycleStage, to: SeedLifecycleStage): string {
  return `illegal_transition:${stageName(from)}->${stageName(to)}`;
}

function gateFailure(result: GateResult): string {
  return `gate_failed:${gateName(result.gate)}: ${result.reason}`;
}

/** Orders grafted seeds as the host lists its slots. */
function bySlot(host: HostModel): (a: GraftedSeed, b: GraftedSeed) => number {
  const order = new Map(host.slots.map((s, i) => [s.id, i]));
  return (a, b) => (order.get(a.seedId) ?? 0) - (order.get(b.seedId) ?? 0);
}
