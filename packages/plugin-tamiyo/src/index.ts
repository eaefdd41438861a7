/**
 * `@esper/plugin-tamiyo`: Tamiyo, the strategic controller. Today: the heuristic controller
 * (tamiyo-heuristic.md) behind the `Controller` port, and Tamiyo's typed settings; the GNN policy
 * comes with the Tamiyo issue as another `controller` value.
 */
export {
  TAMIYO_BLEND_MODES,
  tamiyoConfigSchema,
  type TamiyoBlendMode,
  type TamiyoConfig,
  type TamiyoConfigInput,
} from './config.js';
export {
  TAMIYO_CONTROLLERS,
  tamiyo,
  tamiyoPluginSchema,
  type TamiyoControllerName,
  type TamiyoPluginInput,
  type TamiyoPluginOptions,
} from './plugin.js';
/** The plugin factory as the default export, so a JSON config can name the package alone: `"plugins": ["@esper/plugin-tamiyo"]`. */
export { tamiyo as default } from './plugin.js';
export { NoBlueprintsError, UnknownBlueprintError } from './errors.js';
export { resolveBlueprintRotation } from './heuristic/blueprints.js';
export {
  HEURISTIC_REFERENCE_NAMES,
  heuristicOptionsSchema,
  type HeuristicOptions,
  type HeuristicOptionsInput,
} from './heuristic/options.js';
export {
  HeuristicController,
  NO_POLICY_REASON,
  type HeuristicControllerInit,
  type TelemetryEmitter,
} from './heuristic/controller.js';
export {
  DECISION_ANNOTATIONS,
  TAMIYO_ISSUER,
  commandFor,
  decisionName,
  hmacCommandSigning,
  type CommandSigning,
} from './heuristic/commands.js';
export { decideEpoch, type HeuristicDecision, type HeuristicRule } from './heuristic/rules.js';
export {
  ALPHA_METRIC,
  COUNTERFACTUAL_METRIC,
  initialTrackerState,
  isStableEpoch,
  observeEpoch,
  type EpochSignals,
  type SeedRecord,
  type SeedSignals,
  type TrackerState,
} from './heuristic/signals.js';
export { decayPenalties, penalise, pickBlueprint, type BlueprintPenalties, type RotationPick } from './heuristic/rotation.js';
export { LIVE_STAGES, isFreeSlot, isLive } from './heuristic/stages.js';
export { DECISION_EVENT, TAMIYO_SOURCE, decisionTelemetry, type DecisionTelemetryInput } from './heuristic/telemetry.js';
export {
  DEFAULT_FIELD_REPORT_SETTINGS,
  FIELD_REPORT_TELEMETRY,
  FieldReportLifecycle,
  oonaFieldReportPublisher,
  retryDelayMs,
  STEP_REPORT_PREFIX,
  stepOutcome,
  SYNTH_REPORT_PREFIX,
  type DecisionEvent,
  type DecisionObservation,
  type FieldReportBus,
  type FieldReportLifecycleInit,
  type FieldReportPublisher,
  type FieldReportSettings,
  type FieldReportStats,
  type FieldReportTelemetry,
} from './field-reports/lifecycle.js';
export type { FieldReportRecorder } from './field-reports/recorder.js';
export {
  FIELD_REPORT_INDEX_FILE,
  fieldReportKey,
  FieldReportLog,
  type FieldReportIndexEntry,
  type FieldReportLogOptions,
} from './field-reports/store.js';
export { FIELD_REPORT_WINDOWS_FILE, ObservationWindows, type ObservationWindow } from './field-reports/windows.js';
export {
  decodeBundle,
  encodeBundle,
  policySigningBytes,
  signPolicyUpdate,
  verifyBundle,
  type PolicyBundle,
  type PolicyBundleFormat,
  type PolicyBundleHeader,
  type PolicyBundleInput,
} from './policy-updates/bundle.js';
export { POLICY_UPDATE_REJECTIONS, PolicyPublishError, PolicyValidationError, type PolicyUpdateRejectionReason } from './policy-updates/errors.js';
// Delivery of policy updates over Oona (decision 0064).
export {
  consumePolicyUpdates,
  emptyConsumerStats,
  PolicyUpdateConsumer,
  PolicyUpdateFanout,
  policyUpdateGroup,
  type ConsumePolicyUpdatesOptions,
  type PolicyUpdateConsumerInit,
  type PolicyUpdateConsumerStats,
  type PolicyUpdateTarget,
} from './policy-updates/consume.js';
export {
  packPolicyUpdate,
  policyVersionFor,
  publishPolicyUpdate,
  type PolicyUpdateSource,
  type PublishedPolicyUpdate,
} from './policy-updates/publish.js';
export {
  checkOnnxModel,
  encodeSafetensors,
  parseSafetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type WeightFile,
  type WeightTensor,
} from './policy-updates/formats.js';
export {
  POLICY_UPDATE_REJECTED_EVENT,
  PolicyUpdateIngestor,
  type AppliedPolicyUpdate,
  type PolicyOwner,
  type PolicyPayload,
  type PolicyUpdateIngestorInit,
  type PolicyUpdateSettings,
} from './policy-updates/ingest.js';
// The GNN controller (issue 17, decision 0058).
export { FEATURE_DIMS, EDGE_ATTR_DIM, NODE_TYPES, RELATIONS, RELATIONS_INTO, type NodeType, type Relation } from './graph/schema.js';
export {
  PolicyGraphBuilder,
  averageCoverage,
  coverageTypes,
  type ActivationDescriptor,
  type BlueprintMetadata,
  type Coverage,
  type GraphMetadata,
  type LayerDescriptor,
  type ParameterDescriptor,
  type PolicyGraph,
  type PolicyGraphBuilderOptions,
  type RelationEdges,
} from './graph/builder.js';
export { FeatureNormaliser, NORMALISER_PRIORS, type NormaliserState, type NormalisedFeature } from './graph/normaliser.js';
export { BLENDING_METHODS, Registry, createRegistries, type GraphRegistries } from './graph/registry.js';
export {
  ARCHITECTURE_VERSION,
  REFERENCE_DIMS,
  initPolicyWeights,
  policyParameterCount,
  policyWeightSpecs,
  type PolicyDims,
  type PolicyWeightSpec,
} from './policy/architecture.js';
export { DEFAULT_FOLD_CHUNK_BYTES, POLICY_OUTPUTS, buildPolicyGraph, buildPolicyGraphAsync, type BuildPolicyGraphOptions, type PolicyOutputName } from './policy/graph.js';
export { POLICY_PRECISIONS, PRECISION_METADATA_KEY, applyPolicyPrecision, applyPolicyPrecisionAsync, type PolicyPrecision } from './policy/precision.js';
export { PackScratch, packGraph, warmUpGraph, type PolicyFeeds } from './policy/pack.js';
export { POLICY_ACTIONS, decodeDecision, neutralDecision, type DecodeContext, type LastAction, type PolicyDecision, type PolicyOutputs } from './policy/decode.js';
export { canonicalWeightName, checkPolicyWeights, encodePolicyWeights, loadPolicyWeights, policyWeightsFromSafetensors, savePolicyWeights } from './policy/weights.js';
export { PolicyBackendError, PolicyWeightsError } from './policy/errors.js';
export {
  OnnxPolicyBackend,
  OnnxPolicySession,
  POLICY_DEVICES,
  onnxRunnerFactory,
  type OnnxPolicyBackendOptions,
  type PolicyDevice,
  type PolicyFallbackEvent,
  type PolicyRunner,
  type PolicyRunnerFactory,
} from './backends/onnx-backend.js';
export { GnnController, timeoutCommand, type GnnControllerInit, type GnnPersistence } from './gnn/controller.js';
export { ALPHA_VEC_MAX_CHARS, annotateBlendMode, initialAlphaVec, type BlendAnnotationSettings } from './gnn/blend.js';
export { DIGESTED_REGISTRIES, preparePolicySession, registryDigests, type CandidateContext } from './gnn/policy-owner.js';
export { gnnOptionsSchema, deviceOrder, type GnnOptions, type GnnOptionsInput } from './gnn/options.js';
export { DeferredGnnController, descriptorMetadata, gnnBlueprintMetadata } from './gnn/plugin-glue.js';
// Blueprint metadata (Urza) for the GNN controller (decision 0065).
export { BlueprintMetadataCache, type BlueprintMetadataCacheInit, type MetadataResolution } from './metadata/cache.js';
export { FileBlueprintMetadata, parseBlueprintMetadataFile, type FileBlueprintMetadataOptions } from './metadata/file-source.js';
export { BlueprintMetadataFileError } from './metadata/errors.js';
export { layeredBlueprintMetadata } from './metadata/layered.js';
export { blueprintMetadataFromRecord, recordFromFields, type RecordConversion } from './metadata/record.js';
export { blueprintRecordSchema, graphMetadataSchema, type BlueprintRecordFields, type BlueprintRecordInput, type GraphMetadataFields } from './metadata/schema.js';
export {
  BREAKER_STATE,
  COVERAGE_MAP_MAX_CHARS,
  GNN_DECISION_EVENT,
  INFERENCE_ERROR_EVENT,
  METADATA_ERROR_EVENT,
  TIMEOUT_INFERENCE_EVENT,
  TIMEOUT_URZA_EVENT,
  annotateCoverage,
  gnnDecisionTelemetry,
  type BlueprintReading,
  type BreakerReading,
  type GnnTelemetryInput,
} from './gnn/telemetry.js';
// Remote service mode (issue 17 point 5, decision 0061).
export { DEFAULT_REQUEST_STREAM, remoteOptionsSchema, serviceOptionsSchema, type RemoteOptions, type ServiceOptions } from './service/options.js';
export {
  REMOTE_ATTRIBUTES,
  REMOTE_OUTCOMES,
  defaultReplyStream,
  parseRequest,
  remotePauseCommand,
  replyAttributes,
  requestAttributes,
  type EvaluateKind,
  type RemoteOutcome,
  type RemoteRequest,
} from './service/protocol.js';
export { RemoteDecisionError, RemoteServiceLoopError, RemoteSigningError, ServiceStoppingError } from './service/errors.js';
export { OrderedLanes } from './service/lanes.js';
export {
  REPLY_STREAM_EXPIRED_EVENT,
  SERVICE_DEGRADED_EVENT,
  serviceTelemetryPacket,
  type ServiceRunReading,
  type ServiceTelemetryCounts,
  type ServiceTelemetryInput,
} from './service/telemetry.js';
export {
  TamiyoService,
  type ControllerFactory,
  type ServedController,
  type TamiyoServiceInit,
  type TamiyoServiceStats,
} from './service/service.js';
export {
  REMOTE_POLICY_UPDATE_REASON,
  RemoteController,
  type RemoteControllerInit,
  type RemoteControllerStats,
} from './service/remote-controller.js';
// Tamiyo's risk engine (issue 17, decision 0059).
export {
  RISK_LIMITS,
  RiskEngine,
  type RiskBreakersSnapshot,
  type RiskEngineInit,
  type RiskEvent,
  type RiskInputs,
  type RiskOutcome,
} from './risk/engine.js';
export { DEFAULT_RISK_CONFIG, riskConfigFrom, type RiskConfig } from './risk/config.js';
export { BREAKER_EVENT, type RiskBreakerSnapshot, type RiskBreakerState } from './risk/breaker.js';
export { CONSERVATIVE_ENTERED_EVENT, CONSERVATIVE_EXITED_EVENT, STABILISED_REASON } from './risk/conservative.js';
export { blueprintRisk, blueprintTierName } from './risk/blueprint.js';
export { DEGRADED_CRITICAL_BELOW, DEGRADED_INPUTS_EVENT, DEGRADED_WARN_BELOW, degradedInputEvents } from './risk/degraded.js';
export { LossDeltaTracker } from './risk/loss-delta.js';
export type { BsdsMetadata } from './graph/builder.js';
