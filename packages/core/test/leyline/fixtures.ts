// Leyline test fixtures: the realistic §2.5 fixtures (size budgets, benchmark) and fully
// populated vectors for every message type (wire compatibility with protoc).
import { create, type DescMessage, type JsonObject, type MessageShape } from '@bufbuild/protobuf';
import { DurationSchema, TimestampSchema, timestampFromMs } from '@bufbuild/protobuf/wkt';
import * as L from '../../src/leyline/index.js';

/** One message instance with its schema, named for test titles. */
export interface Vector<Desc extends DescMessage = DescMessage> {
  readonly name: string;
  readonly schema: Desc;
  readonly message: MessageShape<Desc>;
}

function vector<Desc extends DescMessage>(name: string, schema: Desc, message: MessageShape<Desc>): Vector {
  return { name, schema, message } as Vector;
}

// --- edge values -------------------------------------------------------------------------

/** Largest uint64. */
export const MAX_U64 = 18446744073709551615n;
/** Largest uint32. */
export const MAX_U32 = 4294967295;
/** Largest finite float32. */
export const MAX_F32 = Math.fround(3.4028234663852886e38);
/** Smallest positive (subnormal) float32. */
export const MIN_F32 = Math.fround(1.401298464324817e-45);
/** Non-ASCII text: Latin-1, BMP symbol, CJK, astral emoji. */
export const NON_ASCII = 'naïve-✓-日本-🙂';
/** Bytes including NUL, 0xff, and characters that need escaping in text format. */
export const EDGE_BYTES = new Uint8Array([0x00, 0xff, 0x7f, 0x80, 0x0a, 0x22, 0x5c, 0x27, 0x41]);
const f = Math.fround;
const ts = (seconds: bigint, nanos: number) => create(TimestampSchema, { seconds, nanos });

// --- §2.5 fixtures -----------------------------------------------------------------------

/** Fixed "now" so fixtures are reproducible. */
export const FIXTURE_NOW_MS = 1_760_000_000_123;

/** `SystemStatePacket`: epoch 3, metrics loss/grad_norm, hardware cuda/0, one seed with one metric. */
export function statePacketFixture(): L.SystemStatePacket {
  return create(L.SystemStatePacketSchema, {
    version: 1,
    currentEpoch: 3,
    validationAccuracy: 0.91,
    validationLoss: 0.24,
    timestampNs: BigInt(FIXTURE_NOW_MS) * 1_000_000n,
    hardwareContext: { deviceType: 'cuda', deviceId: '0', totalMemoryGb: 24, availableMemoryGb: 16, utilizationPercent: 72 },
    trainingMetrics: { loss: 0.31, grad_norm: 1.7 },
    seedStates: [{ seedId: 'seed-1', stage: L.SeedLifecycleStage.SEED_STAGE_TRAINING, gradientNorm: 0.4, learningRate: 0.001, layerDepth: 2, metrics: { alpha: 0.5 } }],
    packetId: 'run-demo-epoch-3',
    globalStep: 1200n,
    trainingLoss: 0.33,
    sourceSubsystem: 'tolaria',
    trainingRunId: 'run-demo',
    experimentName: 'demo',
  });
}

/** `AdaptationCommand`: SEED/GERMINATE, blueprint `bp-demo`, param alpha 0.5, annotation risk=low, issued now. */
export function commandFixture(): L.AdaptationCommand {
  return create(L.AdaptationCommandSchema, {
    version: 1,
    commandId: '5f0c6a2e-1c0b-4a8e-9d7e-3c2f1b0a9e8d',
    commandType: L.CommandType.COMMAND_SEED,
    targetSeedId: 'seed-1',
    executionDeadlineMs: 500,
    issuedAt: timestampFromMs(FIXTURE_NOW_MS),
    issuedBy: 'tamiyo',
    payload: {
      case: 'seedOperation',
      value: create(L.CommandSeedOperationSchema, { operation: L.SeedOperation.SEED_OP_GERMINATE, blueprintId: 'bp-demo', parameters: { alpha: 0.5 } }),
    },
    annotations: { risk: 'low' },
  });
}

