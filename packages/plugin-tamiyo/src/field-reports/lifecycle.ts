import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { buildTelemetryPacket, SystemClock, type Clock, type Logger, type MetricInput } from '@esper/core';
import {
  BusMessageType,
  CommandType,
  FieldReportOutcome,
  FieldReportSchema,
  HealthStatus,
  MessagePriority,
  TelemetryLevel,
  type AdaptationCommand,
  type FieldReport,
  type SystemStatePacket,
  type TelemetryPacket,
} from '@esper/core/leyline';
import type { TamiyoConfig } from '../config.js';
import { fieldReportKey, FieldReportLog } from './store.js';
import { FIELD_REPORT_WINDOWS_FILE, ObservationWindows, type ObservationWindow } from './windows.js';

/** The field-report settings of `tamiyo.fieldReports` (`walPath` aside). */
export type FieldReportSettings = Omit<TamiyoConfig['fieldReports'], 'walPath'>;

/** Default settings (the reference's, §2.1). */
export const DEFAULT_FIELD_REPORT_SETTINGS: FieldReportSettings = Object.freeze({
  retentionHours: 24,
  maxRetries: 3,
  observationWindowEpochs: 3,
  retryBackoffMs: 1000,
  retryBackoffMultiplier: 2,
});

/** Telemetry event and metric names of the lifecycle (reference §14 P9). */
export const FIELD_REPORT_TELEMETRY = Object.freeze({
  synthesisedEvent: 'field_report_synthesised',
  retryEvent: 'field_report_retry',
  dropEvent: 'field_report_drop',
  summary: 'field_report_publish_summary',
  pendingTotal: 'tamiyo.field_reports.pending_total',
  publishedTotal: 'tamiyo.field_reports.published_total',
  retriesTotal: 'tamiyo.field_reports.retries_total',
  droppedTotal: 'tamiyo.field_reports.dropped_total',
});

/** Prefix of synthesised (observation-window) report ids. */
export const SYNTH_REPORT_PREFIX = 'fr-synth-';
/** Prefix of per-decision report ids (the reference's, followed by the command id instead of a list index). */
export const STEP_REPORT_PREFIX = 'field-report-';

/**
 * Where reports are published. Resolve true when the report was delivered; anything else
 * (false, `'unknown'`, a rejection) is a failed attempt and is retried with backoff.
 */
export interface FieldReportPublisher {
  publish(report: FieldReport): Promise<boolean | 'unknown'>;
}

/** The slice of the Oona port the lifecycle publishes through. */
export interface FieldReportBus {
  publish(messageType: BusMessageType, payload: Uint8Array): Promise<boolean | 'unknown'>;
}

/** Publishes each report as a `BUS_MESSAGE_TYPE_FIELD_REPORT` envelope through Oona. */
export function oonaFieldReportPublisher(oona: FieldReportBus): FieldReportPublisher {
  return { publish: (report) => oona.publish(BusMessageType.FIELD_REPORT, toBinary(FieldReportSchema, report)) };
}

/** Where the lifecycle's own telemetry goes (the kernel's `Tokens.Telemetry` is one). */
export interface FieldReportTelemetry {
  emit(packet: TelemetryPacket, priority: MessagePriority): Promise<void>;
}

/** One event of a decision, as the report's notes and the window's critical flag read it. */
export interface DecisionEvent {
  readonly description: string;
  readonly level?: TelemetryLevel | undefined;
}

/** What one delivered decision is reported from. */
export interface DecisionObservation {
  /** The packet decided on (run id, epoch, `training_metrics.hook_latency_ms` / `tamiyo_latency_ms`). */
  readonly packet: SystemStatePacket;
  /** The signed command that was delivered (its `command_id` and `issued_at` identify the report). */
  readonly command: AdaptationCommand;
  /** Validation-loss change this decision observed (current minus previous packet; 0 at the first). */
  readonly lossDelta: number;
  /** Extra metrics of the decision (`value_estimate`, `risk_score`, …). */
  readonly metrics?: Readonly<Record<string, number>> | undefined;
  /** Events of the decision, in order. */
  readonly events?: readonly DecisionEvent[] | undefined;
  /** The decision was a timeout fallback. */
  readonly timedOut?: boolean | undefined;
  /** Overrides the outcome mapping of {@link stepOutcome}. */
  readonly outcome?: FieldReportOutcome | undefined;
  /**
   * The policy version that made the decision (`tamiyo_policy_version`); default the lifecycle's
   * `policyVersion()` at the time the report is written. A controller whose policy can be
   * replaced passes the version it decided with.
   */
  readonly policyVersion?: string | undefined;
}

