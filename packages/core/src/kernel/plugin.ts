import type { z } from 'zod';
import { checkPluginSettings } from '../config/meta.js';
import { InvalidPluginError, UnknownHookError } from './errors.js';
import { LIFECYCLE_EVENTS, type EsperEvents, type EventBus, type LifecycleEmitter, type LifecycleEventName } from './events.js';
import type { Clock, Logger } from './ports/index.js';
import type { PortToken } from './tokens.js';

/** Names of the lifecycle hooks, in the order the kernel runs them. */
export const LIFECYCLE_HOOKS = ['init', 'start', 'stop', 'dispose'] as const;

/** One of `init`, `start`, `stop`, `dispose`. */
export type LifecycleHookName = (typeof LIFECYCLE_HOOKS)[number];

/** Facts about the run a plugin is set up in. */
export interface RunInfo {
  /** Unique id of this run (`<name>-<utc timestamp>-<random>`). */
  readonly runId: string;
  /** Human name of the run from `run.name`. */
  readonly name: string;
  /** Directory for checkpoints, logs, telemetry and field reports of this run. */
  readonly dir: string;
  /** Seed for every random number generator of the run. */
  readonly seed: number;
}

/**
 * Typed access to the ports of a run. The type of what you get comes from the token, so
 * `const x: number = r.resolve(Tokens.Clock)` does not compile.
 */
export interface Resolver {
  /**
   * The one provider of a single-provider port (a plugin's, or the kernel default), created on
   * first use. Which plugin provides it does not depend on config order.
   *
   * @throws `PortUnavailableError` when nothing provides the port in this run.
   * @throws `MultiPortResolveError` for a multi-provider port (use {@link Resolver.resolveAll}).
   */
  resolve<T>(token: PortToken<T>): T;
  /** Every provider of a port in plugin boot order (for a single port: zero or one); empty when none. */
  resolveAll<T>(token: PortToken<T>): T[];
  /** Like {@link Resolver.resolve}, but `undefined` when nothing provides the port. */
  tryResolve<T>(token: PortToken<T>): T | undefined;
}

/** A class whose constructor takes tokens through `@inject(Tokens.X)` (tsyringe). */
export type InjectableClass<T> = new (...args: never[]) => T;

/** What `setup` receives: where to bind the ports the plugin provides and register cleanup. */
export interface SetupContext<Options> {
  /** The plugin's validated options (defaults, factory options, config section, env overrides). */
  readonly options: Readonly<Options>;
  readonly run: RunInfo;
  /** The kernel's logger, with `plugin` set to this plugin's name. */
  readonly logger: Logger;
  readonly clock: Clock;
  /** The run's notification bus (fire-and-forget: `step:end`, `command:*`, `telemetry:emitted`). */
  readonly events: EventBus;
  /** Ports of this run. Resolve lazily (in factories and hooks), not while setting up. */
  readonly resolver: Resolver;
  /** Fires awaited lifecycle events (`epoch:end`, `seed:stage-changed`, …). */
  readonly lifecycle: LifecycleEmitter;
  /**
   * Binds a port this plugin declares in `provides` to a factory that runs once per run, on first
   * resolve, with a resolver for its dependencies (so plugin order does not matter for bindings).
   * Call it during `setup` only.
   */
  provide<T>(token: PortToken<T>, factory: (resolver: Resolver) => T): void;
  /** Binds a port this plugin declares in `provides` to a ready value. Call it during `setup` only. */
  provideValue<T>(token: PortToken<T>, value: T): void;
  /**
   * Binds a port to a class constructed once per run by tsyringe, its constructor parameters
   * injected by explicit token (`@inject(Tokens.Clock)`). Call it during `setup` only.
   */
  provideClass<T>(token: PortToken<T>, cls: InjectableClass<T>): void;
  /**
   * Registers cleanup for a resource acquired by this run. At teardown, after every `stop` and
   * `dispose` hook, the kernel calls all `onDispose` callbacks of the run last in, first out,
   * each within this plugin's `dispose` timeout; every callback runs even if another failed.
   * Also runs when the boot fails, for whatever was acquired before the failure.
   */
  onDispose(fn: () => void | Promise<void>): void;
}

