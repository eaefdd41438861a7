/**
 * `@esper/core/testing`: shared contract suites and test helpers for plugin authors.
 *
 * Importing this module imports `vitest`; use it from test files only.
 *
 * @packageDocumentation
 */
export {
  describeOonaContract,
  type OonaContractContext,
  type OonaContractFactory,
  type OonaContractOptions,
  type OonaContractTarget,
} from './oona-contract.js';
export { PYTHON_EMERGENCY_ENVELOPE_HEX, PYTHON_EMERGENCY_SIGNATURE, PYTHON_FIXTURE_SECRET } from './oona-fixtures.js';
export {
  startTestRun,
  silentLogger,
  PluginTestRun,
  TELEMETRY_COLLECTOR_PLUGIN,
  type TestRunOptions,
  type CollectedTelemetry,
  type CapturedLog,
} from './harness.js';
