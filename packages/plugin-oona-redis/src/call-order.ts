/** The two connections whose commands must stay in call order: node-redis' command connection, and the append connection. */
export type Lane = 'command' | 'append';

/**
 * Keeps the commands of two connections in call order, as if they shared one connection:
 * consecutive calls on one lane go out together (pipelined), while a call on the other lane
 * waits until every call started before it has been answered. A stream read after an append, or
 * an append after `XGROUP CREATE`, therefore sees the server as one connection would have left
 * it. Calls on one lane in a row cost nothing extra; each switch of lanes costs a round trip.
 */
export class CallOrder {
  private lane: Lane = 'command';
  /** Calls of `lane` started and not yet answered. */
  private running = 0;
  /** Calls waiting for their turn, in call order. */
  private readonly waiting: Array<{ readonly lane: Lane; readonly start: () => void }> = [];
  private starting = false;

  /**
   * Starts `start` now when nothing is waiting and no call of the other lane is unanswered, or
   * queues it. `start` must call {@link begin} for every call it sends (possibly none) before it
   * returns, and {@link end} once per call when its reply (or failure) arrives.
   */
  run(lane: Lane, start: () => void): void {
    if (this.waiting.length === 0 && (this.running === 0 || this.lane === lane)) {
      this.lane = lane;
      start();
    } else this.waiting.push({ lane, start });
  }

  /** Begins a call on `lane` when it may start now (as {@link run} would start it at once); false when it must wait. */
  tryBegin(lane: Lane): boolean {
    if (this.waiting.length > 0 || (this.running > 0 && this.lane !== lane)) return false;
    this.lane = lane;
    this.running++;
    return true;
  }

  /** A call of the lane that runs now was sent. */
  begin(): void {
    this.running++;
  }

  /** A call was answered (or failed): when it was the last one running, the next lane's calls start. */
  end(): void {
    // A call that fails while its lane starts (a lost connection) ends inside start(): the outer loop goes on.
    if (--this.running > 0 || this.starting) return;
    this.starting = true;
    try {
      while (this.running === 0 && this.waiting.length > 0) {
        const lane = this.waiting[0]!.lane;
        let n = 1;
        while (n < this.waiting.length && this.waiting[n]!.lane === lane) n++;
        this.lane = lane;
        for (const waiter of this.waiting.splice(0, n)) waiter.start();
      }
    } finally {
      this.starting = false;
    }
  }
}
