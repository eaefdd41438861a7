import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { container as globalContainer } from 'tsyringe';
import { ResolvedConfig, resolveConfig, type Env, type ResolvedPlugin } from '../config/resolve.js';
import { LeylineSigner } from '../security/signer.js';
import { RunCommandSigner } from './command-signer.js';
import {
  HookFailedError,
  HookTimeoutError,
  MultiPortResolveError,
  PortUnavailableError,
  ProvidesMismatchError,
  RunStoppedError,
  TeardownError,
} from './errors.js';
import { EventBus, type EsperEvents, type LifecycleEmitter, type LifecycleEventName } from './events.js';
import { JsonLogger } from './logger.js';
import { planBoot, type BootPlan } from './plan.js';
import {
  checkPluginInstance,
  hookNameFor,
  type HookContext,
  type InjectableClass,
  type LifecycleHookName,
  type PluginInstance,
  type Resolver,
  type RunInfo,
  type SetupContext,
  type TimedHookName,
} from './plugin.js';
import { SystemClock, type Clock } from './ports/clock.js';
import type { Logger } from './ports/logger.js';
import { lowerProcessPriority, type PrioritySystem } from './process-priority.js';
import { TelemetryHub } from './telemetry-hub.js';
import { portInfo, Tokens, type PortToken } from './tokens.js';

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
  /** Replaces the operating-system calls that apply `run.nice` (tests). */
  readonly prioritySystem?: PrioritySystem;
}

/** Options for {@link Esper.start}. */
export interface StartOptions {
  /** Overrides the generated run id. */
  readonly runId?: string;
}

/**
 * A composed Esper: a validated config and its boot plan. Create it with {@link createEsper};
 * each {@link Esper.start} makes a fresh run, in which every plugin's `setup` makes that run's
 * instance.
 */
export class Esper {
  constructor(
    /** The validated config (prints with secrets masked). */
    readonly config: ResolvedConfig,
    /** Plugin order and port bindings. */
    readonly plan: BootPlan,
    private readonly options: CreateEsperOptions = {},
  ) {}