/** `TelemetryPacket` as the builder makes it: 4 metrics with units, 1 event with 1 attribute, health HEALTHY "stable", indicator epoch=3. */
export function telemetryFixture(): L.TelemetryPacket {
  return create(L.TelemetryPacketSchema, {
    packetId: 'tolaria-epoch-3',
    timestamp: timestampFromMs(FIXTURE_NOW_MS),
    sourceSubsystem: 'tolaria',
    level: L.TelemetryLevel.INFO,
    metrics: [
      { name: 'loss', value: 0.31, unit: 'loss' },
      { name: 'accuracy', value: 0.91, unit: 'ratio' },
      { name: 'epoch_time', value: 1234.5, unit: 'ms' },
      { name: 'grad_norm', value: 1.7, unit: 'norm' },
    ],
    events: [{ eventId: 'epoch-complete', description: 'epoch 3 complete', level: L.TelemetryLevel.INFO, attributes: { epoch: '3' } }],
    systemHealth: { status: L.HealthStatus.HEALTHY, summary: 'stable', indicators: { epoch: '3' } },
  });
}

/** `FieldReport`, contract-test variant with mitigation "All good". */
export function fieldReportFixture(): L.FieldReport {
  return create(L.FieldReportSchema, {
    version: 1,
    reportId: 'fr-run-demo-3',
    commandId: '5f0c6a2e-1c0b-4a8e-9d7e-3c2f1b0a9e8d',
    trainingRunId: 'run-demo',
    seedId: 'seed-1',
    blueprintId: 'bp-demo',
    outcome: L.FieldReportOutcome.SUCCESS,
    metrics: { delta_loss: -0.02, delta_accuracy: 0.01 },
    observationWindowEpochs: 3,
    issuedAt: timestampFromMs(FIXTURE_NOW_MS),
    tamiyoPolicyVersion: 'policy-v1',
    followUpActions: [{ actionType: 'NONE', rationale: 'All good' }],
    notes: 'All good',
  });
}

/** `BlueprintDescriptor` with one bounded parameter. */
export function blueprintFixture(): L.BlueprintDescriptor {
  return create(L.BlueprintDescriptorSchema, {
    blueprintId: 'bp-demo',
    name: 'Demo adapter',
    tier: L.BlueprintTier.SAFE,
    allowedParameters: { alpha: { minValue: 0, maxValue: 1 } },
    risk: 0.1,
    stage: 1,
    quarantineOnly: false,
    approvalRequired: false,
    description: 'A small residual adapter.',
  });
}

// --- fully populated vectors for every message type ---------------------------------------

const hardware = () =>
  create(L.HardwareContextSchema, {
    deviceType: 'cuda',
    deviceId: NON_ASCII,
    totalMemoryGb: MAX_F32,
    availableMemoryGb: -0,
    temperatureCelsius: Number.NaN,
    utilizationPercent: Number.POSITIVE_INFINITY,
    computeCapability: MAX_U32,
  });

const seedState = (id: string) =>
  create(L.SeedStateSchema, {
    seedId: id,
    stage: L.SeedLifecycleStage.SEED_STAGE_TERMINATED,
    gradientNorm: Number.NEGATIVE_INFINITY,
    learningRate: MIN_F32,
    layerDepth: 1,
    // Integer-like keys sort first in JS objects; deterministic order puts "10" < "9" < "a".
    metrics: { b: f(0.1), '10': -0, '9': Number.NaN, a: MAX_F32, [NON_ASCII]: f(-1.5), '\uff21': 2, '🙂': 3 },
    ageEpochs: MAX_U32,
    riskScore: f(0.75),
  });

const seedOperation = () =>
  create(L.CommandSeedOperationSchema, {
    operation: L.SeedOperation.SEED_OP_CANCEL,
    blueprintId: 'bp-✓',
    parameters: { zeta: f(1e-7), alpha: 0.5, '2': 0, '': -0 },
  });
const optimizerAdjustment = () =>
  create(L.CommandOptimizerAdjustmentSchema, { optimizerId: 'adamw', hyperparameters: { lr: f(3e-4), weight_decay: f(0.01), '1': Number.POSITIVE_INFINITY } });
const circuitBreaker = () => create(L.CommandCircuitBreakerSchema, { desiredState: L.CircuitBreakerState.CIRCUIT_STATE_HALF_OPEN, rationale: NON_ASCII });