/** What lifecycle hooks and lifecycle event hooks receive. */
export interface HookContext<Options> extends Resolver {
  readonly options: Readonly<Options>;
  readonly run: RunInfo;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly resolver: Resolver;
  readonly lifecycle: LifecycleEmitter;
  /** Aborted when the hook has exceeded its timeout; long hooks should stop on it. */
  readonly signal: AbortSignal;
}

/** Converts `epoch:end` into `onEpochEnd`, `seed:stage-changed` into `onSeedStageChanged`. */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
/** The hook name for an event name. */
export type EventHookName<E extends string> = E extends `${infer S}:${infer V}`
  ? `on${Capitalize<Camel<S>>}${Capitalize<Camel<V>>}`
  : never;

/** `onEpochStart`, `onEpochEnd`, `onSeedStageChanged`, `onEmergencyRaised`, `onEmergencyCleared`, `onRunEnd`. */
export type LifecycleEventHookName = EventHookName<LifecycleEventName>;

/** Awaited event hooks: one optional `on<Subject><Event>` per lifecycle event. */
export type LifecycleEventHooks<Options> = {
  [E in LifecycleEventName as EventHookName<E>]?: (
    payload: EsperEvents[E],
    ctx: HookContext<Options>,
  ) => void | Promise<void>;
};

/**
 * What `setup` returns: this run's hooks, closing over this run's state. Lifecycle hooks run in
 * dependency order (`init`, `start`) and in reverse (`stop`, `dispose`); lifecycle event hooks run
 * in boot order when a producer fires the event. Every hook is awaited within its timeout.
 */
export type PluginInstance<Options> = {
  [H in LifecycleHookName]?: (ctx: HookContext<Options>) => void | Promise<void>;
} & LifecycleEventHooks<Options>;

/** Every hook name a plugin instance may have. */
export type PluginHookName = LifecycleHookName | LifecycleEventHookName;

/** The names a plugin may set a timeout for: `setup`, the lifecycle hooks and the event hooks. */
export type TimedHookName = 'setup' | PluginHookName;

/** Any zod schema usable as a plugin's config schema (an object schema, strict). */
export type AnyConfigSchema = z.ZodType<Record<string, unknown>, Record<string, unknown>>;

/**
 * An Esper plugin: a value that provides ports, requires ports, validates its own config
 * section, and for each run sets up an instance whose hooks take part in the lifecycle. Make one
 * with {@link definePlugin}; one plugin value serves any number of runs.
 *
 * @typeParam Key - the config section this plugin reads (`tamiyo`, `oona`, …).
 * @typeParam Options - the validated options type.
 * @typeParam Input - what a user may write in the config section (defaults optional).
 */
export interface EsperPlugin<Key extends string = string, Options = unknown, Input = unknown> {
  /** Unique plugin name, e.g. `@esper/plugin-oona-memory`. */
  readonly name: string;
  /** Config section read by this plugin; must be unique across plugins. */
  readonly configKey: Key;
  /**
   * Validates the section; unknown keys are errors (use `z.strictObject`). Env names and secrets
   * are the options' `.meta({ env, secret })` (see `SettingMeta`), checked by {@link definePlugin}.
   */
  readonly configSchema?: z.ZodType<Options, Input>;
  /**
   * Options given to the plugin factory; the config section and env override them. Plain objects
   * are merged key by key; every other value (functions, class instances) is kept as given.
   */
  readonly factoryOptions?: Partial<Input>;
  /** Ports this plugin binds in `setup`; the kernel checks that it binds exactly these. */
  readonly provides?: readonly PortToken<unknown>[];
  /** Ports that must be provided by some plugin (or the kernel) for this plugin to boot. */
  readonly requires?: readonly PortToken<unknown>[];
  /** Ports used when present; they order this plugin after their providers. */
  readonly optionalRequires?: readonly PortToken<unknown>[];
  /** Per-hook timeouts in ms, overriding `kernel.hookTimeoutMs` (`dispose` also bounds each `onDispose` callback). */
  readonly hookTimeoutsMs?: Partial<Record<TimedHookName, number>>;
  /**
   * Called once per run, in boot order: binds the provided ports, registers cleanup, and returns
   * this run's instance (its hooks), or nothing when the plugin has no hooks.
   */
  setup(
    ctx: SetupContext<Options>,
  ): PluginInstance<Options> | void | Promise<PluginInstance<Options> | void>;
}

