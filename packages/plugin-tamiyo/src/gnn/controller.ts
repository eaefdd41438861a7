import { mkdir, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  SystemClock,
  priorityFromIndicator,
  type Clock,
  type Controller,
  type EvaluateOptions,
  type BlueprintMetadataSource,
  type EventInput,
  type Logger,
  type PolicyUpdateResult,
  type Signer,
} from '@esper/core';
import { AdaptationCommandSchema, CommandType, TelemetryLevel, type AdaptationCommand, type PolicyUpdate, type SystemStatePacket } from '@esper/core/leyline';
import { OnnxDeadlineError, serializeModel, type ParameterSet, type Results } from '@esper/onnx';
import type { OnnxPolicyBackend, OnnxPolicySession } from '../backends/onnx-backend.js';
import type { FieldReportRecorder } from '../field-reports/recorder.js';
import { PolicyGraphBuilder, type BlueprintMetadata, type PolicyGraph } from '../graph/builder.js';
import { PolicyUpdateIngestor, type AppliedPolicyUpdate, type PolicyUpdateSettings } from '../policy-updates/ingest.js';
import { blueprintRisk, blueprintTierName } from '../risk/blueprint.js';
import type { RiskConfig } from '../risk/config.js';
import { RiskEngine, type RiskOutcome } from '../risk/engine.js';
import { LossDeltaTracker } from '../risk/loss-delta.js';
import type { NormaliserState } from '../graph/normaliser.js';
import type { Registry } from '../graph/registry.js';
import { NoBlueprintsError } from '../errors.js';
import { BlueprintMetadataCache, type MetadataResolution } from '../metadata/cache.js';
import { TAMIYO_ISSUER, type CommandSigning } from '../heuristic/commands.js';
import type { TelemetryEmitter } from '../heuristic/controller.js';
import { ARCHITECTURE_VERSION, REFERENCE_DIMS, type PolicyDims } from '../policy/architecture.js';
import { decodeDecision, neutralDecision, type LastAction, type PolicyDecision } from '../policy/decode.js';
import { buildPolicyGraph } from '../policy/graph.js';
import { applyPolicyPrecision, type PolicyPrecision } from '../policy/precision.js';
import { PackScratch, packGraph } from '../policy/pack.js';
import { annotateBlendMode, type BlendAnnotationSettings } from './blend.js';
import { preparePolicySession } from './policy-owner.js';
import {
  annotateCoverage,
  gnnDecisionTelemetry,
  INFERENCE_ERROR_EVENT,
  METADATA_ERROR_EVENT,
  TIMEOUT_INFERENCE_EVENT,
  TIMEOUT_URZA_EVENT,
  type BlueprintReading,
} from './telemetry.js';

/** Where the builder's normaliser and registries persist (off the decision path). */
export interface GnnPersistence {
  /** Directory of the registry files (`seed_registry.json`, …). */
  readonly registryDir: string;
  /** The normaliser file (`gnn_norms.json`). */
  readonly normaliserPath: string;
}

