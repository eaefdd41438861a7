/**
 * `@esper/core/oona`: what a transport author needs to put the Oona message fabric on a new
 * store — the {@link OonaClient} (every fabric rule: routing, breakers, signatures, retries,
 * dead letter, guards, metrics), the narrow {@link StreamBackend} port it drives, stream ids,
 * the circuit breaker, a fault-injecting backend for tests, the housekeeping timer and the
 * shared settings. Plugin and application code uses the `Oona` port from `@esper/core`
 * instead; the contract suite every backend must pass is `describeOonaContract` in
 * `@esper/core/testing`.
 *
 * @packageDocumentation
 */
export {
  appendEntries,
  submitAppend,
  type AppendOptions,
  type AppendRequest,
  type AutoClaimResult,
  type ClaimedEntry,
  type EntryFields,
  type GroupInfo,
  type ReadGroupOptions,
  type StreamBackend,
  type StreamEntry,
} from './backend.js';
export { CircuitBreaker, type BreakerOptions, type BreakerSnapshot } from './breaker.js';
export { MESSAGE_ROUTES, resolveStreams, workingStreams } from './catalogue.js';
export { OonaClient, type OonaClientOptions } from './client.js';
export {
  OonaBackendError,
  OonaBusyGroupError,
  OonaCatalogueStreamError,
  OonaClosedError,
  OonaConfigError,
  OonaIdTooSmallError,
  OonaNoGroupError,
  OonaOutcomeUnknownError,
  OonaReadCancelledError,
  OonaStreamIdError,
  OonaUnreachableError,
  OonaUnroutableError,
} from './errors.js';
export { FaultInjectingBackend, type FaultOp } from './faults.js';
export { startHousekeeping } from './housekeeping.js';
export {
  compareStreamIds,
  MAX_STREAM_ID,
  MAX_STREAM_ID_PART,
  maxStreamId,
  minStreamId,
  nextStreamId,
  parseStreamId,
  streamIdAt,
  ZERO_ID,
  type StreamId,
} from './ids.js';
export { OONA_COUNTERS, OONA_GAUGES, OONA_SOURCE_COUNTERS, type OonaCounter } from './metrics.js';
export {
  breakerSettingsSchema,
  defaultConsumerName,
  oonaSettingsSchema,
  oonaSettingsShape,
  pickOonaSettings,
  type OonaSettings,
  type OonaSettingsInput,
} from './settings.js';
