import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { container as globalContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { ResolvedConfig, resolveConfig, type Env, type ResolvedPlugin } from '../config/resolve.js';
import { LeylineSigner } from '../security/index.js';
import {
  HookFailedError,
  HookTimeoutError,
  PortUnavailableError,
  ProvidesMismatchError,
  RunStoppedError,
  TeardownError,
} from './errors.js';
import { EventBus, type EsperEventName } from './events.js';
import { JsonLogger } from './logger.js';
import { planBoot, type BootPlan } from './plan.js';
import type { HookContext, LifecycleHookName, RegisterContext, RunInfo } from './plugin.js';
import { SystemClock, type Clock } from './ports/clock.js';
import type { Logger } from './ports/logger.js';
import { listPorts, portInfo, Tokens, type PortToken } from './tokens.js';

/** Options for {@link createEsper}. */
export interface CreateEsperOptions {
  /** Environment for overrides (default `process.env`). */
  readonly env?: Env;
  /** Where the config came from, for messages. */
  readonly source?: string;
  /** Replaces the default clock for every run (tests use `ManualClock`). */
  readonly clock?: Clock;
  /** Replaces the default JSON logger. Secrets are still the caller's concern then. */
  readonly logger?: Logger;
}

/** Options for {@link Esper.start}. */
export interface StartOptions {
  /** Overrides the generated run id. */
  readonly runId?: string;
}

/**
 * A composed Esper: a validated config and its boot plan. Create it with {@link createEsper};
 * each {@link Esper.start} makes a fresh run in its own child container.
 */
export class Esper {
  /** Every run's container is a child of this one; nothing is registered in tsyringe's global container. */
  private readonly root: DependencyContainer;

  constructor(
    /** The validated config (prints with secrets masked). */
    readonly config: ResolvedConfig,
    /** Plugin order and port bindings. */
    readonly plan: BootPlan,
    private readonly options: CreateEsperOptions = {},
  ) {
    this.root = globalContainer.createChildContainer();
  }

  /**
   * Starts a run: a child container, every plugin's `register`, then `init` and `start` in
   * dependency order, each under its timeout. If anything fails, whatever already started
   * is stopped and disposed in reverse order and the first error is thrown (teardown
   * failures are attached as `teardownErrors`).
   */
  async start(options: StartOptions = {}): Promise<EsperRun> {
    const clock = this.options.clock ?? new SystemClock();
    const core = this.config.core;
    const runId = options.runId ?? makeRunId(core.run.name, clock.nowMs());
    const run: RunInfo = { runId, name: core.run.name, dir: join(core.run.dir, runId), seed: core.run.seed };
    const logger = (
      this.options.logger ?? new JsonLogger({ level: core.log.level, secrets: this.config.secretValues() })
    ).child({ runId });
    const events = new EventBus((error, event) => {
      logger.error('event listener failed', { event, error: describeError(error) });
    });
    const container = this.root.createChildContainer();
    container.registerInstance(Tokens.Clock, clock);
    container.registerInstance(Tokens.Logger, logger);
    container.registerInstance(Tokens.Events, events);
    if (core.security.leylineSecret !== undefined) {
      container.registerInstance(Tokens.Signer, new LeylineSigner(core.security.leylineSecret));
    }

    const esperRun = new EsperRun(run, container, events, logger, clock, this.plan, core.kernel.hookTimeoutMs);
    await esperRun.boot();
    return esperRun;
  }
}

/**
 * Validates a config (from `defineConfig`, a parsed JSON file, or an already resolved config),
 * applies environment overrides and checks the boot plan. Throws `ConfigValidationError`,
 * `MissingProviderError`, `DuplicateProviderError` or `DependencyCycleError`; nothing runs yet.
 */
export function createEsper(config: unknown, options: CreateEsperOptions = {}): Esper {
  const resolved =
    config instanceof ResolvedConfig
      ? config
      : resolveConfig(config, {
          ...(options.env !== undefined ? { env: options.env } : {}),
          ...(options.source !== undefined ? { source: options.source } : {}),
        });
  return new Esper(resolved, planBoot(resolved), options);
}

type Phase = 'created' | 'running' | 'stopping' | 'stopped';

/** One run of a composed Esper: its container, events and lifecycle. */
export class EsperRun {
  private phase: Phase = 'created';
  private readonly initialised: ResolvedPlugin[] = [];
  private readonly started: ResolvedPlugin[] = [];
  private readonly unsubscribers: Array<() => void> = [];
  private stopping: Promise<void> | undefined;

  constructor(
    /** Run id, directory and seed. */
    readonly info: RunInfo,
    /** This run's child container. */
    readonly container: DependencyContainer,
    /** This run's event bus. */
    readonly events: EventBus,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly plan: BootPlan,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** The run id. */
  get runId(): string {
    return this.info.runId;
  }

  /** Whether the run is started and not yet stopping. */
  get running(): boolean {
    return this.phase === 'running';
  }

  /** Resolves a port; throws {@link PortUnavailableError} when nothing provides it. */
  resolve<T>(token: PortToken<T>): T {
    if (this.phase === 'stopped') throw new RunStoppedError(this.info.runId);
    if (!this.container.isRegistered(token, true)) {
      throw new PortUnavailableError(
        `Nothing provides port ${portInfo(token).name} in this run. Add a plugin that provides it to the config.`,
      );
    }
    return this.container.resolve<T>(token);
  }

  /** Resolves every provider of a multi port (empty when none). */
  resolveAll<T>(token: PortToken<T>): T[] {
    if (this.phase === 'stopped') throw new RunStoppedError(this.info.runId);
    return this.container.isRegistered(token, true) ? this.container.resolveAll<T>(token) : [];
  }

  /** @internal Registers every plugin and runs `init` and `start`; rolls back on failure. */
  async boot(): Promise<void> {
    try {
      for (const entry of this.plan.order) await this.register(entry);
      for (const entry of this.plan.order) {
        await this.runHook(entry, 'init');
        this.initialised.push(entry);
      }
      for (const entry of this.plan.order) {
        await this.runHook(entry, 'start');
        this.started.push(entry);
      }
      this.phase = 'running';
      this.logger.info('run started', { plugins: this.plan.order.map((p) => p.plugin.name) });
    } catch (error) {
      const teardownErrors = await this.teardown();
      if (teardownErrors.length > 0 && error instanceof Error) {
        Object.defineProperty(error, 'teardownErrors', { value: teardownErrors, enumerable: false });
      }
      throw error;
    }
  }

  /**
   * Stops the run: `stop` for every started plugin, then `dispose` for every initialised one,
   * both in reverse dependency order. Every step runs even if an earlier one failed; the
   * failures are thrown together as a {@link TeardownError}. Calling it again returns the
   * same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const errors = await this.teardown();
      this.logger.info('run stopped', { failures: errors.length });
      if (errors.length > 0) throw new TeardownError(errors);
    })();
    return this.stopping;
  }

  /** `await using run = await esper.start()` stops the run at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async teardown(): Promise<unknown[]> {
    this.phase = 'stopping';
    const errors: unknown[] = [];
    for (const entry of [...this.started].reverse()) {
      await this.runHook(entry, 'stop').catch((e: unknown) => errors.push(e));
    }
    for (const entry of [...this.initialised].reverse()) {
      await this.runHook(entry, 'dispose').catch((e: unknown) => errors.push(e));
    }
    this.started.length = 0;
    this.initialised.length = 0;
    for (const off of this.unsubscribers.splice(0)) off();
    this.events.clear();
    this.container.clearInstances();
    this.phase = 'stopped';
    return errors;
  }

  private async register(entry: ResolvedPlugin): Promise<void> {
    const { plugin, options } = entry;
    const portTokens = listPorts().map(([token]) => token);
    const before = new Set(portTokens.filter((t) => this.container.isRegistered(t, false)));
    const logger = this.logger.child({ plugin: plugin.name });
    const ctx: RegisterContext<unknown> = {
      options,
      container: this.container,
      run: this.info,
      logger,
      clock: this.clock,
      events: this.events,
      provide: (token, factory) => {
        this.container.register(token, { useFactory: instanceCachingFactory((c) => factory(c)) });
      },
      provideValue: (token, value) => {
        this.container.registerInstance(token, value);
      },
    };
    await this.withTimeout(plugin.name, 'register', this.timeoutFor(entry, 'init'), () => plugin.register(ctx));

    const declared = new Set<symbol>(plugin.provides ?? []);
    for (const token of declared) {
      if (!this.container.isRegistered(token, false)) {
        throw new ProvidesMismatchError(
          `Plugin "${plugin.name}" declares that it provides ${portInfo(token).name} but its register() did not bind it. Call ctx.provide(Tokens.${portInfo(token).name}, …) in register(), or remove it from provides.`,
        );
      }
    }
    for (const token of portTokens) {
      if (!before.has(token) && !declared.has(token) && this.container.isRegistered(token, false)) {
        throw new ProvidesMismatchError(
          `Plugin "${plugin.name}" bound port ${portInfo(token).name} without declaring it. Add Tokens.${portInfo(token).name} to its provides list so the kernel can check providers.`,
        );
      }
    }

    for (const [name, hook] of Object.entries(plugin.hooks ?? {})) {
      const event = eventForHook(name);
      if (event === undefined || typeof hook !== 'function') continue;
      const handler = hook as (payload: unknown, ctx: HookContext<unknown>) => void | Promise<void>;
      this.unsubscribers.push(
        this.events.on(event, (payload) => handler(payload, this.hookContext(entry, new AbortController().signal))),
      );
    }
  }

  private async runHook(entry: ResolvedPlugin, hook: LifecycleHookName): Promise<void> {
    const fn = entry.plugin.hooks?.[hook];
    if (fn === undefined) return;
    const timeoutMs = this.timeoutFor(entry, hook);
    await this.withTimeout(entry.plugin.name, hook, timeoutMs, (signal) => fn(this.hookContext(entry, signal)));
  }

  private timeoutFor(entry: ResolvedPlugin, hook: LifecycleHookName): number {
    return entry.plugin.hookTimeoutsMs?.[hook] ?? this.defaultTimeoutMs;
  }

  private hookContext(entry: ResolvedPlugin, signal: AbortSignal): HookContext<unknown> {
    return {
      options: entry.options,
      container: this.container,
      run: this.info,
      logger: this.logger.child({ plugin: entry.plugin.name }),
      clock: this.clock,
      events: this.events,
      resolve: (token) => this.resolve(token),
      resolveAll: (token) => this.resolveAll(token),
      signal,
    };
  }

  private async withTimeout(
    plugin: string,
    hook: string,
    timeoutMs: number,
    fn: (signal: AbortSignal) => void | Promise<void>,
  ): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new HookTimeoutError(plugin, hook, timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(() => fn(controller.signal)), timeout]);
    } catch (error) {
      if (error instanceof HookTimeoutError) throw error;
      throw new HookFailedError(plugin, hook, error);
    } finally {
      clearTimeout(timer);
    }
  }
}

const HOOK_EVENTS: ReadonlyMap<string, EsperEventName> = new Map<string, EsperEventName>([
  ['onEpochStart', 'epoch:start'],
  ['onEpochEnd', 'epoch:end'],
  ['onStepEnd', 'step:end'],
  ['onCommandIssued', 'command:issued'],
  ['onCommandApplied', 'command:applied'],
  ['onCommandRejected', 'command:rejected'],
  ['onSeedStageChanged', 'seed:stage-changed'],
  ['onEmergencyRaised', 'emergency:raised'],
  ['onEmergencyCleared', 'emergency:cleared'],
  ['onTelemetryEmitted', 'telemetry:emitted'],
]);

function eventForHook(name: string): EsperEventName | undefined {
  return HOOK_EVENTS.get(name);
}

function makeRunId(name: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}-${stamp}-${randomBytes(3).toString('hex')}`;
}

function describeError(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { name: error.name, message: error.message } : { message: String(error) };
}