/** Constructor arguments of {@link GnnController.create}. */
export interface GnnControllerInit {
  /** The policy's weights (`initPolicyWeights(seed)` or `loadPolicyWeights(path)`). */
  readonly weights: ParameterSet;
  readonly dims?: PolicyDims | undefined;
  /** Precision of the large weights (`tamiyo.gnn.precision`; default `fp32`; decision 0067). */
  readonly precision?: PolicyPrecision | undefined;
  /** Loads the policy graph on its devices (warm-up and fallback included). */
  readonly backend: OnnxPolicyBackend;
  /** Signs every command (the run's `Tokens.CommandSigner`). */
  readonly signer: CommandSigning;
  /** Blueprints the blueprint node stands for, in turn; must not be empty. */
  readonly blueprints: readonly string[];
  /** Step budget of `evaluateStep`, ms (`TAMIYO_STEP_TIMEOUT_MS`); 0 disables. */
  readonly stepTimeoutMs: number;
  /**
   * Blueprint metadata (Urza, the run's `Tokens.BlueprintMetadata`; decision 0065) for the graph
   * builder and the risk engine: looked up per candidate blueprint under `metadataTimeoutMs`
   * (in `evaluateStep`) and cached for `metadataCacheTtlMs`. Ignored when `metadata` is given.
   */
  readonly metadataSource?: BlueprintMetadataSource | undefined;
  /** Age after which a cached blueprint record is looked up again, ms (`tamiyo.metadataCacheTtlMs`); default 300 000. */
  readonly metadataCacheTtlMs?: number | undefined;
  /** Immediate blueprint metadata (tamiyo §8.2) instead of `metadataSource`: no cache, no budget. Neither: empty metadata. */
  readonly metadata?: ((blueprintId: string) => BlueprintMetadata | undefined) | undefined;
  readonly maxLayers?: number | undefined;
  readonly maxActivations?: number | undefined;
  readonly maxParameters?: number | undefined;
  /** Persist normaliser and registries here; none: in memory only. */
  readonly persistence?: GnnPersistence | undefined;
  /**
   * Budget of a blueprint metadata lookup in `evaluateStep`, ms (`metadata_timeout_budget_ms`
   * indicator); default 10; 0 disables. A late lookup is abandoned (its result still fills the
   * cache): the decision goes on without metadata and, if it seeds that blueprint, emits
   * `timeout_urza` and counts a metadata breaker failure.
   */
  readonly metadataTimeoutMs?: number | undefined;
  /** Risk thresholds and breaker limits (`riskConfigFrom(tamiyo settings)`); defaults for what is left out. */
  readonly risk?: Partial<RiskConfig> | undefined;
  /** Start in conservative mode (`TAMIYO_CONSERVATIVE_MODE`). */
  readonly conservative?: boolean | undefined;
  /** P8 blend-mode annotations (`tamiyo.blendAnnotations`); none: off. */
  readonly blend?: BlendAnnotationSettings | undefined;
  /**
   * P9: receives one field report per delivered decision (timeouts included) and publishes them on
   * `flush()`; none: no reports.
   */
  readonly fieldReports?: FieldReportRecorder | undefined;
  /**
   * P3: verification of policy updates. `signer` is the run's `Tokens.Signer`
   * (`ESPER_LEYLINE_SECRET`); without one every update is refused `invalid_signature`.
   */
  readonly updates?: { readonly signer: Signer | undefined; readonly settings?: Partial<PolicyUpdateSettings> | undefined } | undefined;
  readonly clock?: Clock | undefined;
  readonly telemetry?: TelemetryEmitter | undefined;
  readonly logger?: Logger | undefined;
}

/** The reference's timeout command (tamiyo §4 step 3) as the growth loop's WAIT. */
export function timeoutCommand(epoch: number): AdaptationCommand {
  return create(AdaptationCommandSchema, {
    version: 1,
    commandType: CommandType.COMMAND_PAUSE,
    targetSeedId: '',
    issuedBy: TAMIYO_ISSUER,
    annotations: {
      controller: 'gnn',
      epoch: String(epoch),
      decision: 'wait',
      reason: 'timeout_inference',
      policy_action: 'timeout',
      policy_param_delta: '0.0',
      risk_reason: 'timeout_inference',
      coverage_types: '{}',
    },
  });
}

/** The resolution when there is no metadata source. */
const NO_METADATA: MetadataResolution = Object.freeze({ metadata: undefined, timedOut: false, cached: true, waitedMs: 0 });

/** Rejection value of a run that passed the remaining step budget. */
const BUDGET_EXCEEDED: unique symbol = Symbol('tamiyo.budget_exceeded');

type Outcome =
  | { readonly kind: 'decided'; readonly decision: PolicyDecision; readonly inferenceMs: number; readonly modelPath: boolean; readonly error?: string }
  | { readonly kind: 'timeout'; readonly inferenceMs: number };

/** A policy session and the inferences running on it; a retired slot is disposed when its last run settles. */
interface SessionSlot {
  readonly session: OnnxPolicySession;
  runs: number;
  retired: boolean;
}