/** An {@link EsperPlugin} of any key and options. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance escape hatch for heterogenous plugin lists
export type AnyPlugin = EsperPlugin<string, any, any>;

/** The config-section input type of a plugin. */
export type PluginInput<P> = P extends EsperPlugin<string, infer _O, infer I> ? I : never;
/** The validated options type of a plugin. */
export type PluginOptions<P> = P extends EsperPlugin<string, infer O, infer _I> ? O : never;

/** Members a plugin definition may have. */
export const PLUGIN_DEFINITION_KEYS = [
  'name',
  'configKey',
  'configSchema',
  'factoryOptions',
  'provides',
  'requires',
  'optionalRequires',
  'hookTimeoutsMs',
  'setup',
] as const;

/** `onEpochStart`, … in the order of {@link LIFECYCLE_EVENTS}. */
export const LIFECYCLE_EVENT_HOOKS: readonly LifecycleEventHookName[] = LIFECYCLE_EVENTS.map(
  (event) => hookNameFor(event) as LifecycleEventHookName,
);

/** Every hook name a plugin instance may have: the lifecycle hooks, then the lifecycle event hooks. */
export const PLUGIN_HOOKS: readonly PluginHookName[] = [...LIFECYCLE_HOOKS, ...LIFECYCLE_EVENT_HOOKS];

const TIMED_HOOKS: readonly string[] = ['setup', ...PLUGIN_HOOKS];

/** The hook name of a lifecycle event: `seed:stage-changed` → `onSeedStageChanged`. */
export function hookNameFor<E extends LifecycleEventName>(event: E): EventHookName<E> {
  const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
  const camel = (s: string): string => s.split('-').map((part, i) => (i === 0 ? part : cap(part))).join('');
  const [subject = '', verb = ''] = event.split(':');
  return `on${cap(camel(subject))}${cap(camel(verb))}` as EventHookName<E>;
}

/**
 * Checks what a plugin's `setup` returned: an object (or nothing) whose members are all known
 * hooks and functions. Used by the kernel at boot; exported for tools that drive plugins.
 *
 * @throws {@link UnknownHookError} naming the plugin, the member and the valid names.
 */
export function checkPluginInstance(pluginName: string, instance: unknown): PluginInstance<unknown> {
  if (instance === undefined || instance === null) return {};
  if (typeof instance !== 'object') {
    throw new InvalidPluginError(
      `Plugin "${pluginName}": setup() must return an object of hooks (or nothing), got ${typeof instance}.`,
    );
  }
  for (const key of Object.keys(instance)) {
    if (!(PLUGIN_HOOKS as readonly string[]).includes(key)) {
      throw new UnknownHookError(pluginName, key, 'instance', PLUGIN_HOOKS);
    }
    if (typeof (instance as Record<string, unknown>)[key] !== 'function') {
      throw new InvalidPluginError(`Plugin "${pluginName}": hook ${key} returned by setup() is not a function.`);
    }
  }
  return instance as PluginInstance<unknown>;
}

