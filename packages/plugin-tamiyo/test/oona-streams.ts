// Oona stream settings under a per-test prefix, so scenarios on a shared backend never meet.

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
