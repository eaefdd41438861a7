import { join } from 'node:path';
import {
  Tokens,
  catalogBlueprintMetadata,
  type BlueprintCatalog,
  type BlueprintMetadataSource,
  type Controller,
  type EvaluateOptions,
  type PolicyUpdateResult,
  type Resolver,
  type SetupContext,
} from '@esper/core';
import type { AdaptationCommand, BlueprintDescriptor, PolicyUpdate, SystemStatePacket } from '@esper/core/leyline';
import { OnnxPolicyBackend } from '../backends/onnx-backend.js';
import type { BlueprintMetadata } from '../graph/builder.js';
import type { TamiyoConfig } from '../config.js';
import type { FieldReportRecorder } from '../field-reports/recorder.js';
import { FileBlueprintMetadata } from '../metadata/file-source.js';
import { layeredBlueprintMetadata } from '../metadata/layered.js';
import { blueprintMetadataFromRecord } from '../metadata/record.js';
import { initPolicyWeights } from '../policy/architecture.js';
import { riskConfigFrom } from '../risk/config.js';
import { packGraph, warmUpGraph } from '../policy/pack.js';
import { loadPolicyWeights } from '../policy/weights.js';
import { GnnController } from './controller.js';
import { deviceOrder, type GnnOptions } from './options.js';

/** Blueprint metadata from a catalogue descriptor (the tamiyo §8.2 fields a descriptor has). */
export function descriptorMetadata(d: BlueprintDescriptor): BlueprintMetadata {
  return blueprintMetadataFromRecord({ descriptor: d }).metadata;
}

/**
 * The GNN controller's blueprint metadata (decision 0065): `tamiyo.gnn.blueprintMetadataPath`
 * if set, else the run's `Tokens.BlueprintMetadata`, each falling back to the BlueprintCatalog's
 * descriptors for ids it lacks; the catalogue alone when neither is there.
 *
 * @throws `BlueprintMetadataFileError` when the file is missing or invalid.
 */
export async function gnnBlueprintMetadata(
  ctx: SetupContext<GnnPluginOptions>,
  provided: BlueprintMetadataSource | undefined,
  catalog: BlueprintCatalog | undefined,
): Promise<BlueprintMetadataSource | undefined> {
  const fallback = catalog === undefined ? undefined : catalogBlueprintMetadata(catalog);
  const path = ctx.options.gnn.blueprintMetadataPath;
  const primary =
    path === undefined
      ? provided
      : await FileBlueprintMetadata.open(path, {
          clock: ctx.clock,
          onReloadError: (error) => ctx.logger.warn('tamiyo: the changed blueprint metadata file was not loaded; the previous records stay in use', { error: error.message }),
        });
  return primary === undefined ? fallback : layeredBlueprintMetadata(primary, fallback);
}

/**
 * The GNN controller of a run, created at the plugin's `start` (weights, ONNX graph, session
 * and warm-up take seconds) and used directly once ready. Calls before `ready()` wait for it.
 */
export class DeferredGnnController implements Controller {
  private instance: GnnController | undefined;
  private readonly created: Promise<GnnController>;

  constructor(create: () => Promise<GnnController>) {
    this.created = create().then((c) => (this.instance = c));
    this.created.catch(() => undefined);
  }

  /** Resolves once the policy is loaded and warmed up; rejects with its load error. */
  async ready(): Promise<GnnController> {
    return this.created;
  }

  private get controller(): Promise<GnnController> {
    return this.instance !== undefined ? Promise.resolve(this.instance) : this.created;
  }

  async evaluateStep(packet: SystemStatePacket, options?: EvaluateOptions): Promise<AdaptationCommand> {
    return (this.instance ?? (await this.created)).evaluateStep(packet, options);
  }

  async evaluateEpoch(packet: SystemStatePacket, options?: EvaluateOptions): Promise<AdaptationCommand> {
    return (this.instance ?? (await this.created)).evaluateEpoch(packet, options);
  }

