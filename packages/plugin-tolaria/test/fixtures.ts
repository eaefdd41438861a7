// A minimal seed executor and scripted controllers written against the core ports, so the epoch
// loop is tested without Kasmina or Tamiyo. The executor grafts a residual adapter
// `s = h + α·relu(h·down)·up` (up = 0 at graft) at a slot when it receives a GERMINATE command.
import { create } from '@bufbuild/protobuf';
import type { CommandOutcome, ComposedModel, ControlFeedOptions, Controller, HostModel, SeedExecutor, StepObservation } from '@esper/core';
import {
  AdaptationCommandSchema, CommandType, SeedLifecycleStage, SeedOperation, SeedStateSchema, type AdaptationCommand, type SeedState,
  type SystemStatePacket,
} from '@esper/core/leyline';
import { GraphBuilder, f32, graft, initParameters, type Graph, type TensorData } from '@esper/onnx';

/** A GERMINATE command for `slot`. */
export function germinate(slot: string): AdaptationCommand {
  return create(AdaptationCommandSchema, {
    version: 1,
    commandId: `germinate-${slot}`,
    commandType: CommandType.COMMAND_SEED,
    targetSeedId: slot,
    issuedBy: 'test',
    payload: { case: 'seedOperation', value: { operation: SeedOperation.SEED_OP_GERMINATE, blueprintId: 'adapter' } },
  });
}

/** A WAIT decision as a controller would send it. */
export function wait(): AdaptationCommand {
  return create(AdaptationCommandSchema, { version: 1, commandId: 'wait', commandType: CommandType.COMMAND_PAUSE, issuedBy: 'test', annotations: { decision: 'wait' } });
}

function adapter(features: number, slot: string): { graph: Graph } {
  const params = initParameters([
    { name: 'down', dims: [features, 4], init: { kind: 'kaiming' } },
    { name: 'up', dims: [4, features], init: { kind: 'zeros' } },
  ], 7);
  const g = new GraphBuilder(`adapter-${slot}`);
  const h = g.input('h', 'float32', ['batch', features]);
  const alpha = g.input('alpha', 'float32', []);
  const s = h.matmul(g.param('down', params.get('down'))).relu().matmul(g.param('up', params.get('up')));
  g.output(h.add(s.mul(alpha)), 'out');
  return { graph: g.build() };
}

/** An in-test `SeedExecutor`: one seed per slot, grafted on GERMINATE, α set by the test. */
export class TestExecutor implements SeedExecutor {
  host: HostModel | undefined;
  topologyVersion = 0;
  readonly grafted = new Map<string, { alpha: number }>();
  readonly observations: StepObservation[] = [];
  readonly commands: AdaptationCommand[] = [];
  readonly epochs: number[] = [];
  private cache: ComposedModel | undefined;
  private readonly frozen = new Set<string>();

  constructor(private readonly options: { reject?: boolean } = {}) {}

  async applyCommand(command: AdaptationCommand): Promise<CommandOutcome> {
    this.commands.push(command);
    if (this.options.reject) return { applied: false, commandId: command.commandId, reason: 'test_rejects' };
    const op = command.payload.case === 'seedOperation' ? command.payload.value.operation : undefined;
    if (command.commandType === CommandType.COMMAND_SEED && op === SeedOperation.SEED_OP_GERMINATE) this.graftSeed(command.targetSeedId);
    return { applied: true, commandId: command.commandId };
  }

  graftSeed(slot: string, alpha = 0): void {
    this.grafted.set(slot, { alpha });
    this.topologyVersion++;
  }

  /** Marks a grafted seed's parameters frozen (as Kasmina does for a paused seed). */
  freezeSeed(slot: string): void {
    this.frozen.add(slot);
    this.topologyVersion++;
  }

  exportSeedStates(): readonly SeedState[] {
    return (this.host?.slots ?? []).map((slot) =>
      create(SeedStateSchema, {
        seedId: slot.id,
        stage: this.grafted.has(slot.id) ? SeedLifecycleStage.SEED_STAGE_BLENDING : SeedLifecycleStage.SEED_STAGE_DORMANT,
        layerDepth: slot.depth,
        metrics: { alpha: this.grafted.get(slot.id)?.alpha ?? 0 },
      }),
    );
  }

  advanceAlpha(): void {}
  finalizeStep(): void {}
  updateEpoch(epoch: number): void {
    this.epochs.push(epoch);
  }

  attachHost(host: HostModel): void {
    if (this.host) throw new Error('host already attached');
    this.host = host;
  }

  compose(): ComposedModel {
    if (this.cache?.topologyVersion === this.topologyVersion) return this.cache;
    const host = this.host as HostModel;
    let graph = host.graph as Graph;
    const seedParameters: Record<string, string[]> = {};
    const controlInputs: string[] = [];
    for (const slot of host.slots) {
      if (!this.grafted.has(slot.id)) continue;
      const prefix = `seed/${slot.id}`;
      graph = graft(graph, adapter(slot.features, slot.id).graph, { at: slot.tensor, prefix, input: 'h' });
      seedParameters[slot.id] = [`${prefix}/down`, `${prefix}/up`];
      controlInputs.push(`${prefix}/alpha`);
    }
    const frozenParameters = [...this.frozen].flatMap((id) => seedParameters[id] ?? []);
    this.cache = { graph, topologyVersion: this.topologyVersion, controlInputs, seedParameters, ...(frozenParameters.length > 0 ? { frozenParameters } : {}) };
    return this.cache;
  }

  controlFeeds(options?: ControlFeedOptions): Record<string, TensorData> {
    const feeds: Record<string, TensorData> = {};
    for (const [id, seed] of this.grafted) feeds[`seed/${id}/alpha`] = f32([], [options?.counterfactual === id ? 0 : seed.alpha]);
    return feeds;
  }

  observeSteps(observation: StepObservation): void {
    this.observations.push(observation);
  }
}

/** A controller that answers each epoch with `decide(packet)`, after `delayMs`. */
export class ScriptedController implements Controller {
  readonly packets: SystemStatePacket[] = [];
  readonly signals: AbortSignal[] = [];
  constructor(
    private readonly decide: (packet: SystemStatePacket) => AdaptationCommand | Promise<AdaptationCommand> = () => wait(),
  ) {}
  async evaluateStep(packet: SystemStatePacket): Promise<AdaptationCommand> {
    return this.decide(packet);
  }
  async evaluateEpoch(packet: SystemStatePacket, options?: { signal?: AbortSignal }): Promise<AdaptationCommand> {
    this.packets.push(packet);
    if (options?.signal) this.signals.push(options.signal);
    return this.decide(packet);
  }
  async ingestPolicyUpdate() {
    return { accepted: false as const, reason: 'not supported' };
  }
  async flush(): Promise<boolean> {
    return true;
  }
}

/** A controller whose decisions never come (it ignores the abort signal, as a hung one would). */
export function hangingController(): ScriptedController {
  return new ScriptedController(() => new Promise<AdaptationCommand>(() => {}));
}