/**
 * Tamiyo's learned controller (issue 17, decisions 0058 and 0062): each decision builds the typed
 * graph of the packet (P4), runs the hetero-GNN policy on ONNX Runtime (worker thread, device
 * fallback), decodes its outputs into an `AdaptationCommand`, adds the P8 blend-mode and coverage
 * annotations, signs it, then emits its telemetry packet (P5) and queues its field report (P9).
 *
 * `evaluateStep` enforces the step budget (P1): inference runs on a worker and is abandoned at
 * the budget, and the decision becomes the reference's timeout PAUSE (`policy_action=timeout`,
 * `risk_reason=timeout_inference`) with a `timeout_inference` WARNING; a late result never
 * touches the controller's state. `evaluateEpoch` has no step budget (as the reference) and
 * rejects with the signal's reason when the caller's deadline aborts it. A seedless packet takes
 * the no-seed fast path (no inference). A failed inference (CPU included) is the neutral PAUSE.
 *
 * Blueprint metadata (decision 0065) comes from `metadataSource` through a
 * {@link BlueprintMetadataCache} keyed by blueprint id: one lookup of the candidate blueprint
 * feeds the graph builder and the risk engine. `evaluateStep` waits for it at most
 * `metadataTimeoutMs` (a SEED of a blueprint whose record is late gets `timeout_urza` and a
 * metadata breaker failure); `evaluateEpoch` waits for it without a limit.
 *
 * Policy updates (P3) go through a {@link PolicyUpdateIngestor}: a verified update is loaded
 * into a fresh session and swapped in between two decisions' inferences; a run already started
 * finishes on the old session, which is disposed when its last run settles. Nothing on the
 * decision path touches the disk synchronously: telemetry, field reports and persistence are
 * queued after the command is made.
 */
export class GnnController implements Controller {
  readonly dims: PolicyDims;
  readonly builder: PolicyGraphBuilder;
  readonly blueprints: readonly string[];
  /** The record of the last delivered model decision (tamiyo §5.6). */
  lastAction: LastAction | undefined;
  /** The risk engine gating every command before it is signed (tamiyo §4 step 7, §9). */
  readonly risk: RiskEngine;
  private rotation = 0;
  private readonly losses = new LossDeltaTracker();
  private persisting: Promise<void> = Promise.resolve();
  private readonly clock: Clock;
  private slot: SessionSlot;
  private readonly retiring = new Set<Promise<void>>();
  private readonly updates: PolicyUpdateIngestor<OnnxPolicySession>;
  /** Feed buffers reused between decisions (decision 0063, GC pressure); lent to one run at a time. */
  private readonly packScratch = new PackScratch();
  /** A run that was given feeds packed into {@link packScratch} has not settled yet. */
  private packScratchLent = false;
  /** Blueprint metadata by blueprint id (decision 0065); absent without a `metadataSource`. */
  readonly metadataCache: BlueprintMetadataCache | undefined;

  private constructor(
    private readonly init: GnnControllerInit,
    session: OnnxPolicySession,
  ) {
    this.dims = init.dims ?? REFERENCE_DIMS;
    this.blueprints = Object.freeze([...init.blueprints]);
    this.clock = init.clock ?? new SystemClock();
    this.builder = new PolicyGraphBuilder({ maxLayers: init.maxLayers, maxActivations: init.maxActivations, maxParameters: init.maxParameters });
    this.slot = { session, runs: 0, retired: false };
    this.risk = new RiskEngine({ config: init.risk, clock: this.clock, conservative: init.conservative });
    this.updates = new PolicyUpdateIngestor<OnnxPolicySession>({
      owner: {
        architectureVersion: ARCHITECTURE_VERSION,
        prepare: (payload) => preparePolicySession(payload, { dims: this.dims, precision: init.precision ?? 'fp32', backend: init.backend, builder: this.builder }),
        swap: (candidate) => this.swapSession(candidate),
      },
      signer: init.updates?.signer,
      settings: init.updates?.settings,
      clock: this.clock,
      telemetry: init.telemetry,
      logger: init.logger,
    });
    if (init.persistence !== undefined) this.restore(init.persistence);
    this.metadataCache =
      init.metadata === undefined && init.metadataSource !== undefined
        ? new BlueprintMetadataCache({ source: init.metadataSource, ttlMs: init.metadataCacheTtlMs ?? 300_000, clock: this.clock, logger: init.logger })
        : undefined;
    // Pre-warm (tamiyo §4 step 1, keyed by blueprint id): the rotation's records, off the decision path.
    this.metadataCache?.prewarm(this.blueprints);
  }

  /**
   * Builds the policy graph from the weights, loads it on the backend (warm-up included) and
   * restores persisted normaliser statistics and registries.
   *
   * @throws {@link NoBlueprintsError} when `blueprints` is empty.
   * @throws `PolicyWeightsError` / `PolicyBackendError` when the weights or every device fail.
   */
  static async create(init: GnnControllerInit): Promise<GnnController> {
    if (init.blueprints.length === 0) throw new NoBlueprintsError('tamiyo.gnn.blueprints is empty and no BlueprintCatalog supplies blueprints');
    const model = serializeModel(applyPolicyPrecision(buildPolicyGraph(init.weights, init.dims ?? REFERENCE_DIMS), init.precision ?? 'fp32'));
    const session = await init.backend.load(model);
    return new GnnController(init, session);
  }