  async ingestPolicyUpdate(update: PolicyUpdate): Promise<PolicyUpdateResult> {
    return (await this.controller).ingestPolicyUpdate(update);
  }

  async flush(): Promise<boolean> {
    return (await this.controller).flush();
  }

  /** Disposes the controller if it was created. */
  async dispose(): Promise<void> {
    const c = await this.created.catch(() => undefined);
    await c?.dispose();
  }
}

/** Options of the plugin the GNN glue reads: Tamiyo's settings and `tamiyo.gnn`. */
export type GnnPluginOptions = TamiyoConfig & { readonly gnn: GnnOptions };

/**
 * Creates the run's GNN controller from the plugin options and the run's ports (the caller
 * disposes it). `fieldReports` (P9) receives a report per decision and is published by `flush()`.
 */
export function createGnnController(ctx: SetupContext<GnnPluginOptions>, r: Resolver, fieldReports?: FieldReportRecorder): DeferredGnnController {
  const { options } = ctx;
  const gnn = options.gnn;
  const catalog = r.tryResolve(Tokens.BlueprintCatalog);
  const providedMetadata = r.tryResolve(Tokens.BlueprintMetadata);
  const blueprints = gnn.blueprints.length > 0 ? gnn.blueprints : (catalog?.list().map((d) => d.blueprintId) ?? []);
  const registryDir = options.policy.registryDir ?? join(ctx.run.dir, 'tamiyo');
  const devices = deviceOrder(gnn.devices, options.policy.device);
  const backend = new OnnxPolicyBackend({
    devices,
    threads: gnn.threads,
    worker: gnn.worker,
    ...(gnn.realtime ? { realtimePriority: REALTIME_PRIORITY } : {}),
    warmUpFeeds: packGraph(warmUpGraph()),
    onFallback: (e) => ctx.logger.info(`tamiyo: GNN policy ${e.phase === 'load' ? 'could not load' : 'failed to run'} on ${e.from}${e.to === null ? '' : `; using ${e.to}`}`, { reason: e.reason }),
  });
  const controller = new DeferredGnnController(async () => {
    // The metadata file first: a bad one fails the start before the policy is loaded.
    const metadataSource = await gnnBlueprintMetadata(ctx, providedMetadata, catalog);
    const created = await GnnController.create({
      weights: gnn.weightsPath !== undefined ? await loadPolicyWeights(gnn.weightsPath) : initPolicyWeights(gnn.seed ?? ctx.run.seed),
      precision: gnn.precision,
      backend,
      signer: r.resolve(Tokens.CommandSigner),
      blueprints,
      stepTimeoutMs: options.stepTimeoutMs,
      metadataTimeoutMs: options.metadataTimeoutMs,
      metadataCacheTtlMs: options.metadataCacheTtlMs,
      metadataSource,
      risk: riskConfigFrom(options),
      conservative: options.risk.conservativeMode,
      blend: options.blendAnnotations,
      fieldReports,
      updates: { signer: r.tryResolve(Tokens.Signer), settings: options.policyUpdates },
      maxLayers: gnn.maxLayers,
      maxActivations: gnn.maxActivations,
      maxParameters: gnn.maxParameters,
      persistence: { registryDir, normaliserPath: options.policy.normaliserPath ?? join(registryDir, 'gnn_norms.json') },
      clock: ctx.clock,
      telemetry: r.resolve(Tokens.Telemetry),
      logger: ctx.logger,
    });
    const rt = created.session.realtime;
    if (rt !== undefined) {
      if (rt.applied) ctx.logger.info('tamiyo: the GNN policy worker runs under SCHED_FIFO (tamiyo.gnn.realtime)', { tid: rt.tid, priority: rt.priority });
      else ctx.logger.warn('tamiyo: tamiyo.gnn.realtime was refused; the policy worker runs at normal priority', { reason: rt.reason });
    }
    return created;
  });
  return controller;
}

/** SCHED_FIFO priority of `tamiyo.gnn.realtime`: the lowest real-time one, above every normal thread. */
export const REALTIME_PRIORITY = 1;