  /**
   * Starts a run: lowers the process's CPU priority when `run.nice` > 0, then runs every
   * plugin's `setup` in boot order, then `init` and `start` in the same order, each under its
   * timeout. If anything fails, whatever already started is stopped,
   * whatever initialised is disposed (reverse order), every `onDispose` callback runs (last in,
   * first out), and the first error is thrown (teardown failures are attached as `teardownErrors`).
   */
  async start(options: StartOptions = {}): Promise<EsperRun> {
    const clock = this.options.clock ?? new SystemClock();
    const core = this.config.core;
    const runId = options.runId ?? makeRunId(core.run.name, clock.nowMs());
    const run: RunInfo = { runId, name: core.run.name, dir: join(core.run.dir, runId), seed: core.run.seed };
    const logger = (
      this.options.logger ?? new JsonLogger({ level: core.log.level, secrets: this.config.secretValues() })
    ).child({ runId });
    if (core.run.nice > 0) {
      // Before any plugin starts threads, so they inherit it (decision 0067).
      const result = lowerProcessPriority(core.run.nice, this.options.prioritySystem);
      if (result.failed.length > 0) {
        logger.warn('kernel: run.nice could not be applied to every thread; those threads keep their priority', {
          nice: result.nice,
          failed: result.failed.map((f) => `${f.tid}:${f.reason}`).join(','),
        });
      } else logger.info('kernel: process CPU priority lowered (run.nice)', { nice: result.nice, lowered: result.lowered, unchanged: result.unchanged });
    }
    const esperRun = new EsperRun(run, logger, clock, this.plan, core.kernel.hookTimeoutMs);
    const secret = core.security.leylineSecret;
    esperRun.provideDefault(Tokens.Clock, () => clock);
    esperRun.provideDefault(Tokens.Logger, () => logger);
    esperRun.provideDefault(Tokens.Events, () => esperRun.events);
    if (secret !== undefined) esperRun.provideDefault(Tokens.Signer, () => new LeylineSigner(secret));
    esperRun.provideDefault(
      Tokens.CommandSigner,
      () =>
        new RunCommandSigner({
          clock,
          ...(secret !== undefined ? { secret } : {}),
          nonceWindowMs: core.security.nonceWindowMs,
          freshnessWindowMs: core.security.freshnessWindowMs,
          maxFutureSkewMs: core.security.maxFutureSkewMs,
        }),
    );
    esperRun.provideDefault(
      Tokens.Telemetry,
      () =>
        new TelemetryHub({
          sinks: () => esperRun.providersOf(Tokens.TelemetrySink),
          events: esperRun.events,
          logger: logger.child({ component: 'telemetry' }),
        }),
    );
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

/** One port binding of a run: who provided it, how to make it, and the value once made. */
interface Binding {
  readonly provider: string;
  readonly create: (resolver: Resolver) => unknown;
  state: 'idle' | 'creating' | 'ready';
  value?: unknown;
}

/** A plugin of this run with the instance its `setup` returned. */
interface SetUp {
  readonly entry: ResolvedPlugin;
  readonly instance: PluginInstance<unknown>;
}

/** An `onDispose` callback and the plugin that registered it. */
interface Disposer {
  readonly entry: ResolvedPlugin;
  readonly fn: () => void | Promise<void>;
}

/**
 * One run of a composed Esper: its ports, events and lifecycle. Resolve ports with
 * {@link EsperRun.resolve}; fire lifecycle events with `run.lifecycle.emit`; stop with
 * {@link EsperRun.stop} (or `await using`).
 */
export class EsperRun implements Resolver {
  /** This run's notification bus. */
  readonly events: EventBus;
  /** Fires this run's awaited lifecycle events (see {@link LifecycleEmitter}). */
  readonly lifecycle: LifecycleEmitter;

  private phase: Phase = 'created';
  /** Plugin bindings by token, in boot order. */
  private readonly bindings = new Map<symbol, Binding[]>();
  /** Kernel defaults by token; a plugin binding of the same token replaces it. */
  private readonly defaults = new Map<symbol, Binding>();
  private readonly setUp: SetUp[] = [];
  private readonly initialised: SetUp[] = [];
  private readonly started: SetUp[] = [];
  private readonly disposers: Disposer[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    /** Run id, directory and seed. */
    readonly info: RunInfo,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly plan: BootPlan,
    private readonly defaultTimeoutMs: number,
  ) {
    this.events = new EventBus((error, event) => {
      logger.error('event listener failed', { event, error: describeError(error) });
    });
    this.lifecycle = { emit: (event, payload) => this.emitLifecycle(event, payload) };
  }

  /** The run id. */
  get runId(): string {
    return this.info.runId;
  }

  /** Whether the run is started and not yet stopping. */
  get running(): boolean {
    return this.phase === 'running';
  }

  resolve<T>(token: PortToken<T>): T {
    const value = this.tryResolve(token);
    if (value === undefined && this.bindingsOf(token).length === 0) {
      throw new PortUnavailableError(
        `Nothing provides port ${portInfo(token).name} in this run. Add a plugin that provides it to the config.`,
      );
    }
    return value as T;
  }

  tryResolve<T>(token: PortToken<T>): T | undefined {
    this.assertNotStopped();
    const info = portInfo(token);
    if (info.multi) throw new MultiPortResolveError(info.name);
    const [binding] = this.bindingsOf(token);
    return binding === undefined ? undefined : (this.instantiate(token, binding) as T);
  }

  resolveAll<T>(token: PortToken<T>): T[] {
    this.assertNotStopped();
    return this.bindingsOf(token).map((binding) => this.instantiate(token, binding) as T);
  }

  /** @internal Every provider of a port with the name of the plugin that bound it, in boot order. */
  providersOf<T>(token: PortToken<T>): Array<{ sink: T; provider: string }> {
    return this.bindingsOf(token).map((b) => ({ sink: this.instantiate(token, b) as T, provider: b.provider }));
  }

  /** @internal Registers a kernel default (used by {@link Esper.start} before boot). */
  provideDefault<T>(token: PortToken<T>, create: () => T): void {
    this.defaults.set(token, { provider: 'kernel', create, state: 'idle' });
  }

  /** @internal Sets up every plugin and runs `init` and `start`; rolls back on failure. */
  async boot(): Promise<void> {
    try {
      for (const entry of this.plan.order) await this.setup(entry);
      for (const plugin of this.setUp) {
        await this.runHook(plugin, 'init');
        this.initialised.push(plugin);
      }
      for (const plugin of this.setUp) {
        await this.runHook(plugin, 'start');
        this.started.push(plugin);
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
   * both in reverse boot order, then every `onDispose` callback, last in first out. Every step
   * runs even if an earlier one failed; the failures are thrown together as a
   * {@link TeardownError}. Calling it again returns the same promise.
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
    for (const plugin of [...this.started].reverse()) {
      await this.runHook(plugin, 'stop').catch((e: unknown) => errors.push(e));
    }
    for (const plugin of [...this.initialised].reverse()) {
      await this.runHook(plugin, 'dispose').catch((e: unknown) => errors.push(e));
    }
    for (const { entry, fn } of this.disposers.splice(0).reverse()) {
      await this.withTimeout(entry.plugin.name, 'onDispose', this.timeoutFor(entry, 'dispose'), () => fn()).catch(
        (e: unknown) => errors.push(e),
      );
    }
    this.started.length = 0;
    this.initialised.length = 0;
    this.setUp.length = 0;
    this.events.clear();
    this.bindings.clear();
    this.defaults.clear();
    this.phase = 'stopped';
    return errors;
  }

  private async setup(entry: ResolvedPlugin): Promise<void> {
    const { plugin, options } = entry;
    const bound: symbol[] = [];
    let open = true;
    const bind = (token: symbol, create: (resolver: Resolver) => unknown): void => {
      if (!open) {
        throw new ProvidesMismatchError(
          `Plugin "${plugin.name}" called ctx.provide for ${portInfo(token).name} after its setup() finished. Bind ports inside setup().`,
        );
      }
      if (bound.includes(token)) {
        throw new ProvidesMismatchError(
          `Plugin "${plugin.name}" binds port ${portInfo(token).name} twice. Call ctx.provide once per port (return an object that does both jobs).`,
        );
      }
      bound.push(token);
      const list = this.bindings.get(token) ?? [];
      list.push({ provider: plugin.name, create, state: 'idle' });
      this.bindings.set(token, list);
    };
    const ctx: SetupContext<unknown> = {
      options,
      run: this.info,
      logger: this.logger.child({ plugin: plugin.name }),
      clock: this.clock,
      events: this.events,
      resolver: this,
      lifecycle: this.lifecycle,
      provide: (token, factory) => bind(token, factory),
      provideValue: (token, value) => bind(token, () => value),
      provideClass: (token, cls) => bind(token, () => this.construct(cls)),
      onDispose: (fn) => {
        if (typeof fn !== 'function') throw new TypeError(`Plugin "${plugin.name}": ctx.onDispose needs a function.`);
        this.disposers.push({ entry, fn });
      },
    };
    let instance: unknown;
    try {
      await this.withTimeout(plugin.name, 'setup', this.timeoutFor(entry, 'setup'), async () => {
        instance = await plugin.setup(ctx);
      });
    } finally {
      open = false;
    }
    const checked = checkPluginInstance(plugin.name, instance);

    const declared = new Set<symbol>(plugin.provides ?? []);
    for (const token of declared) {
      if (!bound.includes(token)) {
        const name = portInfo(token).name;
        throw new ProvidesMismatchError(
          `Plugin "${plugin.name}" declares that it provides ${name} but its setup() did not bind it. Call ctx.provide(<${name} token>, …) in setup(), or remove it from provides.`,
        );
      }
    }
    for (const token of bound) {
      if (!declared.has(token)) {
        const name = portInfo(token).name;
        throw new ProvidesMismatchError(
          `Plugin "${plugin.name}" bound port ${name} without declaring it. Add the ${name} token to its provides list so the kernel can check providers.`,
        );
      }
    }
    this.setUp.push({ entry, instance: checked });
  }

  private async emitLifecycle<E extends LifecycleEventName>(event: E, payload: EsperEvents[E]): Promise<void> {
    this.assertNotStopped();
    const hook = hookNameFor(event);
    const failures: unknown[] = [];
    for (const { entry, instance } of [...this.setUp]) {
      const fn = instance[hook] as ((payload: EsperEvents[E], ctx: HookContext<unknown>) => void | Promise<void>) | undefined;
      if (fn === undefined) continue;
      try {
        await this.withTimeout(entry.plugin.name, hook, this.timeoutFor(entry, hook), (signal) =>
          fn.call(instance, payload, this.hookContext(entry, signal)),
        );
      } catch (error) {
        failures.push(error);
        this.logger.error('lifecycle hook failed', { event, plugin: entry.plugin.name, error: describeError(error) });
      }
    }
    this.events.emit(event, payload);
    if (failures.length > 0) throw failures[0];
  }

  private bindingsOf(token: symbol): readonly Binding[] {
    const bound = this.bindings.get(token);
    if (bound !== undefined && bound.length > 0) return bound;
    const fallback = this.defaults.get(token);
    return fallback === undefined ? [] : [fallback];
  }

  private instantiate(token: symbol, binding: Binding): unknown {
    if (binding.state === 'ready') return binding.value;
    if (binding.state === 'creating') {
      throw new PortUnavailableError(
        `Port ${portInfo(token).name} (from "${binding.provider}") needs itself while it is being created: its factory resolves, directly or through other factories, the port it makes. Resolve the dependency later (in a hook or on first use).`,
      );
    }
    binding.state = 'creating';
    try {
      binding.value = binding.create(this);
      binding.state = 'ready';
      return binding.value;
    } catch (error) {
      binding.state = 'idle';
      throw error;
    }
  }

  /** Builds a class through tsyringe, its `@inject(token)` parameters resolved from this run. */
  private construct<T>(cls: InjectableClass<T>): T {
    const container = globalContainer.createChildContainer();
    for (const token of new Set([...this.defaults.keys(), ...this.bindings.keys()])) {
      for (const binding of this.bindingsOf(token)) {
        container.register(token, { useFactory: () => this.instantiate(token, binding) });
      }
    }
    return container.resolve(cls as unknown as new (...args: unknown[]) => T);
  }

  private assertNotStopped(): void {
    if (this.phase === 'stopped') throw new RunStoppedError(this.info.runId);
  }

  private async runHook(plugin: SetUp, hook: LifecycleHookName): Promise<void> {
    const fn = plugin.instance[hook];
    if (fn === undefined) return;
    const { entry, instance } = plugin;
    await this.withTimeout(entry.plugin.name, hook, this.timeoutFor(entry, hook), (signal) =>
      fn.call(instance, this.hookContext(entry, signal)),
    );
  }

  private timeoutFor(entry: ResolvedPlugin, hook: TimedHookName): number {
    return entry.plugin.hookTimeoutsMs?.[hook] ?? this.defaultTimeoutMs;
  }

  private hookContext(entry: ResolvedPlugin, signal: AbortSignal): HookContext<unknown> {
    return {
      options: entry.options,
      run: this.info,
      logger: this.logger.child({ plugin: entry.plugin.name }),
      clock: this.clock,
      events: this.events,
      resolver: this,
      lifecycle: this.lifecycle,
      resolve: (token) => this.resolve(token),
      resolveAll: (token) => this.resolveAll(token),
      tryResolve: (token) => this.tryResolve(token),
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
    const expired = new HookTimeoutError(plugin, hook, timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort(expired);
        reject(expired);
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(() => fn(controller.signal)), timeout]);
    } catch (error) {
      if (error === expired) throw error;
      throw new HookFailedError(plugin, hook, error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function makeRunId(name: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}-${stamp}-${randomBytes(3).toString('hex')}`;
}

function describeError(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { name: error.name, message: error.message } : { message: String(error) };
}
