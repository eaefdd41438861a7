import type { SystemStatePacket } from '@esper/core/leyline';

/**
 * The loss delta of each decision (tamiyo §4 steps 5 and 15): this packet's `validation_loss`
 * minus the previous packet's. The first packet has no previous value: its delta is its
 * `training_metrics.loss_delta` when present, else 0. One tracker per decision stream.
 */
export class LossDeltaTracker {
  private previous: number | undefined;

  /** The delta of `packet`; remembers its validation loss for the next call. */
  observe(packet: SystemStatePacket): number {
    const current = packet.validationLoss;
    const given = packet.trainingMetrics['loss_delta'];
    const delta = this.previous !== undefined ? current - this.previous : given !== undefined && Number.isFinite(given) ? given : 0;
    this.previous = current;
    return delta;
  }

  /** Forgets the previous loss (a new run on the same controller). */
  reset(): void {
    this.previous = undefined;
  }
}