/** Cumulative counts since the lifecycle opened. */
export interface FieldReportStats {
  readonly recorded: number;
  readonly synthesised: number;
  readonly published: number;
  readonly retries: number;
  readonly dropped: number;
  /** Reports neither published nor dropped, now. */
  readonly pending: number;
}

/** Options of {@link FieldReportLifecycle.open}. */
export interface FieldReportLifecycleInit {
  /** The log file; `field_reports.index.json` and `field_reports.windows.json` go next to it. */
  readonly path: string;
  /** Settings (defaults for what is left out). */
  readonly settings?: Partial<FieldReportSettings> | undefined;
  /** Where reports go; without one, reports are recorded and stay pending. */
  readonly publisher?: FieldReportPublisher | undefined;
  readonly telemetry?: FieldReportTelemetry | undefined;
  readonly clock?: Clock | undefined;
  readonly logger?: Logger | undefined;
  /** The policy version written into each report (`tamiyo_policy_version`). */
  readonly policyVersion?: (() => string) | undefined;
  /** fsync at commit points (default true). */
  readonly fsync?: boolean | undefined;
}

const REGRESSION_REASONS = new Set(['bp_quarantine', 'loss_spike', 'isolation_violation', 'hook_budget']);
const TIMEOUT_REASONS = new Set(['timeout_inference', 'timeout_urza', 'controller_timeout']);
const SOURCE = 'tamiyo';

/**
 * Outcome of a per-decision report (reference §12.1, with §17 item 12 fixed): a timeout is
 * NEUTRAL; a PAUSE for a regression reason (`bp_quarantine`, `loss_spike`,
 * `isolation_violation`, `hook_budget`) is REGRESSION; any other PAUSE (WAIT included) is NEUTRAL —
 * nothing was changed; a command that acts is SUCCESS.
 */
export function stepOutcome(command: AdaptationCommand, timedOut = false): FieldReportOutcome {
  const reason = command.annotations['risk_reason'] ?? command.annotations['reason'] ?? '';
  if (timedOut || TIMEOUT_REASONS.has(reason)) return FieldReportOutcome.NEUTRAL;
  if (REGRESSION_REASONS.has(reason)) return FieldReportOutcome.REGRESSION;
  if (command.commandType === CommandType.COMMAND_PAUSE) return FieldReportOutcome.NEUTRAL;
  return FieldReportOutcome.SUCCESS;
}

/** Backoff before retry number `count` (≥ 1): `floor(base · mult^max(1, count))`, 0 when base is 0 (reference §12.5). */
export function retryDelayMs(settings: Pick<FieldReportSettings, 'retryBackoffMs' | 'retryBackoffMultiplier'>, count: number): number {
  if (settings.retryBackoffMs <= 0) return 0;
  return Math.floor(settings.retryBackoffMs * settings.retryBackoffMultiplier ** Math.max(1, count));
}

/**
 * Tamiyo's field-report lifecycle (reference §12, P9, with the defects of §17 items 9–11 fixed —
 * decision 0055):
 *
 * - `record(observation)` after each delivered decision: a per-decision report
 *   (`observation_window_epochs = 1`, id `field-report-<command_id>`), then the observation
 *   windows (keyed by command id, persisted in `field_reports.windows.json`): each decision opens
 *   one and counts towards every open one; a window that has seen N decisions
 *   (`TAMIYO_FR_OBS_WINDOW_EPOCHS`) becomes a report `fr-synth-<command_id>-<start_epoch>+<N>`
 *   with `observation_window_epochs = N`, written to the log under that id (not relabelled in
 *   memory), with a `field_report_synthesised` event. The reports of one decision are appended
 *   with one fsync before the windows file is rewritten, and ids are deterministic, so a crash in
 *   between re-synthesises the same id, which the log ignores.
 * - `publish()` at epoch end (the controller's `flush`): every due report is published; a
 *   failure schedules a retry `floor(base · mult^n)` ms later in `field_reports.index.json`
 *   (`field_report_retry`), and after `TAMIYO_FIELD_REPORT_MAX_RETRIES` retries the report is
 *   dropped (`field_report_drop`) and never offered again. A summary packet carries
 *   `tamiyo.field_reports.{published,retries,dropped,pending}_total` of the cycle. Then
 *   retention prunes settled reports older than `TAMIYO_FIELD_REPORT_RETENTION_HOURS`.
 *
 * Everything is serialised: records and publishes run in call order. A restart (a new lifecycle
 * on the same files) loses no recorded report and publishes none that the index marks published.
 */
