/**
 * `@esper/plugin-kasmina`: Kasmina, the seed executor. It verifies signed adaptation commands,
 * runs each slot's seed through the 12-stage lifecycle with gates G0–G5, grafts blueprint
 * kernels into the host graph and blends them in through per-seed control inputs.
 */
export { kasmina } from './plugin.js';
/** The plugin factory as the default export, so a JSON config can name the package alone: `"plugins": ["@esper/plugin-kasmina"]`. */
export { kasmina as default } from './plugin.js';
export { kasminaPluginSchema, executorSettingsFrom, type KasminaPluginInput, type KasminaPluginOptions } from './options.js';
export { kasminaConfigSchema, type KasminaConfig, type KasminaConfigInput } from './config.js';
export {
  BlueprintCatalogError,
  HostAttachError,
  HostNotAttachedError,
  IllegalTransitionError,
  UnknownBlueprintError,
  UnknownSeedError,
} from './errors.js';
export { GRAFTED_STAGES, SEED_TRANSITIONS, allowedTransitions, canTransition, isGrafted, transition, type HasStage } from './lifecycle/transitions.js';
export { GATE_FOR_STAGE, evaluateGate, gateName, type GateInput, type GateResult } from './gates/gates.js';
export type { Blueprint } from './blueprints/blueprint.js';
export { HIDDEN_PARAMETER, residualMlp, type ResidualMlpOptions } from './blueprints/residual-mlp.js';
export { DEFAULT_BLUEPRINTS, KasminaBlueprintCatalog, assertKnownBlueprints, unknownBlueprintIds } from './blueprints/catalog.js';
export { alphaAt, type AlphaRamp, type AlphaScheduleSpec } from './blending/schedule.js';
export {
  CONTROL_KEYS,
  CONTROL_SUFFIXES,
  CONVEX_BLEND,
  COUNTERFACTUAL_CONTROLS,
  controlInputName,
  controlInputNames,
  controlValues,
  resolveBlend,
  type BlendValues,
  type ControlValues,
  type ResolvedBlend,
} from './blending/controls.js';
export {
  BLEND_ANNOTATION_KEYS,
  BLEND_MODES,
  DEFAULT_CONFIDENCE_GATE,
  parseAlphaVector,
  parseBlendAnnotations,
  parseBlendMode,
  type AlphaVectorResult,
  type BlendAnnotationIssue,
  type BlendAnnotationResult,
  type BlendConfig,
  type BlendMode,
  type ConfidenceGateParameters,
} from './blending/modes.js';
export { parseCommand, type ParsedCommand } from './commands/parse.js';
export { DEFAULT_EXECUTOR_SETTINGS, type ExecutorSettings } from './executor/settings.js';
export {
  KasminaExecutor,
  type CommandVerifierLike,
  type KasminaExecutorOptions,
  type SeedStageChange,
  type TelemetryEmitterLike,
} from './executor/kasmina-executor.js';
