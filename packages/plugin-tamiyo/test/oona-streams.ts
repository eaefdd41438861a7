// Oona stream settings under a per-test prefix, so scenarios on a shared backend never meet.
import type { Clock, LeylineSigner } from '@esper/core';
import { OonaClient, type StreamBackend } from '@esper/core/oona';

/** Every catalogue stream of an Oona client, named `<prefix>oona.<kind>`. */
export function prefixedStreams(prefix: string) {
  return {
    normalStream: `${prefix}oona.normal`,
    emergencyStream: `${prefix}oona.emergency`,
    telemetryStream: `${prefix}oona.telemetry`,
    policyStream: `${prefix}oona.policy`,
    kernelRequestStream: `${prefix}oona.kr`,
    kernelReadyStream: `${prefix}oona.kready`,
    kernelErrorStream: `${prefix}oona.kerr`,
    deadLetterStream: `${prefix}oona.deadletter`,
  };
}

/** An Oona client on `backend` for one scenario: its group, a consumer, the prefixed streams, no retry backoff; groups ensured. */
export async function scenarioClient(options: {
  readonly backend: StreamBackend;
  readonly clock: Clock;
  readonly signer: LeylineSigner;
  readonly prefix: string;
  readonly group: string;
  readonly consumer?: string;
  readonly extra?: Record<string, unknown>;
}): Promise<OonaClient> {
  const client = new OonaClient({
    backend: options.backend,
    clock: options.clock,
    signer: options.signer,
    settings: { group: options.group, consumer: options.consumer ?? `${options.group}-1`, ...prefixedStreams(options.prefix), retryBackoffMs: 0, ...options.extra },
  });
  await client.ensureGroups();
  return client;
}