  /** The live policy session (replaced by an accepted policy update). */
  get session(): OnnxPolicySession {
    return this.slot.session;
  }

  /** The service's policy version: the architecture, or the last accepted update's version string. */
  get policyVersion(): string {
    return this.updates.policyVersion;
  }

  /** Accepted policy updates, oldest first. */
  policyUpdates(): readonly AppliedPolicyUpdate[] {
    return this.updates.history();
  }

  /** The blueprint the blueprint node stands for in the next decision. */
  get currentBlueprint(): string {
    return this.blueprints[this.rotation % this.blueprints.length] as string;
  }

  /** Per-step decision, bounded by the step budget (P1). */
  evaluateStep(packet: SystemStatePacket, options: EvaluateOptions = {}): Promise<AdaptationCommand> {
    const metadataMs = this.init.metadataTimeoutMs ?? 10;
    return this.decide(packet, this.init.stepTimeoutMs > 0 ? this.init.stepTimeoutMs : undefined, metadataMs > 0 ? metadataMs : undefined, options.signal);
  }

  /** Epoch-boundary decision: the same pipeline without the step and metadata budgets; the caller's signal aborts it. */
  evaluateEpoch(packet: SystemStatePacket, options: EvaluateOptions = {}): Promise<AdaptationCommand> {
    return this.decide(packet, undefined, undefined, options.signal);
  }

  /**
   * P3: verifies `update` (signature, version, age, replay), loads its ONNX model or safetensors
   * weights into a fresh session checked against the running architecture, and swaps it in.
   * A rejection leaves the running policy untouched and emits `policy_update_rejected`. Never throws.
   */
  ingestPolicyUpdate(update: PolicyUpdate): Promise<PolicyUpdateResult> {
    return this.updates.ingest(update);
  }

  /**
   * Persists the normaliser and registries when they changed and publishes pending field reports
   * (P9). Resolves true when both succeeded and no report is left pending.
   */
  async flush(): Promise<boolean> {
    this.schedulePersist();
    const persisted = this.persisting.then(
      () => true,
      () => false,
    );
    const published = this.init.fieldReports === undefined ? Promise.resolve(true) : this.init.fieldReports.publish().catch(() => false);
    const [a, b] = await Promise.all([persisted, published]);
    return a && b;
  }

  /** Persists what changed and releases the policy sessions (and their workers). Field reports stay with their owner. */
  async dispose(): Promise<void> {
    this.schedulePersist();
    this.metadataCache?.close();
    await this.persisting.catch(() => undefined);
    await this.slot.session.dispose();
    await Promise.allSettled([...this.retiring]);
  }

  private swapSession(next: OnnxPolicySession): void {
    const old = this.slot;
    this.slot = { session: next, runs: 0, retired: false };
    old.retired = true;
    if (old.runs === 0) this.retire(old);
  }

  private retire(slot: SessionSlot): void {
    const done = slot.session
      .dispose()
      .catch((error: unknown) => this.init.logger?.warn('tamiyo: a replaced policy session did not close cleanly', { error: describe(error) }))
      .finally(() => this.retiring.delete(done));
    this.retiring.add(done);
  }

  /**
   * The candidate blueprint's metadata: immediate (`metadata`), from the cache, or looked up
   * within `metadataBudgetMs` (none: no limit). Undefined when there is no source.
   */
  private resolveMetadata(blueprintId: string, metadataBudgetMs: number | undefined, signal: AbortSignal | undefined): MetadataResolution | Promise<MetadataResolution> {
    if (this.init.metadata !== undefined) return { metadata: this.init.metadata(blueprintId), timedOut: false, cached: true, waitedMs: 0 };
    const cache = this.metadataCache;
    if (cache === undefined) return NO_METADATA;
    return cache.fresh(blueprintId) ?? cache.resolve(blueprintId, metadataBudgetMs, signal);
  }

