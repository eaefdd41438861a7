import type { DescMessage } from '@bufbuild/protobuf';
import { BUS_PAYLOAD_SCHEMAS, BusMessageType } from '../leyline/index.js';
import type { OonaStreamRole, OonaStreams } from '../kernel/ports/oona.js';
import type { OonaSettings } from './settings.js';

/**
 * Which logical stream each `BusMessageType` is published to (reference §1.4). The payload
 * schema comes from Leyline's `BUS_PAYLOAD_SCHEMAS`, so the two tables cannot drift apart.
 * `KERNEL_CATALOG_UPDATE` shares the kernel *ready* stream; `BENCHMARK_REPORT`, which the
 * reference never publishes, goes to the normal stream.
 */
const STREAM_ROLES = {
  [BusMessageType.SYSTEM_STATE]: 'normal',
  [BusMessageType.ADAPTATION_COMMAND]: 'normal',
  [BusMessageType.FIELD_REPORT]: 'normal',
  [BusMessageType.TELEMETRY]: 'telemetry',
  [BusMessageType.POLICY_UPDATE]: 'policy',
  [BusMessageType.KERNEL_PREFETCH_REQUEST]: 'kernelRequests',
  [BusMessageType.KERNEL_PREFETCH_READY]: 'kernelReady',
  [BusMessageType.KERNEL_PREFETCH_ERROR]: 'kernelErrors',
  [BusMessageType.KERNEL_CATALOG_UPDATE]: 'kernelReady',
  [BusMessageType.EMERGENCY_SIGNAL]: 'emergency',
  [BusMessageType.BSDS_ISSUED]: 'normal',
  [BusMessageType.BSDS_FAILED]: 'normal',
  [BusMessageType.BENCHMARK_REPORT]: 'normal',
} as const satisfies Record<keyof typeof BUS_PAYLOAD_SCHEMAS, OonaStreamRole>;

/** Stream role and payload schema of every routable `BusMessageType`. */
export const MESSAGE_ROUTES: ReadonlyMap<BusMessageType, { readonly role: OonaStreamRole; readonly schema: DescMessage }> = new Map(
  (Object.keys(STREAM_ROLES).map(Number) as Array<keyof typeof STREAM_ROLES>).map((type) => [
    type,
    { role: STREAM_ROLES[type], schema: BUS_PAYLOAD_SCHEMAS[type] },
  ]),
);

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
