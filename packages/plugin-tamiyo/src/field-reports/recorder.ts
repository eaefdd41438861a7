import type { DecisionObservation } from './lifecycle.js';

/**
 * What a controller needs of the field-report lifecycle: record each delivered decision, publish
 * at epoch end. {@link FieldReportLifecycle} is the implementation; tests may pass their own.
 */
export interface FieldReportRecorder {
  /** Records one delivered decision (takes effect in call order, even when not awaited). */
  record(observation: DecisionObservation): Promise<unknown>;
  /** One publish cycle; resolves true when nothing is left pending. */
  publish(): Promise<boolean>;
}
