/**
 * `@esper/core`: the Esper kernel for plugin and application authors — the plugin API and
 * lifecycle, ports and their tokens, the typed resolver and event bus, typed config with
 * environment overrides, and the shared telemetry and security helpers.
 *
 * Other entry points: Leyline contracts at `@esper/core/leyline`; what a transport author needs
 * to put Oona on a new store (client, backend port, breaker, fault injection, ids, settings) at
 * `@esper/core/oona`; contract suites and the plugin test harness at `@esper/core/testing`.
 *
 * Every export is listed by name: this list is the public surface (a test pins it).
 *
 * @packageDocumentation
 */
import 'reflect-metadata';

// ---------------------------------------------------------------- errors
export { EsperError, isEsperError } from './errors.js';

// ---------------------------------------------------------------- runs and plugins
export { createEsper, Esper, EsperRun, type CreateEsperOptions, type StartOptions } from './kernel/kernel.js';
export {
  currentThreadId,
  lowerProcessPriority,
  MAX_NICE,
  MAX_REALTIME_PRIORITY,
  setThreadRealtime,
  type ExecFile,
  type PriorityFailure,
  type PriorityResult,
  type PrioritySystem,
  type RealtimeOptions,
  type RealtimeResult,
} from './kernel/process-priority.js';
export {
  definePlugin,
  LIFECYCLE_EVENT_HOOKS,
  LIFECYCLE_HOOKS,
  PLUGIN_HOOKS,
  type AnyConfigSchema,
  type AnyPlugin,
  type EsperPlugin,
  type EventHookName,
  type HookContext,
  type InjectableClass,
  type LifecycleEventHookName,
  type LifecycleEventHooks,
  type LifecycleHookName,
  type PluginHookName,
  type PluginInput,
  type PluginInstance,
  type PluginOptions,
  type Resolver,
  type RunInfo,
  type SetupContext,
  type TimedHookName,
} from './kernel/plugin.js';
export {
  definePort,
  listPorts,
  PORT_NAME_PATTERN,
  portInfo,
  Tokens,
  type DefinePortOptions,
  type PortInfo,
  type PortToken,
  type PortType,
} from './kernel/tokens.js';
export {
  EventBus,
  LIFECYCLE_EVENTS,
  type EsperEventName,
  type EsperEvents,
  type EsperListener,
  type LifecycleEmitter,
  type LifecycleEventName,
  type ListenerErrorHandler,
  type NotificationEventName,
} from './kernel/events.js';
export {
  DependencyCycleError,
  DuplicateProviderError,
  HookFailedError,
  HookTimeoutError,
  InvalidPluginError,
  MissingProviderError,
  MultiPortResolveError,
  PortConflictError,
  PortNameError,
  PortUnavailableError,
  ProvidesMismatchError,
  RunStoppedError,
  TeardownError,
  UnknownHookError,
} from './kernel/errors.js';
export { JsonLogger, type JsonLoggerOptions } from './kernel/logger.js';

// ---------------------------------------------------------------- ports
export { ManualClock, SystemClock, type Clock } from './kernel/ports/clock.js';
export type { LogFields, LogLevel, Logger } from './kernel/ports/logger.js';
export type { BlueprintCatalog, BlueprintRuntime, SeedKernel } from './kernel/ports/blueprints.js';
export {
  catalogBlueprintMetadata,
  type BlueprintMetadataLookupOptions,
  type BlueprintMetadataSource,
  type BlueprintRecord,
  type BlueprintSafetySheet,
} from './kernel/ports/blueprint-metadata.js';
export type { CommandSigner } from './kernel/ports/command-signer.js';
export type { Controller, EvaluateOptions, PolicyUpdateResult } from './kernel/ports/controller.js';
export type { EmergencyChannel } from './kernel/ports/emergency.js';
export type { FieldReportStore, StoredFieldReport } from './kernel/ports/field-report-store.js';
export type {
  ComposedModel,
  ComputeGraph,
  ComputeTensor,
  ComputeTypes,
  ControlFeedOptions,
  HostModel,
  SeedSlot,
  StepObservation,
} from './kernel/ports/growth.js';
export type {
  BusSchema,
  ConsumeOptions,
  EnsureGroupsOptions,
  Oona,
  OonaGroupState,
  OonaHandler,
  OonaHealth,
  OonaMessage,
  OonaMessageHandler,
  OonaMessageOf,
  OonaStreamRole,
  OonaStreams,
  OonaSubscription,
  PublishBatchItem,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  TypedConsumeOptions,
  TypedSubscribeOptions,
  UnsentPublish,
} from './kernel/ports/oona.js';
export type { PolicyBackend, PolicySession, PolicyTensor } from './kernel/ports/policy-backend.js';
export type { CommandOutcome, SeedExecutor } from './kernel/ports/seed-executor.js';
export type { Signer } from './kernel/ports/signer.js';
export type { Telemetry } from './kernel/ports/telemetry.js';
export type { TelemetrySink } from './kernel/ports/telemetry-sink.js';
export type { TrainOptions, Trainer } from './kernel/ports/trainer.js';

