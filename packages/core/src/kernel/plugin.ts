import type { DependencyContainer } from 'tsyringe';
import type { z } from 'zod';
import type { EsperEventName, EsperEvents, EventBus } from './events.js';
import type { Clock, Logger } from './ports/index.js';
import type { PortToken } from './tokens.js';

/** Names of the lifecycle hooks, in the order the kernel runs them. */
export const LIFECYCLE_HOOKS = ['init', 'start', 'stop', 'dispose'] as const;

/** One of `init`, `start`, `stop`, `dispose`. */
export type LifecycleHookName = (typeof LIFECYCLE_HOOKS)[number];

/** Facts about the run a plugin is registered into. */
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

/** What `register` receives: where to bind the ports the plugin provides. */
export interface RegisterContext<Options> {
  /** The plugin's validated options (defaults, factory options, config section, env overrides). */
  readonly options: Readonly<Options>;
  /** This run's child container. Bind with {@link RegisterContext.provide} where possible. */
  readonly container: DependencyContainer;
  readonly run: RunInfo;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly events: EventBus;
  /**
   * Binds a port to a factory that runs once per run, on first resolve (dependencies are
   * resolved lazily, so registration order between plugins does not matter).
   */
  provide<T>(token: PortToken<T>, factory: (container: DependencyContainer) => T): void;
  /** Binds a port to a ready value. */
  provideValue<T>(token: PortToken<T>, value: T): void;
}

/** What lifecycle and event hooks receive. */
export interface HookContext<Options> {
  readonly options: Readonly<Options>;
  readonly container: DependencyContainer;
  readonly run: RunInfo;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly events: EventBus;
  /** Resolves a port from this run's container. */
  resolve<T>(token: PortToken<T>): T;
  /** Resolves every provider of a multi port. */
  resolveAll<T>(token: PortToken<T>): T[];
  /** Aborted when the hook has exceeded its timeout; long hooks should stop on it. */
  readonly signal: AbortSignal;
}

/** Converts `epoch:end` into `onEpochEnd`, `seed:stage-changed` into `onSeedStageChanged`. */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
/** The hook name for an event name. */
export type EventHookName<E extends string> = E extends `${infer S}:${infer V}`
  ? `on${Capitalize<Camel<S>>}${Capitalize<Camel<V>>}`
  : never;

/** Event hooks: one optional `on<Subject><Event>` handler per {@link EsperEvents} event. */
export type EventHooks<Options> = {
  [E in EsperEventName as EventHookName<E>]?: (
    payload: EsperEvents[E],
    ctx: HookContext<Options>,
  ) => void | Promise<void>;
};

/**
 * Lifecycle and event hooks of a plugin. Lifecycle hooks are awaited in dependency order
 * (`init`, `start`) and in reverse (`stop`, `dispose`), each within a timeout.
 */
export type PluginHooks<Options> = {
  [H in LifecycleHookName]?: (ctx: HookContext<Options>) => void | Promise<void>;
} & EventHooks<Options>;

/** Any zod schema usable as a plugin's config schema (an object schema, strict). */
export type AnyConfigSchema = z.ZodType<Record<string, unknown>, Record<string, unknown>>;

/**
 * An Esper plugin: a value that provides ports, requires ports, validates its own config
 * section and hooks into the lifecycle. Make one with {@link definePlugin}.
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
  /** Validates the section; unknown keys are errors (use `z.strictObject`). */
  readonly configSchema?: z.ZodType<Options, Input>;
  /** Options given to the plugin factory; the config section and env override them. */
  readonly factoryOptions?: Partial<Input>;
  /**
   * Environment variables that override options, by variable name: `{ TAMIYO_STEP_TIMEOUT_MS:
   * 'stepTimeoutMs' }` (dotted paths for nested options). The value is converted to the type
   * the schema expects at that path (number, integer, boolean, string, enum).
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Option paths holding secrets: masked in printed config and redacted from logs. */
  readonly secrets?: readonly string[];
  /** Ports this plugin binds in `register`. */
  readonly provides?: readonly PortToken<unknown>[];
  /** Ports that must be provided by some plugin (or the kernel) for this plugin to boot. */
  readonly requires?: readonly PortToken<unknown>[];
  /** Ports used when present; they order this plugin after their providers. */
  readonly optionalRequires?: readonly PortToken<unknown>[];
  /** Per-hook timeouts in ms, overriding `kernel.hookTimeoutMs`. */
  readonly hookTimeoutsMs?: Partial<Record<LifecycleHookName, number>>;
  /** Binds the provided ports into the run's container. */
  register(ctx: RegisterContext<Options>): void | Promise<void>;
  readonly hooks?: PluginHooks<Options>;
}

/** An {@link EsperPlugin} of any key and options. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance escape hatch for heterogenous plugin lists
export type AnyPlugin = EsperPlugin<string, any, any>;

/** The config-section input type of a plugin. */
export type PluginInput<P> = P extends EsperPlugin<string, infer _O, infer I> ? I : never;
/** The validated options type of a plugin. */
export type PluginOptions<P> = P extends EsperPlugin<string, infer O, infer _I> ? O : never;

/**
 * Declares a plugin. Types flow from `configSchema`: the options passed to `register` and
 * hooks are the schema's output, and the config section's type is the schema's input, so a
 * config file that sets a wrong option type does not compile.
 *
 * @example
 * ```ts
 * export function tamiyo(options: Partial<z.input<typeof schema>> = {}) {
 *   return definePlugin({
 *     name: '@esper/plugin-tamiyo', configKey: 'tamiyo', configSchema: schema,
 *     factoryOptions: options, env: { TAMIYO_STEP_TIMEOUT_MS: 'stepTimeoutMs' },
 *     provides: [Tokens.Controller], requires: [Tokens.Oona],
 *     register: (ctx) => ctx.provide(Tokens.Controller, (c) => new TamiyoService(ctx.options, c.resolve(Tokens.Oona))),
 *   });
 * }
 * ```
 */
export function definePlugin<const Key extends string, Options = Record<string, never>, Input = Options>(
  plugin: EsperPlugin<Key, Options, Input>,
): EsperPlugin<Key, Options, Input> {
  return Object.freeze({ ...plugin });
}
