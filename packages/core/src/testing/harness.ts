import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import type { Env } from '../config/resolve.js';
import { MessagePriority, SystemStatePacketSchema, type SystemStatePacket, type TelemetryPacket } from '../leyline/index.js';
import type { EsperEvents, LifecycleEventName, NotificationEventName } from '../kernel/events.js';
import { createEsper, type EsperRun } from '../kernel/kernel.js';
import { definePlugin, type AnyPlugin, type Resolver, type RunInfo } from '../kernel/plugin.js';
import { ManualClock } from '../kernel/ports/clock.js';
import type { LogFields, LogLevel, Logger } from '../kernel/ports/logger.js';
import { Tokens, type PortToken } from '../kernel/tokens.js';

/** One telemetry packet as the harness's collecting sink received it. */
export interface CollectedTelemetry {
  readonly packet: TelemetryPacket;
  readonly priority: MessagePriority;
}

/** One log record kept by {@link silentLogger}. */
export interface CapturedLog {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/**
 * A {@link Logger} that prints nothing and keeps every record (with the fields of its
 * `child()` ancestors) in `records`, for assertions.
 */
export function silentLogger(records: CapturedLog[] = [], base: LogFields = {}): Logger & { readonly records: CapturedLog[] } {
  const log = (level: LogLevel) => (message: string, fields?: LogFields) =>
    void records.push({ level, message, fields: { ...base, ...fields } });
  return {
    records,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => silentLogger(records, { ...base, ...fields }),
  };
}

/** Options of {@link startTestRun}. */
export interface TestRunOptions {
  /** The plugins under test (a telemetry-collecting sink is added after them). */
  readonly plugins: readonly AnyPlugin[];
  /**
   * Config sections, as in `defineConfig` without `plugins`: `{ greeter: { … }, kernel: { hookTimeoutMs: 50 } }`.
   * `run.dir` defaults to a fresh temporary directory.
   */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Environment for overrides; default none (`process.env` is not read). */
  readonly env?: Env;
  /** The run's clock; default a new `ManualClock` at 2026-01-01T00:00:00Z. */
  readonly clock?: ManualClock;
  /** The run id; default `test-run`. */
  readonly runId?: string;
  /** Add the collecting `TelemetrySink` (default true). */
  readonly collectTelemetry?: boolean;
}

/** Name of the harness's collecting sink plugin (it appears in boot order and logs). */
export const TELEMETRY_COLLECTOR_PLUGIN = '@esper/core/testing:telemetry-collector';

/**
 * A run booted by {@link startTestRun}: the run itself, its manual clock, the telemetry it
 * delivered and the logs it wrote, with helpers to fire events. Stop it with `stop()` or
 * `await using`.
 */
export class PluginTestRun implements Resolver, AsyncDisposable {
  constructor(
    /** The run under test. */
    readonly run: EsperRun,
    /** The run's clock: move it with `advance(ms)`. */
    readonly clock: ManualClock,
    /** Every packet the run's `Telemetry` hub delivered, in order (when collecting). */
    readonly telemetry: CollectedTelemetry[],
    /** Every log record of the run (the logger prints nothing). */
    readonly logs: CapturedLog[],
  ) {}

  /** Run id, directory and seed. */
  get info(): RunInfo {
    return this.run.info;
  }

  resolve<T>(token: PortToken<T>): T {
    return this.run.resolve(token);
  }

  resolveAll<T>(token: PortToken<T>): T[] {
    return this.run.resolveAll(token);
  }

  tryResolve<T>(token: PortToken<T>): T | undefined {
    return this.run.tryResolve(token);
  }

  /** Fires a lifecycle event: awaits every plugin's hook, in boot order (as a trainer would). */
  fire<E extends LifecycleEventName>(event: E, payload: EsperEvents[E]): Promise<void> {
    return this.run.lifecycle.emit(event, payload);
  }

  /** Sends a notification on the run's bus (fire-and-forget). */
  notify<E extends NotificationEventName>(event: E, payload: EsperEvents[E]): void {
    this.run.events.emit(event, payload);
  }

  /**
   * Fires `epoch:start` then `epoch:end` for `epoch`, as a trainer does around one epoch; the
   * end carries `packet`, or an empty `SystemStatePacket` for that epoch.
   */
  async epoch(epoch: number, packet?: SystemStatePacket): Promise<void> {
    const runId = this.run.runId;
    await this.fire('epoch:start', { runId, epoch });
    await this.fire('epoch:end', { runId, epoch, packet: packet ?? create(SystemStatePacketSchema, { currentEpoch: epoch }) });
  }

  /** Emits a packet through the run's `Telemetry` hub (every sink receives it). */
  emitTelemetry(packet: TelemetryPacket, priority: MessagePriority = MessagePriority.NORMAL): Promise<void> {
    return this.run.resolve(Tokens.Telemetry).emit(packet, priority);
  }

  /** Log records at `level` or above whose message contains `text` (all of them without `text`). */
  logged(level: LogLevel, text?: string): CapturedLog[] {
    const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
    return this.logs.filter((l) => rank[l.level] >= rank[level] && (text === undefined || l.message.includes(text)));
  }

  /** Stops the run (see `EsperRun.stop`). */
  stop(): Promise<void> {
    return this.run.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.run.stop();
  }
}

/**
 * Boots a run for testing plugins: the given plugins and config, a `ManualClock`, a silent
 * logger that keeps its records, no environment, a temporary run directory, and a
 * `TelemetrySink` that collects every packet the run's `Telemetry` hub delivers.
 *
 * @example
 * ```ts
 * await using t = await startTestRun({ plugins: [counterSink()] });
 * await t.emitTelemetry(packet);
 * expect(t.telemetry).toHaveLength(1);
 * ```
 */
export async function startTestRun(options: TestRunOptions): Promise<PluginTestRun> {
  const clock = options.clock ?? new ManualClock();
  const telemetry: CollectedTelemetry[] = [];
  const logs: CapturedLog[] = [];
  const config = options.config ?? {};
  const run = (config.run ?? {}) as Record<string, unknown>;
  const plugins = [...options.plugins];
  if (options.collectTelemetry ?? true) plugins.push(collector(telemetry));
  const esper = createEsper(
    { ...config, run: { ...run, dir: run.dir ?? mkdtempSync(join(tmpdir(), 'esper-test-')) }, plugins },
    { env: options.env ?? {}, clock, logger: silentLogger(logs) },
  );
  return new PluginTestRun(await esper.start({ runId: options.runId ?? 'test-run' }), clock, telemetry, logs);
}

function collector(into: CollectedTelemetry[]): AnyPlugin {
  return definePlugin({
    name: TELEMETRY_COLLECTOR_PLUGIN,
    configKey: 'esperTestingTelemetryCollector',
    provides: [Tokens.TelemetrySink],
    setup(ctx) {
      ctx.provideValue(Tokens.TelemetrySink, {
        emit: (packet, priority) => void into.push({ packet, priority }),
      });
    },
  });
}
