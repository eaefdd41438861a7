import { HealthStatus, TelemetryLevel } from '../leyline/index.js';

/** Summary written when nothing degrades health (the reference's Tamiyo and Tolaria both use it). */
export const HEALTHY_SUMMARY = 'stable';

/** The parts of an event that health derivation reads. */
export interface HealthEvent {
  /** Event text; becomes the summary when this event sets the status. */
  readonly description: string;
  /** Event level (default INFO when omitted). */
  readonly level?: TelemetryLevel | undefined;
}

/** Input of {@link deriveHealth}. */
export interface HealthInput {
  /** The packet's events, in packet order. */
  readonly events?: readonly HealthEvent[];
  /**
   * Status the caller already established from its own checks (Tolaria's `zero_samples` →
   * UNHEALTHY). Events can only make it worse. Default HEALTHY.
   */
  readonly status?: HealthStatus;
  /** Summary that goes with `status`; default {@link HEALTHY_SUMMARY}. */
  readonly summary?: string;
  /**
   * A caller-known condition that degrades health even without a WARNING event (Tamiyo: a PAUSE
   * command, with its risk reason); becomes the summary when it sets the status.
   */
  readonly degradedReason?: string | undefined;
}

/** A derived health status and its summary. */
export interface DerivedHealth {
  /** The status to write in `system_health.status`. */
  readonly status: HealthStatus;
  /** The summary to write in `system_health.summary`. */
  readonly summary: string;
}

/** Severity order of health statuses (UNKNOWN counts as HEALTHY). */
function severity(status: HealthStatus): number {
  return status === HealthStatus.UNKNOWN ? HealthStatus.HEALTHY : status;
}

/**
 * The one health rule every producer uses (docs/decisions/0010):
 *
 * 1. CRITICAL when any event is CRITICAL; summary = the first CRITICAL event's description.
 * 2. Else DEGRADED when `degradedReason` is given (summary = it), or when any event is WARNING or
 *    ERROR (summary = the first such event's description). ERROR degrades, as in Tolaria.
 * 3. Else HEALTHY.
 *
 * The result never improves on the caller's `status`: when that is as bad or worse than the
 * derived one, the caller's status and summary are kept.
 */
export function deriveHealth(input: HealthInput = {}): DerivedHealth {
  const base: DerivedHealth = { status: input.status ?? HealthStatus.HEALTHY, summary: input.summary ?? HEALTHY_SUMMARY };
  const derived = deriveFromEvents(input.events ?? [], input.degradedReason);
  if (derived === undefined || severity(derived.status) <= severity(base.status)) return base;
  return derived;
}

function deriveFromEvents(events: readonly HealthEvent[], degradedReason: string | undefined): DerivedHealth | undefined {
  let firstWarning: HealthEvent | undefined;
  for (const event of events) {
    const level = event.level ?? TelemetryLevel.INFO;
    if (level === TelemetryLevel.CRITICAL) return { status: HealthStatus.CRITICAL, summary: event.description };
    if (firstWarning === undefined && (level === TelemetryLevel.WARNING || level === TelemetryLevel.ERROR)) firstWarning = event;
  }
  if (degradedReason !== undefined) return { status: HealthStatus.DEGRADED, summary: degradedReason };
  if (firstWarning !== undefined) return { status: HealthStatus.DEGRADED, summary: firstWarning.description };
  return undefined;
}