  private async decide(packet: SystemStatePacket, budgetMs: number | undefined, metadataBudgetMs: number | undefined, signal: AbortSignal | undefined): Promise<AdaptationCommand> {
    signal?.throwIfAborted();
    const blueprintId = this.currentBlueprint;
    const decisionStarted = this.clock.monotonicMs();
    // Tamiyo §4 steps 1–2 and 6 as one lookup: the candidate blueprint is the one a SEED names.
    const pending = this.resolveMetadata(blueprintId, metadataBudgetMs, signal);
    const found = pending instanceof Promise ? await pending : pending;
    signal?.throwIfAborted();
    const started = this.clock.monotonicMs();
    const metadata = found.metadata;
    const graph = this.builder.build(packet, blueprintId, metadata ?? {});
    const allowed = metadata?.allowed_parameters === undefined ? undefined : Object.keys(metadata.allowed_parameters);
    const ctx = { packet, graph, policyVersion: ARCHITECTURE_VERSION, allowedParameters: metadata === undefined ? undefined : (allowed ?? []) };
    let outcome: Outcome;
    if (graph.counts.seed === 0) {
      outcome = { kind: 'decided', decision: neutralDecision(ctx, 'no_seed_candidates'), inferenceMs: 0, modelPath: false };
    } else {
      outcome = await this.infer(graph, ctx, started, budgetMs, signal);
    }
    signal?.throwIfAborted();
    const policyMs = this.clock.monotonicMs() - started;
    const timedOut = outcome.kind === 'timeout';
    const unsigned = outcome.kind === 'timeout' ? timeoutCommand(packet.currentEpoch) : outcome.decision.command;
    const events: EventInput[] = [];
    if (timedOut) events.push({ description: TIMEOUT_INFERENCE_EVENT, level: TelemetryLevel.WARNING, attributes: { budget_ms: (budgetMs ?? 0).toFixed(1) } });
    // Blueprint resolution (§4 step 6): only a SEED needs its blueprint's record. A lookup that was
    // late for the graph may have landed in the cache while the policy ran.
    const op = unsigned.payload.case === 'seedOperation' ? unsigned.payload.value : undefined;
    const seeded = unsigned.commandType === CommandType.COMMAND_SEED && op !== undefined && op.blueprintId !== '' ? op.blueprintId : undefined;
    const resolved = seeded === undefined ? undefined : seeded === blueprintId && !found.timedOut ? found : (this.metadataCache?.fresh(seeded) ?? (seeded === blueprintId ? found : NO_METADATA));
    const blueprintTimedOut = resolved?.timedOut === true;
    if (blueprintTimedOut) events.push({ description: TIMEOUT_URZA_EVENT, level: TelemetryLevel.WARNING, attributes: { budget_ms: (metadataBudgetMs ?? 0).toFixed(1) } });
    if (found.error !== undefined) events.push({ description: METADATA_ERROR_EVENT, level: TelemetryLevel.WARNING, attributes: { blueprint_id: blueprintId, error: found.error.slice(0, 300) } });
    if (outcome.kind === 'decided' && outcome.error !== undefined) {
      events.push({ description: INFERENCE_ERROR_EVENT, level: TelemetryLevel.WARNING, attributes: { error: outcome.error } });
    }
    // P8 on the model path, for a command the policy built as SEED (before the risk engine may change its type).
    if (outcome.kind === 'decided' && outcome.modelPath) {
      try {
        annotateBlendMode(unsigned, this.init.blend, metadata, packet.seedStates.find((s) => s.seedId === unsigned.targetSeedId)?.metrics.slot_features);
      } catch (error) {
        this.init.logger?.warn('tamiyo: blend-mode annotations skipped', { error: describe(error) });
      }
    }
    // Risk engine (§4 steps 5, 7, 8): loss delta, the ordered rules with the command's blueprint, degraded inputs.
    const lossDelta = this.losses.observe(packet);
    const blueprint = blueprintTimedOut ? undefined : resolved?.metadata;
    const risk = this.risk.evaluate(unsigned, { packet, timedOut, blueprintTimedOut, lossDelta, blueprint, coverage: graph.coverage });
    events.push(...risk.events);
    annotateCoverage(unsigned, graph.coverage);
    // The signature covers every annotation above.
    const command = this.init.signer.sign(unsigned);
    const lastAction = outcome.kind === 'decided' ? outcome.decision.lastAction : undefined;
    if (lastAction !== undefined) {
      this.lastAction = lastAction;
      if (command.commandType === CommandType.COMMAND_SEED) {
        this.rotation++;
        this.metadataCache?.prewarm([this.currentBlueprint]);
      }
    }
    const reading: BlueprintReading | undefined = blueprint === undefined ? undefined : { risk: blueprintRisk(blueprint), tier: blueprintTierName(blueprint) };
    this.report({ packet, command, graph, outcome, started: decisionStarted, policyMs, budgetMs, lossDelta, events, risk, blueprint: reading });
    this.recordFieldReport(packet, command, lossDelta, events, timedOut, lastAction);
    this.schedulePersist();
    return command;
  }

