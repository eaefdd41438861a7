import type { DescMessage } from '@bufbuild/protobuf';
import {
  AdaptationCommandSchema,
  BenchmarkReportSchema,
  BSDSFailedSchema,
  BSDSIssuedSchema,
  BusMessageType,
  EmergencySignalSchema,
  FieldReportSchema,
  KernelArtifactErrorSchema,
  KernelArtifactReadySchema,
  KernelCatalogUpdateSchema,
  KernelPrefetchRequestSchema,
  PolicyUpdateSchema,
  SystemStatePacketSchema,
  TelemetryPacketSchema,
} from '../leyline/index.js';
import type { OonaStreamRole, OonaStreams } from '../kernel/ports/oona.js';
import type { OonaSettings } from './settings.js';

/**
 * Which logical stream each `BusMessageType` is published to (reference §1.4), and the
 * Leyline message its envelope carries. `KERNEL_CATALOG_UPDATE` shares the kernel *ready*
 * stream; `BENCHMARK_REPORT`, which the reference never publishes, goes to the normal stream.
 */
export const MESSAGE_ROUTES: ReadonlyMap<BusMessageType, { readonly role: OonaStreamRole; readonly schema: DescMessage }> =
  new Map<BusMessageType, { role: OonaStreamRole; schema: DescMessage }>([
    [BusMessageType.SYSTEM_STATE, { role: 'normal', schema: SystemStatePacketSchema }],
    [BusMessageType.ADAPTATION_COMMAND, { role: 'normal', schema: AdaptationCommandSchema }],
    [BusMessageType.FIELD_REPORT, { role: 'normal', schema: FieldReportSchema }],
    [BusMessageType.TELEMETRY, { role: 'telemetry', schema: TelemetryPacketSchema }],
    [BusMessageType.POLICY_UPDATE, { role: 'policy', schema: PolicyUpdateSchema }],
    [BusMessageType.KERNEL_PREFETCH_REQUEST, { role: 'kernelRequests', schema: KernelPrefetchRequestSchema }],
    [BusMessageType.KERNEL_PREFETCH_READY, { role: 'kernelReady', schema: KernelArtifactReadySchema }],
    [BusMessageType.KERNEL_PREFETCH_ERROR, { role: 'kernelErrors', schema: KernelArtifactErrorSchema }],
    [BusMessageType.KERNEL_CATALOG_UPDATE, { role: 'kernelReady', schema: KernelCatalogUpdateSchema }],
    [BusMessageType.EMERGENCY_SIGNAL, { role: 'emergency', schema: EmergencySignalSchema }],
    [BusMessageType.BSDS_ISSUED, { role: 'normal', schema: BSDSIssuedSchema }],
    [BusMessageType.BSDS_FAILED, { role: 'normal', schema: BSDSFailedSchema }],
    [BusMessageType.BENCHMARK_REPORT, { role: 'normal', schema: BenchmarkReportSchema }],
  ]);

const TYPE_BY_SCHEMA = new Map<string, BusMessageType>(
  [...MESSAGE_ROUTES].map(([type, route]) => [route.schema.typeName, type]),
);

/** The `BusMessageType` whose envelope carries messages of `schema`, or undefined. */
export function messageTypeOf(schema: DescMessage): BusMessageType | undefined {
  return TYPE_BY_SCHEMA.get(schema.typeName);
}

/** Resolved stream names from settings. */
export function resolveStreams(settings: OonaSettings): OonaStreams {
  return {
    normal: settings.normalStream,
    emergency: settings.emergencyStream,
    telemetry: settings.telemetryStream,
    policy: settings.policyStream,
    kernelRequests: settings.kernelRequestStream,
    kernelReady: settings.kernelReadyStream,
    kernelErrors: settings.kernelErrorStream,
    deadLetter: settings.deadLetterStream ?? undefined,
  };
}

/** The deduplicated working streams (everything but the dead-letter stream), in catalogue order. */
export function workingStreams(streams: OonaStreams): string[] {
  return [
    ...new Set([
      streams.normal,
      streams.emergency,
      streams.telemetry,
      streams.policy,
      streams.kernelRequests,
      streams.kernelReady,
      streams.kernelErrors,
    ]),
  ];
}
