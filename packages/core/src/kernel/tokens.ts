import type { EventBus } from './events.js';
import type {
  BlueprintCatalog,
  BlueprintRuntime,
  Clock,
  Controller,
  EmergencyChannel,
  FieldReportStore,
  Logger,
  Oona,
  PolicyBackend,
  SeedExecutor,
  Signer,
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
 * Declares a port token. Plugin authors may declare their own ports for plugin-to-plugin
 * contracts; the name must be unique (`Symbol.for('esper.port.<name>')` identifies it, so two
 * copies of a package agree on the token).
 */
export function definePort<T>(
  name: string,
  info: { multi?: boolean; kernelDefault?: boolean; description: string },
): PortToken<T> {
  const token = Symbol.for(`esper.port.${name}`) as PortToken<T>;
  registry.set(token, {
    name,
    multi: info.multi ?? false,
    kernelDefault: info.kernelDefault ?? false,
    description: info.description,
  });
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
  Oona: definePort<Oona>('Oona', {
    description: 'message fabric: BusEnvelope on streams, consumer groups, signatures, emergency stream',
  }),
  /** Controller (Tamiyo): SystemStatePacket in, AdaptationCommand out; PolicyUpdate. */
  Controller: definePort<Controller>('Controller', {
    description: 'controller (Tamiyo): SystemStatePacket -> signed AdaptationCommand; PolicyUpdate; FieldReport',
  }),
  /** Seed executor (Kasmina): applies AdaptationCommand, exports SeedState. */
  SeedExecutor: definePort<SeedExecutor>('SeedExecutor', {
    description: 'seed executor (Kasmina): verifies and applies AdaptationCommand, exports SeedState',
  }),
  /** Trainer (Tolaria): epoch loop yielding SystemStatePacket. */
  Trainer: definePort<Trainer>('Trainer', {
    description: 'trainer (Tolaria): epoch loop, SystemStatePacket per epoch, rollback, EmergencySignal',
  }),
  /** Compute backend for the policy (ONNX Runtime cpu/cuda/webgpu). */
  PolicyBackend: definePort<PolicyBackend>('PolicyBackend', {
    description: 'policy compute backend (ONNX Runtime cpu/cuda/webgpu with CPU fallback)',
  }),
  /** Durable FieldReport log. */
  FieldReportStore: definePort<FieldReportStore>('FieldReportStore', {
    description: 'durable FieldReport store with retry bookkeeping',
  }),
  /** Blueprint catalogue (BlueprintDescriptor by id). */
  BlueprintCatalog: definePort<BlueprintCatalog>('BlueprintCatalog', {
    description: 'blueprint catalogue: BlueprintDescriptor by id',
  }),
  /** Loads seed kernels for blueprints. */
  BlueprintRuntime: definePort<BlueprintRuntime>('BlueprintRuntime', {
    description: 'blueprint runtime: loads seed kernels (ONNX subgraphs) for blueprint ids',
  }),
  /** In-process and cross-process EmergencySignal channel. */
  EmergencyChannel: definePort<EmergencyChannel>('EmergencyChannel', {
    description: 'EmergencySignal channel: SharedArrayBuffer cell in process, Oona emergency stream across',
  }),
  /** Telemetry sinks (multi): every sink receives every TelemetryPacket. */
  TelemetrySink: definePort<TelemetrySink>('TelemetrySink', {
    multi: true,
    description: 'TelemetryPacket sinks (console, file, Oona telemetry stream, …); all receive every packet',
  }),
  /** Wall and monotonic time. */
  Clock: definePort<Clock>('Clock', { kernelDefault: true, description: 'wall and monotonic time' }),
  /** Structured logging with secret redaction. */
  Logger: definePort<Logger>('Logger', { kernelDefault: true, description: 'structured logs, secrets redacted' }),
  /** HMAC signer keyed by ESPER_LEYLINE_SECRET (present only when a secret is configured). */
  Signer: definePort<Signer>('Signer', {
    kernelDefault: true,
    description: 'HMAC-SHA256 signer keyed by ESPER_LEYLINE_SECRET (only when a secret is configured)',
  }),
  /** The run's typed in-process event bus. */
  Events: definePort<EventBus>('Events', { kernelDefault: true, description: 'typed in-process event bus (mitt)' }),
} as const;
