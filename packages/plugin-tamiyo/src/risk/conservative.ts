import { TelemetryLevel } from '@esper/core/leyline';
import type { RiskEvent } from './event.js';

/** Description of the WARNING event when conservative mode turns on (tamiyo §9.2). */
export const CONSERVATIVE_ENTERED_EVENT = 'conservative_entered';
/** Description of the INFO event when conservative mode turns off. */
export const CONSERVATIVE_EXITED_EVENT = 'conservative_exited';
/** `reason` of the exit event. */
export const STABILISED_REASON = 'stabilised';

/**
 * Conservative mode with hysteresis (decision 0059; the reference leaves it in the same step it
 * entered it, §17 item 2). While on, every decision is PAUSE (rule B). It turns off after
 * `exitAfter` stable decisions in a row; the decision that enters it, or asks for it again while
 * it is on, resets the count and never counts itself.
 */
export class ConservativeMode {
  private on: boolean;
  private streak = 0;

  constructor(
    initial: boolean,
    /** Stable decisions in a row that end the mode (≥ 1). */
    readonly exitAfter: number,
  ) {
    this.on = initial;
  }

  get active(): boolean {
    return this.on;
  }

  /** Stable decisions counted towards the exit so far (0 while off). */
  get stableStreak(): number {
    return this.streak;
  }

  /** Sets the mode directly (operator or config), without an event; restarts the count. */
  set(on: boolean): void {
    this.on = on;
    this.streak = 0;
  }

  /** A rule asks for conservative mode: the count restarts; the `conservative_entered` event when it was off. */
  enter(reason: string): RiskEvent | undefined {
    this.streak = 0;
    if (this.on) return undefined;
    this.on = true;
    return { description: CONSERVATIVE_ENTERED_EVENT, level: TelemetryLevel.WARNING, attributes: { reason } };
  }

  /**
   * Rule M at the end of a decision: `stable` when nothing timed out, both breakers are closed
   * and no rule asked for the mode in this decision. Returns `conservative_exited` when the
   * count reaches `exitAfter`.
   */
  settle(stable: boolean): RiskEvent | undefined {
    if (!this.on) return undefined;
    this.streak = stable ? this.streak + 1 : 0;
    if (this.streak < this.exitAfter) return undefined;
    this.on = false;
    this.streak = 0;
    return { description: CONSERVATIVE_EXITED_EVENT, level: TelemetryLevel.INFO, attributes: { reason: STABILISED_REASON } };
  }
}
