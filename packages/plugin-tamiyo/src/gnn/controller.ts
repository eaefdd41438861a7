import { mkdir, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { SystemClock, priorityForPacket, type Clock, type Controller, type EvaluateOptions, type Logger, type PolicyUpdateResult } from '@esper/core';
import { AdaptationCommandSchema, CommandType, type AdaptationCommand, type SystemStatePacket } from '@esper/core/leyline';
import { OnnxDeadlineError, serializeModel, type ParameterSet, type Results } from '@esper/onnx';
import type { OnnxPolicyBackend, OnnxPolicySession } from '../backends/onnx-backend.js';
import { PolicyGraphBuilder, type BlueprintMetadata, type PolicyGraph } from '../graph/builder.js';
import type { NormaliserState } from '../graph/normaliser.js';
import type { Registry } from '../graph/registry.js';
import { NoBlueprintsError } from '../errors.js';
import { TAMIYO_ISSUER, type CommandSigning } from '../heuristic/commands.js';
import type { TelemetryEmitter } from '../heuristic/controller.js';
import { ARCHITECTURE_VERSION, REFERENCE_DIMS, type PolicyDims } from '../policy/architecture.js';
import { decodeDecision, neutralDecision, type LastAction, type PolicyDecision } from '../policy/decode.js';
import { buildPolicyGraph } from '../policy/graph.js';
import { packGraph } from '../policy/pack.js';
import { gnnDecisionTelemetry } from './telemetry.js';

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
  /** Loads the policy graph on its devices (warm-up and fallback included). */
  readonly backend: OnnxPolicyBackend;
  /** Signs every command (the run's `Tokens.CommandSigner`). */
  readonly signer: CommandSigning;
  /** Blueprints the blueprint node stands for, in turn; must not be empty. */
  readonly blueprints: readonly string[];
  /** Step budget of `evaluateStep`, ms (`TAMIYO_STEP_TIMEOUT_MS`); 0 disables. */
  readonly stepTimeoutMs: number;
  /** Blueprint metadata for the builder (tamiyo §8.2); none: empty metadata. */
  readonly metadata?: ((blueprintId: string) => BlueprintMetadata | undefined) | undefined;
  readonly maxLayers?: number | undefined;
  readonly maxActivations?: number | undefined;
  readonly maxParameters?: number | undefined;
  /** Persist normaliser and registries here; none: in memory only. */
  readonly persistence?: GnnPersistence | undefined;
  readonly clock?: Clock | undefined;
  readonly telemetry?: TelemetryEmitter | undefined;
  readonly logger?: Logger | undefined;
}

/** Reason of {@link GnnController.ingestPolicyUpdate}'s refusal until verified updates (P3) land. */
export const GNN_UPDATES_PENDING_REASON = 'policy updates are not accepted yet (P3: verified ONNX/weight-file updates)';

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

/** Rejection value of a run that passed the remaining step budget. */
const BUDGET_EXCEEDED: unique symbol = Symbol('tamiyo.budget_exceeded');

type Outcome =
  | { readonly kind: 'decided'; readonly decision: PolicyDecision; readonly inferenceMs: number; readonly error?: string }
  | { readonly kind: 'timeout'; readonly inferenceMs: number };

/**
 * Tamiyo's learned controller (issue 17, decision 0058): each decision builds the typed graph
 * of the packet (P4), runs the hetero-GNN policy on ONNX Runtime (worker thread, device
 * fallback), decodes its outputs into an `AdaptationCommand` and signs it.
 *
 * `evaluateStep` enforces the step budget (P1): inference runs on a worker and is abandoned at
 * the budget, and the decision becomes the reference's timeout PAUSE (`policy_action=timeout`,
 * `risk_reason=timeout_inference`) with a `timeout_inference` WARNING; a late result never
 * touches the controller's state. `evaluateEpoch` has no step budget (as the reference) and
 * rejects with the signal's reason when the caller's deadline aborts it. A seedless packet takes
 * the no-seed fast path (no inference). A failed inference (CPU included) is the neutral PAUSE.
 */
export class GnnController implements Controller {
  readonly dims: PolicyDims;
  readonly builder: PolicyGraphBuilder;
  readonly blueprints: readonly string[];
  /** The record of the last delivered model decision (tamiyo §5.6). */
  lastAction: LastAction | undefined;
  private rotation = 0;
  private persisting: Promise<void> = Promise.resolve();
  private readonly clock: Clock;

  private constructor(
    private readonly init: GnnControllerInit,
    /** The loaded policy session. */
    readonly session: OnnxPolicySession,
  ) {
    this.dims = init.dims ?? REFERENCE_DIMS;
    this.blueprints = Object.freeze([...init.blueprints]);
    this.clock = init.clock ?? new SystemClock();
    this.builder = new PolicyGraphBuilder({ maxLayers: init.maxLayers, maxActivations: init.maxActivations, maxParameters: init.maxParameters });
    if (init.persistence !== undefined) this.restore(init.persistence);
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
    const model = serializeModel(buildPolicyGraph(init.weights, init.dims ?? REFERENCE_DIMS));
    const session = await init.backend.load(model);
    return new GnnController(init, session);
  }

  /** The blueprint the blueprint node stands for in the next decision. */
  get currentBlueprint(): string {
    return this.blueprints[this.rotation % this.blueprints.length] as string;
  }

  /** Per-step decision, bounded by the step budget (P1). */
  evaluateStep(packet: SystemStatePacket, options: EvaluateOptions = {}): Promise<AdaptationCommand> {
    return this.decide(packet, this.init.stepTimeoutMs > 0 ? this.init.stepTimeoutMs : undefined, options.signal);
  }

