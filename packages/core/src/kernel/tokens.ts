import { PortConflictError, PortNameError } from './errors.js';
import type { EventBus } from './events.js';
import type {
  BlueprintCatalog,
  BlueprintMetadataSource,
  BlueprintRuntime,
  Clock,
  CommandSigner,
  Controller,
  EmergencyChannel,
  FieldReportStore,
  Logger,
  Oona,
  PolicyBackend,
  SeedExecutor,
  Signer,
  Telemetry,
  TelemetrySink,
  Trainer,
} from './ports/index.js';

/**
 * A DI token for a port: a symbol that also carries the port's TypeScript type, so that
 * `run.resolve(Tokens.Oona)` is typed `Oona`. Use it directly with tsyringe:
 * `@inject(Tokens.Clock)`. Injection is always by explicit token, never by reflected type.
 */
export type PortToken<T> = symbol & { readonly __port?: T };

/** The type a {@link PortToken} stands for. */
export type PortType<P> = P extends PortToken<infer T> ? T : never;

/** Facts the kernel knows about a port. */
export interface PortInfo {
  /** Short name used in messages and `esper config` output, e.g. `Oona`. */
  readonly name: string;
  /** Whether several plugins may provide it (all are resolved with `resolveAll`). */
  readonly multi: boolean;
  /**
   * Whether the kernel supplies a default (Clock, Logger, …). A plugin may still provide
   * it once, which replaces the default for its runs.
   */
  readonly kernelDefault: boolean;
  /** One line on what the port is for and which Leyline messages it speaks. */
  readonly description: string;
}

// Shared through globalThis so that every copy of @esper/core loaded in one process (a config
// file transpiled by jiti, two installed versions) sees the same port declarations.
const REGISTRY_KEY = Symbol.for('esper.port-registry');
const registry: Map<symbol, PortInfo> = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as
  | Map<symbol, PortInfo>
  | undefined) ?? new Map<symbol, PortInfo>();
(globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = registry;

/**
 * The rule for third-party port names: a namespace, then the port's name. Either a dotted
 * lower-case namespace (`acme.MyPort`, `acme.metrics.Counter`) or an npm package name and a
 * colon (`@acme/x:Port`, `acme-plugin:Port`). Names without a namespace (`Oona`, `Clock`) belong
 * to `@esper/core`.
 */
export const PORT_NAME_PATTERN =
  /^(?:[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*\.[A-Za-z][A-Za-z0-9_]*|(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*:[A-Za-z][A-Za-z0-9_]*)$/;

/** Options of {@link definePort}. */
export interface DefinePortOptions {
  /** Whether several plugins may provide it (consumers use `resolveAll`). Default false. */
  readonly multi?: boolean;
  /** One line on what the port is for; shown by `esper plugins`. */
  readonly description: string;
}

/**
 * Declares a port token for a plugin-to-plugin contract. The name must be namespaced
 * ({@link PORT_NAME_PATTERN}: `acme.Greeter` or `@acme/x:Greeter`); the token is
 * `Symbol.for('esper.port.<name>')`, so two copies of a package agree on it. Declaring the same
 * name again with the same `multi` returns the same token (two installed copies of a package);
 * a different `multi` throws.
 *
 * @throws {@link PortNameError} when the name has no namespace.
 * @throws {@link PortConflictError} when the name is already declared with another definition
 *   (including a core port such as `Oona`).
 */
export function definePort<T>(name: string, options: DefinePortOptions): PortToken<T> {
  if (typeof name !== 'string' || !PORT_NAME_PATTERN.test(name)) {
    const existing = typeof name === 'string' ? registry.get(Symbol.for(`esper.port.${name}`)) : undefined;
    if (existing !== undefined && (options.multi ?? false) !== existing.multi) {
      throw new PortConflictError(name, existing, { multi: options.multi ?? false, kernelDefault: false });
    }
    throw new PortNameError(String(name));
  }
  return declare<T>({ name, multi: options.multi ?? false, kernelDefault: false, description: options.description });
}

/** Core ports: names without a namespace, and the only ones with kernel defaults. */
function corePort<T>(name: string, info: { multi?: boolean; kernelDefault?: boolean; description: string }): PortToken<T> {
  return declare<T>({ name, multi: info.multi ?? false, kernelDefault: info.kernelDefault ?? false, description: info.description });
}

function declare<T>(info: PortInfo): PortToken<T> {
  const token = Symbol.for(`esper.port.${info.name}`) as PortToken<T>;
  const existing = registry.get(token);
  if (existing === undefined) {
    registry.set(token, info);
  } else if (existing.multi !== info.multi || existing.kernelDefault !== info.kernelDefault) {
    throw new PortConflictError(info.name, existing, info);
  }
  return token;
}

/** What the kernel knows about a token; unknown symbols get a generic description. */
export function portInfo(token: symbol): PortInfo {
  return (
    registry.get(token) ?? {
      name: token.description ?? 'anonymous port',
      multi: false,
      kernelDefault: false,
      description: '(undeclared port)',
    }
  );
}

/** Every declared port, in declaration order. */
export function listPorts(): ReadonlyArray<readonly [symbol, PortInfo]> {
  return [...registry.entries()];
}

/** The ports of Esper. Each subsystem plugin provides one or more of these. */
export const Tokens = {
  /** Message fabric (Leyline `BusEnvelope` on named streams). */
  Oona: corePort<Oona>('Oona', {
    description: 'message fabric: BusEnvelope on streams, consumer groups, signatures, emergency stream',
  }),
  /** Controller (Tamiyo): SystemStatePacket in, AdaptationCommand out; PolicyUpdate. */
  Controller: corePort<Controller>('Controller', {
    description: 'controller (Tamiyo): SystemStatePacket -> signed AdaptationCommand; PolicyUpdate; FieldReport',
  }),
  /** Seed executor (Kasmina): applies AdaptationCommand, exports SeedState. */
  SeedExecutor: corePort<SeedExecutor>('SeedExecutor', {
    description: 'seed executor (Kasmina): verifies and applies AdaptationCommand, exports SeedState',
  }),
  /** Trainer (Tolaria): epoch loop yielding SystemStatePacket. */
  Trainer: corePort<Trainer>('Trainer', {
    description: 'trainer (Tolaria): epoch loop, SystemStatePacket per epoch, rollback, EmergencySignal',
  }),
  /** Compute backend for the policy (ONNX Runtime cpu/cuda/webgpu). */
  PolicyBackend: corePort<PolicyBackend>('PolicyBackend', {
    description: 'policy compute backend (ONNX Runtime cpu/cuda/webgpu with CPU fallback)',
  }),
  /** Durable FieldReport log. */
  FieldReportStore: corePort<FieldReportStore>('FieldReportStore', {
    description: 'durable FieldReport store with retry bookkeeping',
  }),
  /** Blueprint catalogue (BlueprintDescriptor by id). */
  BlueprintCatalog: corePort<BlueprintCatalog>('BlueprintCatalog', {
    description: 'blueprint catalogue: BlueprintDescriptor by id',
  }),
  /**
   * Blueprint metadata (Urza): descriptor, safety data sheet and graph metadata by id, looked up
   * asynchronously under the caller's budget. Absent: controllers fall back to the
   * `BlueprintCatalog` (`catalogBlueprintMetadata`).
   */
  BlueprintMetadata: corePort<BlueprintMetadataSource>('BlueprintMetadata', {
    description: 'blueprint metadata (Urza): descriptor, BSDS and graph metadata by id, async under a budget',
  }),
  /** Loads seed kernels for blueprints. */
  BlueprintRuntime: corePort<BlueprintRuntime>('BlueprintRuntime', {
    description: 'blueprint runtime: loads seed kernels (ONNX subgraphs) for blueprint ids',
  }),
  /** In-process and cross-process EmergencySignal channel. */
  EmergencyChannel: corePort<EmergencyChannel>('EmergencyChannel', {
    description: 'EmergencySignal channel: SharedArrayBuffer cell in process, Oona emergency stream across',
  }),
  /** Telemetry sinks (multi): every sink receives every TelemetryPacket. */
  TelemetrySink: corePort<TelemetrySink>('TelemetrySink', {
    multi: true,
    description: 'TelemetryPacket sinks (console, file, Oona telemetry stream, …); all receive every packet',
  }),
  /**
   * The telemetry hub (kernel default): `emit(packet, priority)` delivers each packet to every
   * `TelemetrySink` and announces it as `telemetry:emitted`; `flush()` flushes every sink.
   */
  Telemetry: corePort<Telemetry>('Telemetry', {
    kernelDefault: true,
    description: 'telemetry hub: fans each TelemetryPacket out to every TelemetrySink',
  }),
  /**
   * Signs and verifies AdaptationCommands in process (kernel default, always present): keyed by
   * ESPER_LEYLINE_SECRET when set, else by a random per-run key.
   */
  CommandSigner: corePort<CommandSigner>('CommandSigner', {
    kernelDefault: true,
    description: 'signs (Tamiyo) and verifies (Kasmina) AdaptationCommands; ESPER_LEYLINE_SECRET or a per-run key',
  }),
  /** Wall and monotonic time. */
  Clock: corePort<Clock>('Clock', { kernelDefault: true, description: 'wall and monotonic time' }),
  /** Structured logging with secret redaction. */
  Logger: corePort<Logger>('Logger', { kernelDefault: true, description: 'structured logs, secrets redacted' }),
  /** HMAC signer keyed by ESPER_LEYLINE_SECRET (present only when a secret is configured). */
  Signer: corePort<Signer>('Signer', {
    kernelDefault: true,
    description: 'HMAC-SHA256 signer keyed by ESPER_LEYLINE_SECRET (only when a secret is configured)',
  }),
  /** The run's typed in-process event bus. */
  Events: corePort<EventBus>('Events', { kernelDefault: true, description: 'typed in-process event bus (mitt)' }),
} as const;
