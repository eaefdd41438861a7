import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Clock, OonaMessage, Resolver, SetupContext, TelemetrySink } from '@esper/core';
// @ts-expect-error the backend port is for transport authors: @esper/core/oona
import type { StreamBackend } from '@esper/core';
import type { StreamBackend as TransportBackend } from '@esper/core/oona';

// Issue 12, finding 6: the root of @esper/core lists its exports by name, for plugin and
// application authors; Oona's transport internals are at @esper/core/oona. A change to either
// list is a change to the public API: update the list here on purpose, with a changeset.
describe('public surface of @esper/core', () => {
  it('the root exports exactly these runtime values', async () => {
    const root = await import('@esper/core');
    expect(Object.keys(root).sort()).toEqual([
      'AppendLog', 'AppendLogError', 'CORE_ENV', 'CORE_SECRETS', 'CORE_SECTIONS', 'CommandVerifier', 'ConfigLoadError',
      'ConfigNoDefaultExportError', 'ConfigNotAFileError', 'ConfigNotFoundError', 'ConfigPluginFactoryError',
      'ConfigPluginModuleError', 'ConfigValidationError', 'DEFAULT_COMMAND_FRESHNESS_WINDOW_MS', 'DEFAULT_COMMAND_MAX_FUTURE_SKEW_MS',
      'DEFAULT_MAX_RECORD_BYTES', 'DEFAULT_NONCE_CAPACITY', 'DEFAULT_NONCE_WINDOW_MS', 'DependencyCycleError', 'DuplicateProviderError',
      'Esper', 'EsperError', 'EsperRun', 'EventBus', 'HEALTHY_SUMMARY', 'HookFailedError',
      'HookTimeoutError', 'InvalidPluginError', 'JsonLogger', 'JsonlTelemetrySink', 'LEYLINE_SECRET_ENV',
      'LEYLINE_SIGNATURE_HEADER', 'LIFECYCLE_EVENTS', 'LIFECYCLE_EVENT_HOOKS', 'LIFECYCLE_HOOKS',
      'LeylineSigner', 'MASK', 'MAX_NICE', 'MAX_REALTIME_PRIORITY', 'ManualClock', 'MissingProviderError', 'MultiPortResolveError', 'NonceLedger',
      'PLUGIN_HOOKS', 'PORT_NAME_PATTERN', 'PRIORITY_INDICATOR', 'PortConflictError', 'PortNameError',
      'PortUnavailableError', 'ProvidesMismatchError', 'ResolvedConfig', 'RunStoppedError',
      'SIGNATURE_ANNOTATION', 'SecurityConfigError', 'SettingMetaError', 'SigningSecretMissingError',
      'SystemClock', 'TeardownError', 'TelemetryPacketBuilder', 'TelemetryPacketInvalidError', 'Tokens',
      'UnknownHookError', 'buildTelemetryPacket', 'catalogBlueprintMetadata', 'checkFreshness', 'commandSigningPayload',
      'coreConfigSchema', 'createEsper', 'currentThreadId', 'defineConfig', 'definePlugin', 'definePort', 'deriveHealth',
      'describeSettings', 'formatIssue', 'isEsperError', 'listPorts', 'loadConfig', 'loadConfigFile', 'lowerProcessPriority',
      'maskValue', 'parsePriorityName', 'portInfo', 'priorityForEvents', 'priorityForLevel',
      'priorityForPacket', 'priorityFromIndicator', 'priorityName', 'redact', 'resolveConfig',
      'secretSettings', 'setThreadRealtime', 'settingsEnv', 'signCommand', 'telemetryFile', 'telemetryFileSchema', 'writeFileAtomic',
    ]);
  });

  it('the root exposes no Oona transport internals, broker or second envelope codec', async () => {
    const root = await import('@esper/core');
    for (const name of [
      'ZERO_ID', 'nextStreamId', 'parseStreamId', 'FaultInjectingBackend', 'TokenBucket', 'KernelGuard', 'OonaMetrics',
      'MemoryBroker', 'MemoryStreamBackend', 'OonaClient', 'CircuitBreaker', 'submitAppend', 'encodeEnvelope',
      'decodeEnvelope', 'decodeEnvelopeInto', 'messageTypeOf', 'resolveOonaSettings', 'formatStreamId', 'pickOonaSettings',
    ]) {
      expect(root, name).not.toHaveProperty(name);
    }
  });

  it('@esper/core/oona exports exactly what a transport author needs', async () => {
    const oona = await import('@esper/core/oona');
    expect(Object.keys(oona).sort()).toEqual([
      'CircuitBreaker', 'FaultInjectingBackend', 'MAX_STREAM_ID', 'MAX_STREAM_ID_PART', 'MESSAGE_ROUTES',
      'OONA_COUNTERS', 'OONA_GAUGES', 'OONA_SOURCE_COUNTERS', 'OonaBackendError', 'OonaBusyGroupError',
      'OonaCatalogueStreamError', 'OonaClient', 'OonaClosedError', 'OonaConfigError', 'OonaIdTooSmallError', 'OonaNoGroupError',
      'OonaOutcomeUnknownError', 'OonaReadCancelledError', 'OonaStreamIdError', 'OonaUnreachableError',
      'OonaUnroutableError', 'ZERO_ID', 'appendEntries', 'breakerSettingsSchema', 'compareStreamIds',
      'defaultConsumerName', 'maxStreamId', 'minStreamId', 'nextStreamId', 'oonaSettingsSchema',
      'oonaSettingsShape', 'parseStreamId', 'pickOonaSettings', 'resolveStreams', 'startHousekeeping',
      'streamIdAt', 'submitAppend', 'workingStreams',
    ]);
  });

  it('the oona subpath is declared like the others (source, types, default)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      exports: Record<string, Record<string, string> | string>;
    };
    expect(pkg.exports['./oona']).toEqual({
      '@esper/source': './src/oona/index.ts',
      types: './dist/src/oona/index.d.ts',
      default: './dist/src/oona/index.js',
    });
    expect(Object.keys(pkg.exports['./oona'] as object)).toEqual(Object.keys(pkg.exports['./leyline'] as object));
  });

  it('types for plugin and app authors are at the root; the transport port is not', () => {
    expectTypeOf<Resolver>().toHaveProperty('resolve');
    expectTypeOf<SetupContext<Record<string, never>>>().toHaveProperty('provide');
    expectTypeOf<TelemetrySink>().toBeObject();
    expectTypeOf<Clock>().toHaveProperty('monotonicMs');
    expectTypeOf<OonaMessage>().toHaveProperty('decode');
    expectTypeOf<TransportBackend>().toHaveProperty('readGroup');
    expectTypeOf<StreamBackend>().toBeAny();
  });
});
