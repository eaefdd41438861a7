import {
  SystemClock,
  priorityForPacket,
  type Clock,
  type Controller,
  type EvaluateOptions,
  type Logger,
  type PolicyUpdateResult,
} from '@esper/core';
import type { AdaptationCommand, MessagePriority, SystemStatePacket, TelemetryPacket } from '@esper/core/leyline';
import { NoBlueprintsError } from '../errors.js';
import type { FieldReportRecorder } from '../field-reports/recorder.js';
import { commandFor, type CommandSigning } from './commands.js';
import { heuristicOptionsSchema, type HeuristicOptions, type HeuristicOptionsInput } from './options.js';
import { decideEpoch, type HeuristicDecision } from './rules.js';
import { initialTrackerState, observeEpoch, type EpochSignals, type TrackerState } from './signals.js';
import { decisionTelemetry } from './telemetry.js';

/** Where decision telemetry goes: the kernel's `Tokens.Telemetry` hub is one. */
export interface TelemetryEmitter {
  emit(packet: TelemetryPacket, priority: MessagePriority): Promise<void>;
}

/** Constructor arguments of {@link HeuristicController}. */
export interface HeuristicControllerInit {
  /** Thresholds (defaults applied to what is left out). `blueprintRotation` must not be empty here. */
  readonly options?: HeuristicOptionsInput | undefined;
  /** Signs every command (the kernel's `Tokens.CommandSigner`, or `hmacCommandSigning(signer, clock)`). */
  readonly signer: CommandSigning;
  /** Times decisions for telemetry. Default: the system clock. */
  readonly clock?: Clock | undefined;
  /** Receives one packet per decision; none when unset. */
  readonly telemetry?: TelemetryEmitter | undefined;
  /** Warns when a telemetry packet cannot be built or delivered. */
  readonly logger?: Logger | undefined;
  /**
   * Receives one field report per delivered decision and publishes them on `flush()` (P9); none
   * when unset.
   */
  readonly fieldReports?: FieldReportRecorder | undefined;
}

/** Reason of {@link HeuristicController.ingestPolicyUpdate}'s refusal. */
export const NO_POLICY_REASON = 'heuristic controller has no policy';

/**
 * Tamiyo's rule-based controller (tamiyo-heuristic.md, decision 0052): at each epoch boundary it
 * updates its signals from the `SystemStatePacket`, applies the rules (first match wins) and
 * returns one signed `AdaptationCommand`: a seed operation at one slot, or WAIT (`COMMAND_PAUSE`
 * with an empty target and `decision=wait`).
 *
 * A decision is computed on a copy of the tracker's state and committed only when it is
 * delivered: if `options.signal` is aborted before the command is returned, the call rejects
 * with the signal's reason and the state is as it was, so a caller's deadline never leaves a
 * half-applied epoch behind. Calls are meant to be sequential (one per epoch).
 */
export class HeuristicController implements Controller {
  /** The validated thresholds. */
  readonly options: HeuristicOptions;
  /** Blueprints germinated round-robin. */
  readonly rotation: readonly string[];
  private state: TrackerState;
  private readonly signer: CommandSigning;
  private readonly clock: Clock;
  private readonly telemetry: TelemetryEmitter | undefined;
  private readonly logger: Logger | undefined;
  private readonly fieldReports: FieldReportRecorder | undefined;

  /**
   * @throws `ZodError` for an invalid threshold.
   * @throws {@link NoBlueprintsError} (`ESPER_TAMIYO_NO_BLUEPRINTS`) when `blueprintRotation` is empty.
   */
  constructor(init: HeuristicControllerInit) {
    this.options = heuristicOptionsSchema.parse(init.options ?? {});
    if (this.options.blueprintRotation.length === 0) throw new NoBlueprintsError('blueprintRotation is empty');
    this.rotation = Object.freeze([...this.options.blueprintRotation]);
    this.state = initialTrackerState(this.options);
    this.signer = init.signer;
    this.clock = init.clock ?? new SystemClock();
    this.telemetry = init.telemetry;
    this.logger = init.logger;
    this.fieldReports = init.fieldReports;
  }

  /** The tracker's committed state (plain data; a snapshot that later decisions do not change). */
  get trackerState(): TrackerState {
    return structuredClone(this.state);
  }

  /** Applies the rules to `packet` and returns the signed command of the decision. */
  async evaluateEpoch(packet: SystemStatePacket, options: EvaluateOptions = {}): Promise<AdaptationCommand> {
    options.signal?.throwIfAborted();
    const started = this.clock.monotonicMs();
    const observed = observeEpoch(this.state, packet, this.options);
    const { decision, state } = decideEpoch(observed.signals, observed.state, this.options, this.rotation);
    const command = this.signer.sign(commandFor(decision, packet.currentEpoch));
    options.signal?.throwIfAborted();
    const previousLoss = this.state.lastLoss;
    this.state = state;
    this.report(decision, command, observed.signals, packet.currentEpoch, started);
    this.recordFieldReport(packet, command, previousLoss);
    return command;
  }

  /** The heuristic decides at epoch boundaries only: every step gets a signed WAIT. */
  async evaluateStep(packet: SystemStatePacket, options: EvaluateOptions = {}): Promise<AdaptationCommand> {
    options.signal?.throwIfAborted();
    const decision: HeuristicDecision = { kind: 'wait', rule: 'epoch_step', reason: 'heuristic_decides_per_epoch', confidence: 1 };
    const command = this.signer.sign(commandFor(decision, packet.currentEpoch));
    options.signal?.throwIfAborted();
    return command;
  }

  /** Always refused: the heuristic has no policy to update. */
  async ingestPolicyUpdate(): Promise<PolicyUpdateResult> {
    return { accepted: false, reason: NO_POLICY_REASON };
  }

  /**
   * Publishes pending field reports (decision telemetry goes out as it is made). Resolves true
   * when nothing is left pending; true when there is no field-report recorder.
   */
  async flush(): Promise<boolean> {
    return this.fieldReports === undefined ? true : this.fieldReports.publish();
  }

  /**
   * Queues the decision's field report (in order, not awaited: the command is already committed
   * and must not wait for a disk write under the caller's deadline).
   */
  private recordFieldReport(packet: SystemStatePacket, command: AdaptationCommand, previousLoss: number | undefined): void {
    if (this.fieldReports === undefined) return;
    const lossDelta = previousLoss === undefined ? 0 : packet.validationLoss - previousLoss;
    this.fieldReports.record({ packet, command, lossDelta }).catch((error: unknown) => {
      this.logger?.warn('tamiyo: the field report of a decision was not recorded', {
        commandId: command.commandId,
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }

  private report(decision: HeuristicDecision, command: AdaptationCommand, signals: EpochSignals, epoch: number, started: number): void {
    if (this.telemetry === undefined) return;
    try {
      const packet = decisionTelemetry({ decision, command, signals, epoch, latencyMs: this.clock.monotonicMs() - started }, this.clock);
      this.telemetry.emit(packet, priorityForPacket(packet)).catch((error: unknown) => this.warn(error));
    } catch (error) {
      this.warn(error);
    }
  }

  private warn(error: unknown): void {
    this.logger?.warn('tamiyo: decision telemetry was not delivered', { error: error instanceof Error ? error.message : String(error) });
  }
}
