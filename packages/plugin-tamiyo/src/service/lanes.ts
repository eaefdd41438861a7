/**
 * Work queued by key: the items of one key run one after another in admission order (a run's
 * packets, since controllers keep state per run); items of different keys run side by side, at
 * most `concurrency` at once, keys taking turns. At most `maxQueued` items are admitted and
 * not finished; `admit` waits for room, which is how the service stops reading from Oona when
 * it is behind.
 */
export class OrderedLanes<T> {
  private readonly lanes = new Map<string, T[]>();
  /** Keys with queued items and nothing running, in the order they became ready. */
  private readonly ready: string[] = [];
  private readonly running = new Set<string>();
  private admitted = 0;
  private readonly roomWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private idleWaiters: Array<() => void> = [];
  private closedWith: unknown;

  constructor(
    /** Runs one item; must not reject (the caller reports its own failures). */
    private readonly work: (key: string, item: T) => Promise<void>,
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  /** Items admitted and not finished. */
  get pending(): number {
    return this.admitted;
  }

  /** Keys with an item running now. */
  get busyKeys(): ReadonlySet<string> {
    return this.running;
  }

  /** Whether `key` has an item running or queued. */
  has(key: string): boolean {
    return this.running.has(key) || (this.lanes.get(key)?.length ?? 0) > 0;
  }

  /**
   * Queues `item` behind the other items of `key`, waiting while `maxQueued` items are
   * admitted. Rejects with the reason given to {@link close} once closed.
   */
  async admit(key: string, item: T): Promise<void> {
    while (this.admitted >= this.maxQueued) {
      if (this.closedWith !== undefined) throw this.closedWith;
      await new Promise<void>((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
    }
    if (this.closedWith !== undefined) throw this.closedWith;
    this.admitted++;
    let lane = this.lanes.get(key);
    if (lane === undefined) this.lanes.set(key, (lane = []));
    lane.push(item);
    if (lane.length === 1 && !this.running.has(key)) this.ready.push(key);
    this.pump();
  }

  /** Refuses further admissions (waiting ones reject with `reason`); queued items still run. */
  close(reason: unknown): void {
    this.closedWith = reason;
    for (const waiter of this.roomWaiters.splice(0)) waiter.reject(reason);
  }

  /** Resolves when no item is admitted (at once when none is). */
  idle(): Promise<void> {
    if (this.admitted === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const lane = this.lanes.get(key)!;
      const item = lane.shift()!;
      if (lane.length === 0) this.lanes.delete(key);
      this.running.add(key);
      void this.work(key, item).finally(() => this.finished(key));
    }
  }

  private finished(key: string): void {
    this.running.delete(key);
    this.admitted--;
    if ((this.lanes.get(key)?.length ?? 0) > 0) this.ready.push(key);
    this.roomWaiters.shift()?.resolve();
    this.pump();
    if (this.admitted === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