  private async infer(graph: PolicyGraph, ctx: Parameters<typeof decodeDecision>[1], started: number, budgetMs: number | undefined, signal: AbortSignal | undefined): Promise<Outcome> {
    // The scratch's buffers stay the run's until it settles (a worker copies them only when the run
    // starts; an abandoned run may still be queued), so a decision overlapping one packs fresh arrays.
    const scratch = this.packScratchLent ? undefined : this.packScratch;
    const feeds = packGraph(graph, this.dims, scratch);
    if (scratch !== undefined) this.packScratchLent = true;
    const t0 = this.clock.monotonicMs();
    const remaining = budgetMs === undefined ? undefined : Math.max(0, budgetMs - (t0 - started));
    // The run stays on the session it started on, even if an update swaps another in meanwhile.
    const slot = this.slot;
    slot.runs++;
    const run = slot.session.runFeeds(feeds, remaining === undefined ? { ...(signal ? { signal } : {}) } : { deadlineMs: remaining, ...(signal ? { signal } : {}) }).finally(() => {
      if (scratch !== undefined) this.packScratchLent = false;
      slot.runs--;
      if (slot.retired && slot.runs === 0) this.retire(slot);
    });
    let outputs: Results;
    try {
      outputs = await this.withBudget(run, remaining, signal);
    } catch (error) {
      const inferenceMs = this.clock.monotonicMs() - t0;
      if (error === BUDGET_EXCEEDED || error instanceof OnnxDeadlineError) return { kind: 'timeout', inferenceMs };
      if (signal?.aborted === true) throw signal.reason;
      const message = describe(error);
      this.init.logger?.warn('tamiyo: GNN inference failed; the decision is the neutral PAUSE', { error: message });
      return { kind: 'decided', decision: neutralDecision(ctx, 'inference_error'), inferenceMs, modelPath: false, error: message.slice(0, 300) };
    }
    const inferenceMs = this.clock.monotonicMs() - t0;
    // A result that arrives after the budget (timers fire at 1 ms granularity) is late too.
    if (remaining !== undefined && inferenceMs > remaining) return { kind: 'timeout', inferenceMs };
    const plain: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(outputs)) plain[name] = t.data as Float32Array;
    return { kind: 'decided', decision: decodeDecision(plain, ctx), inferenceMs, modelPath: true };
  }

  /** Races `run` against the remaining budget and the caller's signal; the run is left to finish in its worker. */
  private withBudget<T>(run: Promise<T>, remaining: number | undefined, signal: AbortSignal | undefined): Promise<T> {
    if (remaining === undefined && signal === undefined) return run;
    return new Promise<T>((resolve, reject) => {
      const timer = remaining === undefined ? undefined : setTimeout(() => reject(BUDGET_EXCEEDED), remaining);
      const onAbort = () => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      run.then(resolve, reject).finally(() => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      });
    });
  }

  private report(d: {
    packet: SystemStatePacket;
    command: AdaptationCommand;
    graph: PolicyGraph;
    outcome: Outcome;
    started: number;
    policyMs: number;
    budgetMs: number | undefined;
    lossDelta: number;
    events: readonly EventInput[];
    risk: RiskOutcome;
    blueprint: BlueprintReading | undefined;
  }): void {
    const telemetry = this.init.telemetry;
    if (telemetry === undefined) return;
    const session = this.slot.session;
    try {
      const packetOut = gnnDecisionTelemetry(
        {
          command: d.command,
          packet: d.packet,
          lossDelta: d.lossDelta,
          conservative: d.risk.conservative,
          policyMs: d.policyMs,
          latencyMs: this.clock.monotonicMs() - d.started,
          inferenceMs: d.outcome.inferenceMs,
          compileEnabled: session.fallbacks === 0,
          warmUpMs: session.warmUpMs,
          fallbacks: session.fallbacks,
          device: session.device,
          precision: this.init.precision ?? 'fp32',
          ...(session.realtime === undefined ? {} : { realtime: session.realtime.applied ? 'on' : 'refused' }),
          architecture: ARCHITECTURE_VERSION,
          policyVersion: this.policyVersion,
          budgetMs: d.budgetMs ?? this.init.stepTimeoutMs,
          metadataBudgetMs: this.init.metadataTimeoutMs ?? 10,
          seeds: d.graph.counts.seed,
          coverage: d.graph.coverage,
          // On a timeout the packet reports the previous completed decision (tamiyo §10.1).
          lastAction: d.outcome.kind === 'decided' ? d.outcome.decision.lastAction : this.lastAction,
          events: d.events,
          breakers: this.risk.breakerSnapshot(),
          blueprint: d.blueprint,
          maxLossSpike: this.risk.config.maxLossSpike,
        },
        this.clock,
      );
      telemetry.emit(packetOut, priorityFromIndicator(packetOut)).catch((error: unknown) => this.warn(error));
    } catch (error) {
      this.warn(error);
    }
  }

  /**
   * Queues the decision's field report (P9; in order, not awaited: the command is already made and
   * must not wait for a disk write under the caller's deadline).
   */
  private recordFieldReport(
    packet: SystemStatePacket,
    command: AdaptationCommand,
    lossDelta: number,
    events: readonly EventInput[],
    timedOut: boolean,
    lastAction: LastAction | undefined,
  ): void {
    const recorder = this.init.fieldReports;
    if (recorder === undefined) return;
    const metrics: Record<string, number> = {};
    if (lastAction !== undefined) {
      metrics.param_delta = lastAction.paramDelta;
      metrics.value_estimate = lastAction.valueEstimate;
      metrics.risk_index = lastAction.riskIndex;
      metrics.blending_index = lastAction.blendingIndex;
      metrics.risk_score = lastAction.riskScore;
      metrics.selected_seed_score = lastAction.selectedSeedScore;
      metrics.blending_schedule_start = lastAction.scheduleStart;
      metrics.blending_schedule_end = lastAction.scheduleEnd;
    }
    const blueprintRisk = Number.parseFloat(command.annotations.blueprint_risk ?? '');
    if (Number.isFinite(blueprintRisk)) metrics.blueprint_risk = blueprintRisk;
    recorder.record({ packet, command, lossDelta, metrics, events, timedOut, policyVersion: this.policyVersion }).catch((error: unknown) => {
      this.init.logger?.warn('tamiyo: the field report of a decision was not recorded', { commandId: command.commandId, error: describe(error) });
    });
  }

  private warn(error: unknown): void {
    this.init.logger?.warn('tamiyo: decision telemetry was not delivered', { error: describe(error) });
  }

  private registries(): Registry[] {
    return Object.values(this.builder.registries);
  }

  /** Reads persisted state at construction (once, before any decision); unreadable files are ignored. */
  private restore(p: GnnPersistence): void {
    const read = (path: string): unknown => {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as unknown;
      } catch {
        return undefined;
      }
    };
    const norms = read(p.normaliserPath);
    if (norms !== null && typeof norms === 'object') this.builder.normaliser.load(norms as NormaliserState);
    for (const registry of this.registries()) {
      const table = read(join(p.registryDir, `${registry.name}.json`));
      if (table !== null && typeof table === 'object') registry.load(table as Record<string, unknown>);
    }
  }

  /** Writes what changed after the decision was returned, one write at a time (tmp + rename). */
  private schedulePersist(): void {
    const p = this.init.persistence;
    if (p === undefined) return;
    const jobs: [string, string][] = [];
    if (this.builder.normaliser.dirty) {
      jobs.push([p.normaliserPath, JSON.stringify(this.builder.normaliser.toJSON(), null, 2)]);
      this.builder.normaliser.markSaved();
    }
    for (const registry of this.registries()) {
      if (!registry.dirty) continue;
      jobs.push([join(p.registryDir, `${registry.name}.json`), JSON.stringify(registry.toJSON())]);
      registry.markSaved();
    }
    if (jobs.length === 0) return;
    this.persisting = this.persisting.then(async () => {
      try {
        await mkdir(p.registryDir, { recursive: true });
        for (const [path, text] of jobs) {
          await writeFile(`${path}.tmp`, text);
          await rename(`${path}.tmp`, path);
        }
      } catch (error) {
        this.init.logger?.warn('tamiyo: GNN normaliser/registries not persisted', { error: error instanceof Error ? error.message : String(error) });
      }
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
