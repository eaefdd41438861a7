import { CircuitBreakerState, TelemetryLevel } from '@esper/core/leyline';
import type { RiskEvent } from './event.js';

/** The two states a risk breaker uses, with their Leyline numbers (CLOSED 1, OPEN 2) for telemetry. */
export type RiskBreakerState = CircuitBreakerState.CIRCUIT_STATE_CLOSED | CircuitBreakerState.CIRCUIT_STATE_OPEN;

/** What {@link RiskBreaker.snapshot} reports (telemetry §10.1 item 14). */
export interface RiskBreakerSnapshot {
  readonly state: RiskBreakerState;
  readonly failures: number;
  /** Monotonic ms before which an open breaker ignores successes (0 when closed). */
  readonly openUntilMs: number;
}

/** Description of every breaker event (tamiyo §9.1). */
export const BREAKER_EVENT = 'breaker_event';

type Signal = 'failure' | 'success';
/** `action` attribute of the breaker event a transition emits. */
type Action = 'open' | 'count' | 'close';

interface Limits {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
}

const CLOSED = CircuitBreakerState.CIRCUIT_STATE_CLOSED;
const OPEN = CircuitBreakerState.CIRCUIT_STATE_OPEN;

/**
 * The breaker's transitions as data (reference §9.1, decision 0059): one row per (state,
 * signal), returning the next state and the event action, if any. The failure count is leaky:
 * a success while closed takes one off. A failure while open re-arms the cool-down, so the
 * success that closes the breaker comes at least one cool-down after the last failure (what a
 * HALF_OPEN state would give, without a state nobody can observe: these breakers never refuse
 * a call).
 */
const TRANSITIONS: Record<RiskBreakerState, Record<Signal, (d: RiskBreakerSnapshot, nowMs: number, l: Limits) => readonly [RiskBreakerSnapshot, Action | undefined]>> = {
  [CLOSED]: {
    failure: (d, nowMs, l) =>
      d.failures + 1 >= l.failureThreshold
        ? [{ state: OPEN, failures: d.failures + 1, openUntilMs: nowMs + l.cooldownMs }, 'open']
        : [{ ...d, failures: d.failures + 1 }, 'count'],
    success: (d) => [d.failures === 0 ? d : { ...d, failures: d.failures - 1 }, undefined],
  },
  [OPEN]: {
    failure: (d, nowMs, l) => [{ state: OPEN, failures: d.failures + 1, openUntilMs: nowMs + l.cooldownMs }, 'count'],
    success: (d, nowMs) => (nowMs < d.openUntilMs ? [d, undefined] : [{ state: CLOSED, failures: 0, openUntilMs: 0 }, 'close']),
  },
};

const LEVEL: Record<Action, TelemetryLevel> = { open: TelemetryLevel.CRITICAL, count: TelemetryLevel.WARNING, close: TelemetryLevel.INFO };

/**
 * One of Tamiyo's two risk breakers (`inference`, `metadata`; reference §9.1): it counts
 * timeouts, opens after `failureThreshold` of them (net of successes) and closes on the first
 * success once `cooldownMs` has passed since it opened (or since the last failure while open).
 * It never blocks a call; the risk engine reads its state (conservative mode holds while one is
 * open). Time is the injected monotonic clock.
 */
export class RiskBreaker {
  private data: RiskBreakerSnapshot = { state: CLOSED, failures: 0, openUntilMs: 0 };
  private readonly limits: Limits;

  constructor(
    /** `component` attribute of its events. */
    readonly component: string,
    private readonly monotonicMs: () => number,
    limits: { readonly failureThreshold: number; readonly cooldownMs: number },
  ) {
    this.limits = { failureThreshold: Math.max(1, Math.floor(limits.failureThreshold)), cooldownMs: Math.max(0, limits.cooldownMs) };
  }

  /** Records a failure; returns its `breaker_event` (CRITICAL `open` or WARNING `count`). */
  failure(reason: string): RiskEvent {
    const action = this.apply('failure') as Action;
    return {
      description: BREAKER_EVENT,
      level: LEVEL[action],
      attributes: { component: this.component, reason, failures: String(this.data.failures), action },
    };
  }

  /** Records a success; returns the INFO `close` event when it closed the breaker. */
  success(): RiskEvent | undefined {
    const action = this.apply('success');
    return action === undefined ? undefined : { description: BREAKER_EVENT, level: LEVEL[action], attributes: { component: this.component, action } };
  }

  get state(): RiskBreakerState {
    return this.data.state;
  }

  snapshot(): RiskBreakerSnapshot {
    return this.data;
  }

  private apply(signal: Signal): Action | undefined {
    const [next, action] = TRANSITIONS[this.data.state][signal](this.data, this.monotonicMs(), this.limits);
    this.data = next;
    return action;
  }
}