  /** Epoch-boundary decision: the same pipeline without the step budget; the caller's signal aborts it. */
  evaluateEpoch(packet: SystemStatePacket, options: EvaluateOptions = {}): Promise<AdaptationCommand> {
    return this.decide(packet, undefined, options.signal);
  }

  /** Refused until verified policy updates (P3) land; the running policy is untouched. */
  async ingestPolicyUpdate(): Promise<PolicyUpdateResult> {
    return { accepted: false, reason: GNN_UPDATES_PENDING_REASON };
  }

  /** Persists the normaliser and registries when they changed; true when written (or nothing to write). */
  async flush(): Promise<boolean> {
    this.schedulePersist();
    try {
      await this.persisting;
      return true;
    } catch {
      return false;
    }
  }

  /** Persists what changed and releases the policy session (and its worker). */
  async dispose(): Promise<void> {
    await this.flush();
    await this.session.dispose();
  }

  private async decide(packet: SystemStatePacket, budgetMs: number | undefined, signal: AbortSignal | undefined): Promise<AdaptationCommand> {
    signal?.throwIfAborted();
    const started = this.clock.monotonicMs();
    const blueprintId = this.currentBlueprint;
    const metadata = this.init.metadata?.(blueprintId);
    const graph = this.builder.build(packet, blueprintId, metadata ?? {});
    const allowed = metadata?.allowed_parameters === undefined ? undefined : Object.keys(metadata.allowed_parameters);
    const ctx = { packet, graph, policyVersion: ARCHITECTURE_VERSION, allowedParameters: metadata === undefined ? undefined : (allowed ?? []) };
    let outcome: Outcome;
    if (graph.counts.seed === 0) {
      outcome = { kind: 'decided', decision: neutralDecision(ctx, 'no_seed_candidates'), inferenceMs: 0 };
    } else {
      outcome = await this.infer(graph, ctx, started, budgetMs, signal);
    }
    signal?.throwIfAborted();
    const unsigned = outcome.kind === 'timeout' ? timeoutCommand(packet.currentEpoch) : outcome.decision.command;
    const command = this.init.signer.sign(unsigned);
    if (outcome.kind === 'decided') {
      this.lastAction = outcome.decision.lastAction;
      if (command.commandType === CommandType.COMMAND_SEED) this.rotation++;
    }
    this.report(packet, command, graph, outcome, started, budgetMs);
    this.schedulePersist();
    return command;
  }

  private async infer(graph: PolicyGraph, ctx: Parameters<typeof decodeDecision>[1], started: number, budgetMs: number | undefined, signal: AbortSignal | undefined): Promise<Outcome> {
    const feeds = packGraph(graph, this.dims);
    const t0 = this.clock.monotonicMs();
    const remaining = budgetMs === undefined ? undefined : Math.max(0, budgetMs - (t0 - started));
    let outputs: Results;
    try {
      outputs = await this.withBudget(this.session.runFeeds(feeds, remaining === undefined ? { ...(signal ? { signal } : {}) } : { deadlineMs: remaining, ...(signal ? { signal } : {}) }), remaining, signal);
    } catch (error) {
      const inferenceMs = this.clock.monotonicMs() - t0;
      if (error === BUDGET_EXCEEDED || error instanceof OnnxDeadlineError) return { kind: 'timeout', inferenceMs };
      if (signal?.aborted === true) throw signal.reason;
      const message = error instanceof Error ? error.message : String(error);
      this.init.logger?.warn('tamiyo: GNN inference failed; the decision is the neutral PAUSE', { error: message });
      return { kind: 'decided', decision: neutralDecision(ctx, 'inference_error'), inferenceMs, error: message.slice(0, 300) };
    }
    const inferenceMs = this.clock.monotonicMs() - t0;
    // A result that arrives after the budget (timers fire at 1 ms granularity) is late too.
    if (remaining !== undefined && inferenceMs > remaining) return { kind: 'timeout', inferenceMs };
    const plain: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(outputs)) plain[name] = t.data as Float32Array;
    return { kind: 'decided', decision: decodeDecision(plain, ctx), inferenceMs };
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

  private report(packet: SystemStatePacket, command: AdaptationCommand, graph: PolicyGraph, outcome: Outcome, started: number, budgetMs: number | undefined): void {
    const telemetry = this.init.telemetry;
    if (telemetry === undefined) return;
    try {
      const packetOut = gnnDecisionTelemetry(
        {
          command,
          epoch: packet.currentEpoch,
          validationLoss: packet.validationLoss,
          latencyMs: this.clock.monotonicMs() - started,
          inferenceMs: outcome.inferenceMs,
          warmUpMs: this.session.warmUpMs,
          fallbacks: this.session.fallbacks,
          device: this.session.device,
          architecture: ARCHITECTURE_VERSION,
          budgetMs: budgetMs ?? 0,
          seeds: graph.counts.seed,
          coverage: graph.coverage,
          lastAction: outcome.kind === 'decided' ? outcome.decision.lastAction : undefined,
          timedOut: outcome.kind === 'timeout',
          error: outcome.kind === 'decided' ? outcome.error : undefined,
        },
        this.clock,
      );
      telemetry.emit(packetOut, priorityForPacket(packetOut)).catch((error: unknown) => this.warn(error));
    } catch (error) {
      this.warn(error);
    }
  }

  private warn(error: unknown): void {
    this.init.logger?.warn('tamiyo: decision telemetry was not delivered', { error: error instanceof Error ? error.message : String(error) });
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