/**
 * Declares a plugin. Types flow from `configSchema`: the options passed to `setup` and hooks are
 * the schema's output, and the config section's type is the schema's input, so a config file
 * that sets a wrong option type does not compile.
 *
 * The definition is checked at once, for plain JavaScript callers too: an unknown member (such as
 * the removed `register` or `hooks`), an unknown name in `hookTimeoutsMs`, or a missing `setup`
 * throws. The hooks `setup` returns are checked when a run boots.
 *
 * @throws {@link UnknownHookError} for an unknown member or hook name (the message lists the valid ones).
 * @throws {@link InvalidPluginError} for a missing name, config key or setup, or a bad timeout.
 * @throws `SettingMetaError` (`ESPER_CONFIG_META_INVALID`) for wrong setting metadata in the
 *   schema (invalid or duplicate env name, env/secret where no option reads it) or a leftover
 *   plugin-level `env`/`secrets`.
 *
 * @example
 * ```ts
 * export function greeter(options: Partial<z.input<typeof schema>> = {}) {
 *   return definePlugin({
 *     name: '@acme/plugin-greeter', configKey: 'greeter', configSchema: schema, factoryOptions: options,
 *     provides: [GreeterPort], requires: [Tokens.Clock],
 *     setup(ctx) {
 *       const log: string[] = [];                        // this run's state
 *       ctx.provide(GreeterPort, (r) => new Greeter(ctx.options, r.resolve(Tokens.Clock), log));
 *       return { async onEpochEnd({ epoch }) { log.push(`epoch ${epoch}`); } };
 *     },
 *   });
 * }
 * ```
 */
export function definePlugin<const Key extends string, Options = Record<string, never>, Input = Options>(
  plugin: EsperPlugin<Key, Options, Input>,
): EsperPlugin<Key, Options, Input> {
  const raw = plugin as unknown as Record<string, unknown>;
  const name = typeof raw.name === 'string' && raw.name.length > 0 ? raw.name : undefined;
  if (name === undefined) throw new InvalidPluginError('definePlugin: `name` must be a non-empty string (e.g. "@acme/plugin-x").');
  if (typeof raw.configKey !== 'string' || raw.configKey.length === 0) {
    throw new InvalidPluginError(`Plugin "${name}": \`configKey\` must be a non-empty string (the config section it reads).`);
  }
  checkPluginSettings({ ...raw, name });
  for (const key of Object.keys(raw)) {
    if (!(PLUGIN_DEFINITION_KEYS as readonly string[]).includes(key)) {
      throw new UnknownHookError(name, key, 'definition', PLUGIN_DEFINITION_KEYS);
    }
  }
  if (typeof raw.setup !== 'function') {
    throw new InvalidPluginError(
      `Plugin "${name}": \`setup(ctx)\` must be a function that binds the plugin's ports and returns its hooks.`,
    );
  }
  for (const list of ['provides', 'requires', 'optionalRequires'] as const) {
    const tokens = raw[list];
    if (tokens !== undefined && (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'symbol'))) {
      throw new InvalidPluginError(`Plugin "${name}": \`${list}\` must be a list of port tokens (Tokens.X or definePort(...)).`);
    }
  }
  const timeouts = raw.hookTimeoutsMs;
  if (timeouts !== undefined) {
    if (typeof timeouts !== 'object' || timeouts === null) {
      throw new InvalidPluginError(`Plugin "${name}": \`hookTimeoutsMs\` must be an object of hook name → ms.`);
    }
    for (const [hook, ms] of Object.entries(timeouts)) {
      if (!TIMED_HOOKS.includes(hook)) throw new UnknownHookError(name, hook, 'hookTimeoutsMs', TIMED_HOOKS);
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms <= 0) {
        throw new InvalidPluginError(`Plugin "${name}": hookTimeoutsMs.${hook} must be a positive integer of ms, got ${String(ms)}.`);
      }
    }
  }
  return Object.freeze({ ...plugin });
}