export class FieldReportLifecycle {
  /** Validated settings. */
  readonly settings: FieldReportSettings;
  private readonly publisher: FieldReportPublisher | undefined;
  private readonly telemetry: FieldReportTelemetry | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly policyVersion: () => string;
  private chain: Promise<unknown> = Promise.resolve();
  private counts = { recorded: 0, synthesised: 0, published: 0, retries: 0, dropped: 0 };
  private closed = false;

  private constructor(
    /** The durable store (log + retry index). */
    readonly store: FieldReportLog,
    private readonly windows: ObservationWindows,
    init: FieldReportLifecycleInit,
  ) {
    const settings = { ...DEFAULT_FIELD_REPORT_SETTINGS, ...init.settings };
    this.settings = Object.freeze({ ...settings, observationWindowEpochs: Math.max(1, Math.floor(settings.observationWindowEpochs)) });
    this.publisher = init.publisher;
    this.telemetry = init.telemetry;
    this.clock = init.clock ?? new SystemClock();
    this.logger = init.logger;
    this.policyVersion = init.policyVersion ?? (() => '');
  }

  /** Opens the log, its retry index and the windows file (creating them when missing). */
  static async open(init: FieldReportLifecycleInit): Promise<FieldReportLifecycle> {
    const fsync = init.fsync ?? true;
    const store = await FieldReportLog.open({ path: init.path, fsync, logger: init.logger });
    try {
      const windows = await ObservationWindows.load(join(dirname(init.path), FIELD_REPORT_WINDOWS_FILE), { fsync, logger: init.logger });
      return new FieldReportLifecycle(store, windows, init);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** Counts since open, and the reports pending now. */
  stats(): FieldReportStats {
    return { ...this.counts, pending: this.store.pendingCount() };
  }

  /** Open observation windows by command id. */
  openWindows(): Readonly<Record<string, ObservationWindow>> {
    return this.windows.snapshot();
  }

  /** Every retained report, in append order. */
  reports(): readonly FieldReport[] {
    return this.store.reports();
  }

  /** Resolves when every call made so far has finished. */
  async idle(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  /**
   * Records one delivered decision (queued behind earlier calls; the call itself takes effect in
   * order even if its promise is not awaited). Resolves the reports written: the per-decision
   * report, then any synthesised ones.
   */
  record(observation: DecisionObservation): Promise<readonly FieldReport[]> {
    return this.serial(() => this.recordNow(observation));
  }

  /**
   * One publish cycle (reference §12.5). Resolves true when nothing is left pending: every due
   * report was delivered and none waits for its backoff.
   */
  publish(): Promise<boolean> {
    return this.serial(() => this.publishNow());
  }

  /** Waits for queued calls, then closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle();
    await this.store.close();
  }

  private async recordNow(o: DecisionObservation): Promise<readonly FieldReport[]> {
    const { packet, command } = o;
    const runId = packet.trainingRunId !== '' ? packet.trainingRunId : 'run-unknown';
    const blueprintId = command.payload.case === 'seedOperation' ? command.payload.value.blueprintId : '';
    const events = o.events ?? [];
    const lossDelta = Number.isFinite(o.lossDelta) ? o.lossDelta : 0;
    const metrics: Record<string, number> = { loss_delta: lossDelta };
    for (const [k, v] of Object.entries(o.metrics ?? {})) if (Number.isFinite(v)) metrics[k] = v;
    for (const k of ['tamiyo_latency_ms', 'hook_latency_ms']) {
      const v = packet.trainingMetrics[k];
      if (v !== undefined && Number.isFinite(v)) metrics[k] = v;
    }
    const timeoutNote = events.find((e) => e.description.startsWith('timeout'))?.description;
    const notes = timeoutNote ?? events.at(-1)?.description ?? command.annotations['reason'] ?? '';
    const commandId = command.commandId !== '' ? command.commandId : randomUUID();
    const policyVersion = o.policyVersion ?? this.policyVersion();
    const step = create(FieldReportSchema, {
      version: 1,
      reportId: `${STEP_REPORT_PREFIX}${commandId}`,
      commandId: command.commandId,
      trainingRunId: runId,
      seedId: command.targetSeedId,
      blueprintId,
      outcome: o.outcome ?? stepOutcome(command, o.timedOut),
      metrics,
      observationWindowEpochs: 1,
      tamiyoPolicyVersion: policyVersion,
      notes,
      ...(command.issuedAt !== undefined ? { issuedAt: command.issuedAt } : { issuedAt: timestampFromMs(this.clock.nowMs()) }),
    });

    const written: FieldReport[] = [step];
    const synthesised: { report: FieldReport; commandId: string; target: number }[] = [];
    try {
      synthesised.push(...this.observe(o, runId, blueprintId, lossDelta, events, policyVersion));
    } catch (error) {
      // Window bookkeeping never fails a decision (reference P9): the per-decision report stands.
      this.logger?.warn('tamiyo: observation-window bookkeeping failed', { error: describe(error) });
    }
    for (const s of synthesised) written.push(s.report);
    await this.store.appendMany(written);
    this.counts.recorded += 1;
    try {
      await this.windows.save();
    } catch (error) {
      this.logger?.warn('tamiyo: could not write the observation-window file', { path: this.windows.path, error: describe(error) });
    }
    for (const s of synthesised) {
      this.counts.synthesised += 1;
      this.emit(
        buildTelemetryPacket(
          {
            packetId: `tamiyo-field-report-synth-${s.commandId}`,
            source: SOURCE,
            level: TelemetryLevel.INFO,
            events: [
              {
                description: FIELD_REPORT_TELEMETRY.synthesisedEvent,
                level: TelemetryLevel.INFO,
                attributes: { report_id: s.report.reportId, command_id: s.commandId, target_epochs: String(s.target) },
              },
            ],
            health: { status: HealthStatus.HEALTHY, summary: FIELD_REPORT_TELEMETRY.synthesisedEvent, derive: false },
          },
          { clock: this.clock },
        ),
      );
    }
    return written;
  }

  /** Updates the windows with one decision; returns the reports of the windows it completes. */
  private observe(o: DecisionObservation, runId: string, blueprintId: string, lossDelta: number, events: readonly DecisionEvent[], policyVersion: string) {
    const { packet, command } = o;
    const target = this.settings.observationWindowEpochs;
    if (command.commandId !== '' && !this.windows.has(command.commandId)) {
      this.windows.open(command.commandId, {
        seed_id: command.targetSeedId,
        blueprint_id: blueprintId,
        training_run_id: runId,
        policy_version: policyVersion,
        start_epoch: packet.currentEpoch,
        collected: 0,
        target,
        sum_loss_delta: 0,
        min_loss_delta: null,
        max_loss_delta: null,
        sum_hook_latency_ms: 0,
        count_hook_latency: 0,
        last_reason: '',
        has_critical: false,
        issued_at_iso: new Date(command.issuedAt !== undefined ? timestampMs(command.issuedAt) : this.clock.nowMs()).toISOString(),
      });
    }
    const hook = packet.trainingMetrics['hook_latency_ms'];
    const lastReason = events.at(-1)?.description;
    const critical = events.some((e) => e.level === TelemetryLevel.CRITICAL);
    const done: { report: FieldReport; commandId: string; target: number }[] = [];
    for (const [commandId, w] of this.windows.entries()) {
      w.collected += 1;
      w.sum_loss_delta += lossDelta;
      w.min_loss_delta = w.min_loss_delta === null ? lossDelta : Math.min(w.min_loss_delta, lossDelta);
      w.max_loss_delta = w.max_loss_delta === null ? lossDelta : Math.max(w.max_loss_delta, lossDelta);
      if (hook !== undefined && hook > 0) {
        w.sum_hook_latency_ms += hook;
        w.count_hook_latency += 1;
      }
      if (lastReason !== undefined) w.last_reason = lastReason;
      if (critical) w.has_critical = true;
      if (w.collected >= Math.max(1, w.target)) done.push({ report: this.synthesise(commandId, w), commandId, target: w.target });
    }
    for (const d of done) this.windows.close(d.commandId);
    return done;
  }

  private synthesise(commandId: string, w: ObservationWindow): FieldReport {
    const outcome =
      w.sum_loss_delta < 0 && !w.has_critical
        ? FieldReportOutcome.SUCCESS
        : w.sum_loss_delta > 0 || w.has_critical
          ? FieldReportOutcome.REGRESSION
          : FieldReportOutcome.NEUTRAL;
    const metrics: Record<string, number> = {
      loss_delta_total: w.sum_loss_delta,
      loss_delta_min: w.min_loss_delta ?? 0,
      loss_delta_max: w.max_loss_delta ?? 0,
    };
    if (w.count_hook_latency > 0) metrics.avg_hook_latency_ms = w.sum_hook_latency_ms / w.count_hook_latency;
    const issuedMs = Date.parse(w.issued_at_iso);
    return create(FieldReportSchema, {
      version: 1,
      reportId: `${SYNTH_REPORT_PREFIX}${commandId}-${w.start_epoch}+${w.target}`,
      commandId,
      trainingRunId: w.training_run_id,
      seedId: w.seed_id,
      blueprintId: w.blueprint_id,
      outcome,
      metrics,
      observationWindowEpochs: Math.max(1, w.target),
      tamiyoPolicyVersion: w.policy_version,
      notes: w.last_reason,
      issuedAt: timestampFromMs(Number.isFinite(issuedMs) ? issuedMs : this.clock.nowMs()),
    });
  }

  private async publishNow(): Promise<boolean> {
    const now = this.clock.nowMs();
    let published = 0;
    let retries = 0;
    let dropped = 0;
    if (this.publisher !== undefined) {
      for (const { report, attempts } of await this.store.due(now)) {
        const key = fieldReportKey(report);
        let error: string | undefined;
        try {
          const result = await this.publisher.publish(report);
          if (result !== true) {
            error = result === 'unknown' ? 'publish outcome unknown (connection lost before the reply)' : 'the bus did not append the report';
          }
        } catch (e) {
          error = describe(e);
        }
        if (error === undefined) {
          await this.store.markPublished(key);
          published += 1;
          continue;
        }
        const count = attempts + 1;
        retries += 1;
        const drop = count > this.settings.maxRetries;
        if (drop) {
          await this.store.markDropped(key, error);
          dropped += 1;
        } else {
          await this.store.markFailed(key, now + retryDelayMs(this.settings, count), error);
        }
        this.emit(
          buildTelemetryPacket(
            {
              packetId: `tamiyo-fr-retry-${key}`,
              source: SOURCE,
              level: TelemetryLevel.WARNING,
              events: [
                {
                  description: drop ? FIELD_REPORT_TELEMETRY.dropEvent : FIELD_REPORT_TELEMETRY.retryEvent,
                  level: TelemetryLevel.WARNING,
                  attributes: { report_id: key, retry_count: String(count), error },
                },
              ],
              health: {
                status: HealthStatus.DEGRADED,
                summary: drop ? FIELD_REPORT_TELEMETRY.dropEvent : FIELD_REPORT_TELEMETRY.retryEvent,
                derive: false,
              },
            },
            { clock: this.clock },
          ),
        );
      }
    }
    const pending = this.store.pendingCount();
    this.counts.published += published;
    this.counts.retries += retries;
    this.counts.dropped += dropped;
    if (published + retries + dropped > 0) {
      const metric = (name: string, value: number): MetricInput => ({ name, value, unit: 'count' });
      this.emit(
        buildTelemetryPacket(
          {
            packetId: 'tamiyo-field-report-summary',
            source: SOURCE,
            level: TelemetryLevel.INFO,
            metrics: [
              metric(FIELD_REPORT_TELEMETRY.publishedTotal, published),
              metric(FIELD_REPORT_TELEMETRY.retriesTotal, retries),
              metric(FIELD_REPORT_TELEMETRY.droppedTotal, dropped),
              metric(FIELD_REPORT_TELEMETRY.pendingTotal, pending),
            ],
            health: { status: HealthStatus.HEALTHY, summary: FIELD_REPORT_TELEMETRY.summary, derive: false },
          },
          { clock: this.clock },
        ),
      );
    }
    try {
      await this.store.compact(now - this.settings.retentionHours * 3_600_000);
    } catch (error) {
      this.logger?.warn('tamiyo: field-report retention failed; the log keeps its reports', { error: describe(error) });
    }
    return this.publisher !== undefined && retries === 0 && pending === 0;
  }

  private emit(packet: TelemetryPacket): void {
    if (this.telemetry === undefined) return;
    // These packets carry no priority indicator: normal telemetry (reference §10.3).
    this.telemetry.emit(packet, MessagePriority.NORMAL).catch((error: unknown) => {
      this.logger?.warn('tamiyo: field-report telemetry was not delivered', { error: describe(error) });
    });
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