const commandBase = {
  version: MAX_U32,
  commandId: 'cmd-' + NON_ASCII,
  commandType: L.CommandType.COMMAND_STRUCTURAL_PRUNING,
  targetSeedId: 'seed-1',
  executionDeadlineMs: MAX_U32,
  issuedAt: ts(-62135596800n, 999_999_999),
  issuedBy: 'tamiyo',
  annotations: { signature: 'c2lnbmF0dXJl', risk: 'low', '10': 'ten', '9': 'nine', [NON_ASCII]: '' },
};

const metricPoint = (name: string) =>
  create(L.MetricPointSchema, { name, value: Number.MAX_VALUE, unit: NON_ASCII, attributes: { z: '1', a: '', '0': '0' } });
const telemetryEvent = () =>
  create(L.TelemetryEventSchema, { eventId: 'e1', description: NON_ASCII, level: L.TelemetryLevel.CRITICAL, attributes: { k: 'v', '7': 'seven' } });
const traceSpan = () =>
  create(L.TraceSpanSchema, {
    spanId: 's1',
    parentSpanId: 's0',
    name: 'span-' + NON_ASCII,
    startTime: ts(0n, 1),
    endTime: ts(253402300799n, 999_999_999),
    attributes: { b: '2', a: '1' },
  });
const systemHealth = () =>
  create(L.SystemHealthSchema, { status: L.HealthStatus.CRITICAL, summary: 'degraded ✓', indicators: { priority: 'MESSAGE_PRIORITY_HIGH', epoch: '3', '12': 'x' } });
const bsds = () =>
  create(L.BSDSSchema, {
    version: 1,
    blueprintId: 'bp-demo',
    riskScore: f(0.3),
    hazardBand: L.HazardBand.CRITICAL,
    handlingClass: L.HandlingClass.QUARANTINE,
    resourceProfile: L.ResourceProfile.MIXED,
    recommendation: NON_ASCII,
    issuedAt: ts(1_700_000_000n, 5),
    provenance: L.Provenance.EXTERNAL,
  });
const benchmark = () =>
  create(L.BlueprintBenchmarkSchema, {
    version: 1,
    blueprintId: 'bp-demo',
    profiles: [
      { name: 'batch16_f32', p50LatencyMs: f(1.25), p95LatencyMs: f(2.5), throughputSamplesPerS: MAX_F32 },
      { name: NON_ASCII, p50LatencyMs: -0, p95LatencyMs: Number.NaN, throughputSamplesPerS: Number.NEGATIVE_INFINITY },
    ],
    device: 'cuda:0',
    torchVersion: '2.4.0',
  });

/** A JSON rollback payload with nested values, lists, null and bools. */
export const ROLLBACK_JSON: JsonObject = {
  checkpoint: 'epoch-3',
  step: 1200,
  negative: -0.5,
  restore: true,
  dry_run: false,
  note: null,
  '10': 'integer-like key',
  [NON_ASCII]: NON_ASCII,
  layers: ['conv1', 2, false, null, { nested: [] }, []],
  meta: { b: { c: [1, 2.5, -1e300] }, a: {} },
};

/**
 * Fully populated vectors: every field of every Leyline message type is non-default in at least
 * one vector of its type (the compat test checks this), with edge values throughout.
 */
