import { TelemetryLevel } from '@esper/core/leyline';
import type { Coverage } from '../graph/builder.js';
import type { RiskEvent } from './event.js';
import { pyFixed } from './format.js';

/** Description of the degraded-inputs event (tamiyo §4 step 8). */
export const DEGRADED_INPUTS_EVENT = 'degraded_inputs';
/** Mean feature coverage below which the inputs are degraded (WARNING; strict `<`). */
export const DEGRADED_WARN_BELOW = 0.3;
/** Mean feature coverage below which they are critically degraded (CRITICAL; strict `<`). */
export const DEGRADED_CRITICAL_BELOW = 0.1;

/**
 * The `degraded_inputs` event of a decision's per-key feature coverage (tamiyo §4 step 8, §6.6):
 * none when the mean is ≥ 0.30 or the map is empty, WARNING below 0.30, CRITICAL below 0.10;
 * attributes `coverage_avg` ("%.3f") and `missing_features` (keys with coverage 0).
 */
export function degradedInputEvents(coverage: Coverage | Readonly<Record<string, number>>): RiskEvent[] {
  const values = coverage instanceof Map ? [...(coverage as Coverage).values()] : Object.values(coverage as Readonly<Record<string, number>>);
  if (values.length === 0) return [];
  let sum = 0;
  let missing = 0;
  for (const v of values) {
    sum += v;
    if (v === 0) missing++;
  }
  const avg = sum / values.length;
  const level = avg < DEGRADED_CRITICAL_BELOW ? TelemetryLevel.CRITICAL : avg < DEGRADED_WARN_BELOW ? TelemetryLevel.WARNING : undefined;
  if (level === undefined) return [];
  return [{ description: DEGRADED_INPUTS_EVENT, level, attributes: { coverage_avg: pyFixed(avg, 3), missing_features: String(missing) } }];
}