// ---------------------------------------------------------------- config
export { defineConfig, type EsperConfig } from './config/define-config.js';
export { CORE_ENV, CORE_SECRETS, CORE_SECTIONS, coreConfigSchema, type CoreConfig, type CoreConfigInput } from './config/core-schema.js';
export {
  ConfigLoadError,
  ConfigNoDefaultExportError,
  ConfigNotAFileError,
  ConfigNotFoundError,
  ConfigPluginFactoryError,
  ConfigPluginModuleError,
  ConfigValidationError,
  formatIssue,
  SettingMetaError,
  type ConfigIssue,
} from './config/errors.js';
export { loadConfig, loadConfigFile } from './config/load.js';
export { MASK, maskValue, redact } from './config/mask.js';
export { describeSettings, secretSettings, settingsEnv, type SettingInfo, type SettingMeta } from './config/meta.js';
export { ResolvedConfig, resolveConfig, type Env, type ResolveOptions, type ResolvedPlugin } from './config/resolve.js';

// ---------------------------------------------------------------- storage
export {
  AppendLog,
  AppendLogError,
  DEFAULT_MAX_RECORD_BYTES,
  writeFileAtomic,
  type AppendLogOptions,
  type AppendLogReplay,
} from './storage/append-log.js';

// ---------------------------------------------------------------- security
export { SecurityConfigError, SigningSecretMissingError } from './security/errors.js';
export { LEYLINE_SECRET_ENV, LEYLINE_SIGNATURE_HEADER, LeylineSigner } from './security/signer.js';
export { DEFAULT_NONCE_CAPACITY, DEFAULT_NONCE_WINDOW_MS, NonceLedger, type NonceLedgerOptions } from './security/nonce-ledger.js';
export { checkFreshness, type FreshnessOptions, type FreshnessRejection, type FreshnessResult } from './security/freshness.js';
export {
  CommandVerifier,
  commandSigningPayload,
  DEFAULT_COMMAND_FRESHNESS_WINDOW_MS,
  DEFAULT_COMMAND_MAX_FUTURE_SKEW_MS,
  SIGNATURE_ANNOTATION,
  signCommand,
  type CommandRejectionReason,
  type CommandVerification,
  type CommandVerifierOptions,
  type SignCommandOptions,
} from './security/command-signing.js';

// ---------------------------------------------------------------- telemetry
export { TelemetryPacketInvalidError } from './telemetry/errors.js';
export {
  parsePriorityName,
  PRIORITY_INDICATOR,
  priorityForEvents,
  priorityForLevel,
  priorityForPacket,
  priorityFromIndicator,
  priorityName,
} from './telemetry/priority.js';
export { deriveHealth, HEALTHY_SUMMARY, type DerivedHealth, type HealthEvent, type HealthInput } from './telemetry/health.js';
export {
  buildTelemetryPacket,
  type BuildTelemetryOptions,
  type EventInput,
  type HealthOptions,
  type MetricInput,
  type TelemetryPacketInput,
} from './telemetry/builder.js';
export { TelemetryPacketBuilder, type TelemetryPacketBuilderOptions } from './telemetry/packet-builder.js';
export { JsonlTelemetrySink, telemetryFile, telemetryFileSchema } from './plugins/telemetry-file.js';