export function fullVectors(): Vector[] {
  return [
    vector('HardwareContext', L.HardwareContextSchema, hardware()),
    vector('SeedState', L.SeedStateSchema, seedState('seed-' + NON_ASCII)),
    vector(
      'SystemStatePacket',
      L.SystemStatePacketSchema,
      create(L.SystemStatePacketSchema, {
        version: 1,
        currentEpoch: MAX_U32,
        validationAccuracy: f(0.987654),
        validationLoss: MIN_F32,
        timestampNs: MAX_U64,
        hardwareContext: hardware(),
        trainingMetrics: { loss: f(0.31), grad_norm: -0, '3': Number.NaN, '20': Number.NEGATIVE_INFINITY, 日本: 1 },
        seedStates: [seedState('a'), seedState('b'), create(L.SeedStateSchema)],
        packetId: NON_ASCII,
        globalStep: MAX_U64 - 1n,
        trainingLoss: Number.POSITIVE_INFINITY,
        sourceSubsystem: 'tolaria',
        trainingRunId: 'run-1',
        experimentName: '',
      }),
    ),
    vector('SystemStatePacket/§2.5', L.SystemStatePacketSchema, statePacketFixture()),
    vector('CommandSeedOperation', L.CommandSeedOperationSchema, seedOperation()),
    vector('CommandOptimizerAdjustment', L.CommandOptimizerAdjustmentSchema, optimizerAdjustment()),
    vector('CommandCircuitBreaker', L.CommandCircuitBreakerSchema, circuitBreaker()),
    vector(
      'EmergencySignal',
      L.EmergencySignalSchema,
      create(L.EmergencySignalSchema, {
        version: 1,
        level: L.EmergencyLevel.HALT,
        reason: NON_ASCII,
        origin: 'tolaria',
        triggeredAt: ts(1_760_000_000n, 123_000_000),
        monotonicTimeMs: MAX_U64,
        runId: 'run-1',
        attributes: { level: '4', attempt: '1', '100': 'x', '': 'empty key' },
        payloadChecksum: EDGE_BYTES,
      }),
    ),
    vector('AdaptationCommand/seed_operation', L.AdaptationCommandSchema, create(L.AdaptationCommandSchema, { ...commandBase, payload: { case: 'seedOperation', value: seedOperation() } })),
    vector(
      'AdaptationCommand/optimizer_adjustment',
      L.AdaptationCommandSchema,
      create(L.AdaptationCommandSchema, { ...commandBase, payload: { case: 'optimizerAdjustment', value: optimizerAdjustment() } }),
    ),
    vector(
      'AdaptationCommand/circuit_breaker',
      L.AdaptationCommandSchema,
      create(L.AdaptationCommandSchema, { ...commandBase, payload: { case: 'circuitBreaker', value: circuitBreaker() } }),
    ),
    vector(
      'AdaptationCommand/rollback_payload',
      L.AdaptationCommandSchema,
      create(L.AdaptationCommandSchema, { ...commandBase, payload: { case: 'rollbackPayload', value: structuredClone(ROLLBACK_JSON) } }),
    ),
    vector(
      'AdaptationCommand/empty-payloads',
      L.AdaptationCommandSchema,
      // An oneof arm set to an empty message is still written (tag + zero length).
      create(L.AdaptationCommandSchema, { payload: { case: 'circuitBreaker', value: create(L.CommandCircuitBreakerSchema) } }),
    ),
    vector('AdaptationCommand/§2.5', L.AdaptationCommandSchema, commandFixture()),
    vector(
      'KernelPrefetchRequest',
      L.KernelPrefetchRequestSchema,
      create(L.KernelPrefetchRequestSchema, { requestId: 'req-1', blueprintId: 'bp-demo', trainingRunId: NON_ASCII, issuedAt: ts(1n, 0) }),
    ),
    vector(
      'KernelArtifactReady',
      L.KernelArtifactReadySchema,
      create(L.KernelArtifactReadySchema, {
        requestId: 'req-1',
        blueprintId: 'bp-demo',
        artifactRef: 'urza://bp-demo/' + NON_ASCII,
        checksum: 'sha256:00ff',
        guardDigest: 'g'.repeat(200),
        prewarmP50Ms: f(0.5),
        prewarmP95Ms: Number.NaN,
      }),
    ),
    vector('KernelArtifactError', L.KernelArtifactErrorSchema, create(L.KernelArtifactErrorSchema, { requestId: 'req-1', blueprintId: 'bp-demo', reason: NON_ASCII })),
    vector(
      'KernelCatalogUpdate',
      L.KernelCatalogUpdateSchema,
      create(L.KernelCatalogUpdateSchema, {
        blueprintId: 'bp-demo',
        artifactRef: 'a',
        checksum: 'c',
        guardDigest: 'd',
        compileMs: MAX_F32,
        prewarmMs: -0,
      }),
    ),
    vector('MitigationAction', L.MitigationActionSchema, create(L.MitigationActionSchema, { actionType: 'CONSERVATIVE_MODE', rationale: NON_ASCII })),
    vector(
      'FieldReport',
      L.FieldReportSchema,
      create(L.FieldReportSchema, {
        version: 1,
        reportId: 'fr-1',
        commandId: 'cmd-1',
        trainingRunId: 'run-1',
        seedId: 'seed-1',
        blueprintId: 'bp-demo',
        outcome: L.FieldReportOutcome.ABORTED,
        metrics: { delta_loss: f(-0.02), '5': 1, '-1': 2, '+1': 3, '01': 4 },
        observationWindowEpochs: MAX_U32,
        issuedAt: ts(-1n, 999_999_999),
        tamiyoPolicyVersion: 'policy-v1',
        followUpActions: [
          { actionType: 'CONSERVATIVE_MODE', rationale: 'loss spike' },
          { actionType: '', rationale: '' },
          { actionType: NON_ASCII, rationale: 'x' },
        ],
        notes: NON_ASCII,
      }),
    ),
    vector('FieldReport/§2.5', L.FieldReportSchema, fieldReportFixture()),
    vector(
      'BlueprintParameterBounds',
      L.BlueprintParameterBoundsSchema,
      create(L.BlueprintParameterBoundsSchema, { minValue: -Number.MAX_VALUE, maxValue: Number.MIN_VALUE }),
    ),
    vector(
      'BlueprintParameterBounds/special',
      L.BlueprintParameterBoundsSchema,
      create(L.BlueprintParameterBoundsSchema, { minValue: Number.NEGATIVE_INFINITY, maxValue: Number.NaN }),
    ),
    vector(
      'BlueprintDescriptor',
      L.BlueprintDescriptorSchema,
      create(L.BlueprintDescriptorSchema, {
        blueprintId: 'bp-demo',
        name: NON_ASCII,
        tier: L.BlueprintTier.HIGH_RISK,
        allowedParameters: {
          alpha: { minValue: 0, maxValue: 1 },
          '1': { minValue: -0, maxValue: Number.POSITIVE_INFINITY },
          empty: {},
          [NON_ASCII]: { minValue: 0.1, maxValue: 1e300 },
        },
        risk: f(0.42),
        stage: MAX_U32,
        quarantineOnly: true,
        approvalRequired: true,
        description: 'multi\nline\t"quoted" \\ back',
      }),
    ),
    vector('BlueprintDescriptor/§2.5', L.BlueprintDescriptorSchema, blueprintFixture()),
    vector(
      'BusEnvelope',
      L.BusEnvelopeSchema,
      create(L.BusEnvelopeSchema, {
        messageType: L.BusMessageType.BENCHMARK_REPORT,
        payload: EDGE_BYTES,
        attributes: { origin: 'tamiyo', attempt: '1', level: '4', '2': 'two', '10': 'ten' },
      }),
    ),
    vector(
      'PolicyUpdate',
      L.PolicyUpdateSchema,
      create(L.PolicyUpdateSchema, {
        version: 1,
        policyId: 'policy-1',
        trainingRunId: 'run-1',
        issuedAt: ts(1_760_000_000n, 0),
        tamiyoPolicyVersion: NON_ASCII,
        payload: new Uint8Array(300).map((_, i) => (i * 37) & 0xff),
      }),
    ),
    vector('MetricPoint', L.MetricPointSchema, metricPoint('tolaria.loss')),
    vector('MetricPoint/min-double', L.MetricPointSchema, create(L.MetricPointSchema, { name: 'tiny', value: Number.MIN_VALUE })),
    vector('MetricPoint/-0', L.MetricPointSchema, create(L.MetricPointSchema, { name: 'neg-zero', value: -0 })),
    vector('TelemetryEvent', L.TelemetryEventSchema, telemetryEvent()),
    vector('TraceSpan', L.TraceSpanSchema, traceSpan()),
    vector('SystemHealth', L.SystemHealthSchema, systemHealth()),
    vector(
      'TelemetryPacket',
      L.TelemetryPacketSchema,
      create(L.TelemetryPacketSchema, {
        packetId: 'pkt-1',
        timestamp: ts(1_760_000_000n, 999),
        sourceSubsystem: NON_ASCII,
        level: L.TelemetryLevel.ERROR,
        metrics: [metricPoint('a'), metricPoint('b')],
        events: [telemetryEvent(), create(L.TelemetryEventSchema)],
        spans: [traceSpan()],
        systemHealth: systemHealth(),
      }),
    ),
    vector('TelemetryPacket/§2.5', L.TelemetryPacketSchema, telemetryFixture()),
    vector(
      'EventEnvelope',
      L.EventEnvelopeSchema,
      create(L.EventEnvelopeSchema, {
        eventId: 'ev-1',
        eventType: 'telemetry',
        sourceSubsystem: 'nissa',
        createdAt: ts(1_760_000_000n, 1),
        processingDeadline: create(DurationSchema, { seconds: 315_576_000_000n, nanos: 999_999_999 }),
        ttl: create(DurationSchema, { seconds: -5n, nanos: -500 }),
        payload: EDGE_BYTES,
        payloadType: 'esper.leyline.v1.TelemetryPacket',
        contentEncoding: 'identity',
        priority: L.MessagePriority.CRITICAL,
        routingKeys: ['a', '', NON_ASCII, 'a'],
        correlationId: 'corr-1',
        deliveryGuarantee: L.DeliveryGuarantee.EXACTLY_ONCE,
        maxAttempts: MAX_U32,
        currentAttempt: 1,
      }),
    ),
    vector(
      'PerformanceBudgets',
      L.PerformanceBudgetsSchema,
      create(L.PerformanceBudgetsSchema, {
        epochBoundaryMs: 1,
        tamiyoInferenceMs: 2,
        systemstateAssemblyMs: 127,
        adaptationProcessingMs: 128,
        fastRollbackMs: 16383,
        fullRollbackSeconds: 16384,
        protobufSerializationUs: 80,
        messageValidationUs: 2097151,
        breakerTimeoutMs: 2097152,
        breakerResetSeconds: 268435455,
        importanceTrackingOverheadPercent: 268435456,
        checkpointAnalysisMinutesMin: 2147483647,
        checkpointAnalysisMinutesMax: 2147483648,
        structuredValidationSeconds: MAX_U32 - 1,
        rollbackCoordinationSeconds: MAX_U32,
      }),
    ),
    vector(
      'MemoryBudgets',
      L.MemoryBudgetsSchema,
      create(L.MemoryBudgetsSchema, {
        modelPercent: f(40.5),
        optimizerPercent: f(20.25),
        gradientsPercent: f(10.125),
        checkpointsPercent: f(5.0625),
        telemetryPercent: f(0.1),
        morphogeneticPercent: f(1 / 3),
        emergencyPercent: MIN_F32,
        importanceStatisticsPercent: -MAX_F32,
        pruningMetadataPercent: f(-1e-30),
      }),
    ),
    vector(
      'SystemLimits',
      L.SystemLimitsSchema,
      create(L.SystemLimitsSchema, {
        maxSeedsPerEpoch: 1,
        maxMessageSizeBytes: 1_048_576,
        maxQueueDepth: 10_000,
        maxRetryAttempts: 3,
        maxPauseQuota: 2,
        maxGcAllocationsPerMsg: 100,
        maxPruningRatioPercent: 50,
        maxConsecutivePruningFailures: 5,
        maxCheckpointStorageGb: 500,
        maxImportanceHistoryDays: MAX_U32,
      }),
    ),
    vector('BSDS', L.BSDSSchema, bsds()),
    vector('BlueprintBenchmarkProfile', L.BlueprintBenchmarkProfileSchema, benchmark().profiles[0] as L.BlueprintBenchmarkProfile),
    vector('BlueprintBenchmark', L.BlueprintBenchmarkSchema, benchmark()),
    vector('BSDSIssued', L.BSDSIssuedSchema, create(L.BSDSIssuedSchema, { bsds: bsds() })),
    vector('BSDSFailed', L.BSDSFailedSchema, create(L.BSDSFailedSchema, { blueprintId: 'bp-demo', reason: NON_ASCII })),
    vector('BenchmarkReport', L.BenchmarkReportSchema, create(L.BenchmarkReportSchema, { benchmark: benchmark() })),
    vector(
      'SeedState/unknown-enum',
      L.SeedStateSchema,
      // Open (proto3) enums keep unknown numbers; protoc accepts them as integers in text format.
      create(L.SeedStateSchema, { seedId: 'future', stage: 99 as L.SeedLifecycleStage }),
    ),
  ];
}
