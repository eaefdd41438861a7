import { isEsperError, SystemClock, type Clock, type Logger, type Oona, type OonaMessageOf, type OonaSubscription, type PolicyUpdateResult } from '@esper/core';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { PolicyUpdateSchema, type BusMessageType, type PolicyUpdate } from '@esper/core/leyline';
import { decodeBundle } from './bundle.js';

/** What a policy update is delivered to: a controller, or a {@link PolicyUpdateFanout}. */
export interface PolicyUpdateTarget {
  /** Verifies and applies one update; resolves accepted or rejected. A throw is an ingest crash. */
  ingestPolicyUpdate(update: PolicyUpdate): Promise<PolicyUpdateResult>;
}

/** Counters of a {@link PolicyUpdateConsumer} (or of one {@link consumePolicyUpdates} call). */
export interface PolicyUpdateConsumerStats {
  /** `PolicyUpdate`s handed to the target (redeliveries included). */
  received: number;
  /** Updates the target accepted. */
  accepted: number;
  /** Updates the target rejected (acknowledged: never delivered again). */
  rejected: number;
  /** Ingests that threw (left to Oona: retried with backoff, then dead-lettered). */
  failed: number;
  /**
   * Redeliveries of a crashed ingest dropped (acknowledged, not ingested) because an update
   * issued later was accepted meanwhile: a retry comes after later updates and must not roll
   * the policy back.
   */
  superseded: number;
  /** Rejections by reason (`invalid_signature`, `replayed_update`, …). */
  readonly rejectedByReason: Record<string, number>;
}

/** Where and how much {@link consumePolicyUpdates} reads. */
export interface ConsumePolicyUpdatesOptions {
  /** Stream to read (default: the client's policy stream, `oona.policy`). */
  readonly stream?: string | undefined;
  /** Updates per read (default 10). */
  readonly count?: number | undefined;
  /** How long the read waits for an update, ms (default 1000). */
  readonly blockMs?: number | undefined;
  /** Ends a waiting read early. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Consumer group to read with (default: the client's, `oona.group`); it must exist on the
   * stream (`oona.ensureGroups({ group, streams })`). {@link policyUpdateGroup} names one of
   * this Tamiyo's own, as {@link PolicyUpdateConsumer} uses.
   */
  readonly group?: string | undefined;
  readonly logger?: Logger | undefined;
  /** Counters to add to (a fresh set when left out); pass the same object to every call of one consumer (it also keys the `superseded` check). */
  readonly stats?: PolicyUpdateConsumerStats | undefined;
}

/** A zeroed {@link PolicyUpdateConsumerStats}. */
export function emptyConsumerStats(): PolicyUpdateConsumerStats {
  return { received: 0, accepted: 0, rejected: 0, failed: 0, superseded: 0, rejectedByReason: {} };
}

/**
 * The consumer handler: ingests one update into `target` and records the outcome. Returning
 * acknowledges the entry, so an accepted *and* a rejected update are acknowledged once their
 * result is known (a rejected one is never delivered again). A throwing ingest (a crash, not a
 * rejection) rethrows: Oona retries the entry with backoff and dead-letters it after
 * `oona.retryMaxAttempts` runs (decision 0064); the ingest is a transaction, so a retry starts
 * from the untouched policy, and one that did swap is refused `replayed_update`. A retry arrives
 * after updates published later; when one of those (issued later) was accepted, the retry is
 * dropped as `superseded` instead of rolling the policy back.
 */
/** issued_at of the newest update accepted under a set of counters (one consumer's state). */
const newestAccepted = new WeakMap<PolicyUpdateConsumerStats, number>();

function handlerFor(target: PolicyUpdateTarget, stats: PolicyUpdateConsumerStats, logger: Logger | undefined) {
  return async (update: PolicyUpdate, delivery: OonaMessageOf<BusMessageType.POLICY_UPDATE>): Promise<void> => {
    stats.received++;
    const where = { policyId: update.policyId, stream: delivery.stream, messageId: delivery.messageId, attempt: delivery.attempt };
    const issuedMs = update.issuedAt === undefined ? 0 : timestampMs(update.issuedAt);
    if (delivery.attempt > 1 && issuedMs < (newestAccepted.get(stats) ?? -Infinity)) {
      stats.superseded++;
      logger?.warn('tamiyo: a retried policy update was superseded by a later one; dropped', { ...where, superseded: stats.superseded });
      return;
    }
    let result: PolicyUpdateResult;
    try {
      result = await target.ingestPolicyUpdate(update);
    } catch (error) {
      stats.failed++;
      logger?.warn('tamiyo: ingesting a policy update failed; Oona retries it, then dead-letters it', { ...where, error: String(error), failed: stats.failed });
      throw error;
    }
    if (result.accepted) {
      stats.accepted++;
      newestAccepted.set(stats, Math.max(newestAccepted.get(stats) ?? -Infinity, issuedMs));
      logger?.info('tamiyo: policy update from Oona accepted', { ...where, policyVersion: result.policyVersion, accepted: stats.accepted, rejected: stats.rejected });
    } else {
      stats.rejected++;
      stats.rejectedByReason[result.reason] = (stats.rejectedByReason[result.reason] ?? 0) + 1;
      logger?.warn('tamiyo: policy update from Oona rejected', { ...where, reason: result.reason, accepted: stats.accepted, rejected: stats.rejected });
    }
  };
}

/**
 * The consumer group a Tamiyo instance reads policy updates with:
 * `<oona.group>.policy.<oona.consumer>` (decision 0064). The Oona consumer name (`oona.consumer`,
 * default `<hostname>-<pid>`) is the instance id: replicas sharing `oona.group` to share the
 * service's requests need distinct consumer names anyway, so each gets a group of its own and
 * every replica sees every update.
 */
export function policyUpdateGroup(oona: Pick<Oona, 'group' | 'consumer'>): string {
  return `${policyUpdateGroupPrefix(oona)}${oona.consumer}`;
}

/** The name prefix of every {@link policyUpdateGroup} of Tamiyos sharing `oona.group`: `<oona.group>.policy.`. */
export function policyUpdateGroupPrefix(oona: Pick<Oona, 'group'>): string {
  return `${oona.group}.policy.`;
}

/** How long a policy-update group of another instance may leave an update unread before a starting consumer deletes it, by default. */
export const DEFAULT_STALE_POLICY_GROUP_MS = 10 * 60_000;

/**
 * One read of the policy stream (the reference's `consume_policy_updates(bus, stream, count,
 * block_ms)`): reads up to `count` `PolicyUpdate`s with the client's consumer group (or
 * `options.group`) and ingests
 * each into `target`, one after another in arrival order, acknowledging each once its result is
 * known. Other message types on the stream are acknowledged and skipped by Oona. Resolves the
 * number of updates handed to `target`.
 *
 * The group must exist on the stream (`oona.ensureGroups()`, or `ensureGroups({ group, streams })`
 * for another group); a group sees only entries appended after it was created. Each group gets
 * every update once: Tamiyos that must all see every update read with groups of their own
 * (`group: policyUpdateGroup(oona)`, as {@link PolicyUpdateConsumer} does).
 */
export function consumePolicyUpdates(oona: Oona, target: PolicyUpdateTarget, options: ConsumePolicyUpdatesOptions = {}): Promise<number> {
  const handler = handlerFor(target, options.stats ?? emptyConsumerStats(), options.logger);
  return oona.consume(PolicyUpdateSchema, handler, {
    stream: options.stream ?? oona.streams.policy,
    count: options.count ?? 10,
    blockMs: options.blockMs ?? 1000,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.group !== undefined ? { group: options.group } : {}),
  });
}

/** Constructor arguments of {@link PolicyUpdateConsumer}. */
export interface PolicyUpdateConsumerInit {
  readonly oona: Oona;
  readonly target: PolicyUpdateTarget;
  /** Stream to read (default: the client's policy stream). */
  readonly stream?: string | undefined;
  /** Updates per read (default 10). */
  readonly count?: number | undefined;
  /** How long one read waits, ms (default 1000); `stop()` ends a waiting read at once. */
  readonly blockMs?: number | undefined;
  /**
   * Consumer group to read with (default: {@link policyUpdateGroup}, this instance's own, created
   * at `start` and deleted at `stop`). Passing `oona.group` shares the updates among the
   * instances of that group again, as before decision 0064's follow-up; a group passed here is
   * never deleted.
   */
  readonly group?: string | undefined;
  /**
   * At `start`, another instance's group (named with this instance's
   * {@link policyUpdateGroupPrefix}) that has left an update unread or unacknowledged this long,
   * ms, is deleted: its Tamiyo is gone (a live one reads within `blockMs`), and the group would
   * keep the policy stream from being trimmed. Default {@link DEFAULT_STALE_POLICY_GROUP_MS}; 0
   * never deletes. Only with the default group and an Oona that can list and delete groups.
   */
  readonly staleGroupMs?: number | undefined;
  /** Wall clock for the stale-group age (default: the system clock). */
  readonly clock?: Clock | undefined;
  readonly logger?: Logger | undefined;
}

/**
 * The policy-update loop (what the reference's Weatherlight runs around
 * `consume_policy_updates`, decision 0064): an Oona subscription on the policy stream that
 * ingests each `PolicyUpdate` into `target` in arrival order, one at a time, and acknowledges it
 * once accepted or rejected. Read errors are logged and retried with backoff by the
 * subscription. `stop()` ends the waiting read, lets the update in progress finish and resolves
 * once its acknowledgement is sent.
 *
 * It reads with a consumer group of this instance's own ({@link policyUpdateGroup}), so every
 * Tamiyo — service replicas sharing `oona.group` included — ingests every update published
 * while it runs. The group is made at `start` (at the stream's end) and deleted at `stop`;
 * groups left by instances that died are deleted by the next instance of the same `oona.group`
 * that starts, once stale (`staleGroupMs`). If the group disappears under a running consumer
 * (deleted as stale during a long outage), it is made again and reading goes on from the
 * stream's end.
 */
export class PolicyUpdateConsumer {
  private readonly counters = emptyConsumerStats();
  private subscription: OonaSubscription | undefined;

  constructor(private readonly init: PolicyUpdateConsumerInit) {}

  /** The stream this consumer reads. */
  get stream(): string {
    return this.init.stream ?? this.init.oona.streams.policy;
  }

  /** The consumer group this consumer reads with. */
  get group(): string {
    return this.init.group ?? policyUpdateGroup(this.init.oona);
  }

  /** Whether the group is this instance's own (made at start, deleted at stop) rather than one passed in. */
  private get ownsGroup(): boolean {
    return this.init.group === undefined;
  }

  /** Deletes stale groups of gone instances (own group only), creates the group (idempotent) and starts reading. */
  async start(): Promise<void> {
    if (this.subscription !== undefined) return;
    const { oona, logger } = this.init;
    const { stream, group } = this;
    if (this.ownsGroup) await this.deleteStaleGroups();
    await this.ensureGroup();
    this.subscription = oona.subscribe(PolicyUpdateSchema, handlerFor(this.init.target, this.counters, logger), {
      stream,
      group,
      count: this.init.count ?? 10,
      blockMs: this.init.blockMs ?? 1000,
      onError: (error) => {
        if (isEsperError(error, 'ESPER_OONA_NO_GROUP')) {
          logger?.warn('tamiyo: the policy-update group is gone (deleted as stale?); making it again, updates published meanwhile are not seen', { stream, group });
          this.ensureGroup().catch((e: unknown) => logger?.warn('tamiyo: making the policy-update group again failed', { stream, group, error: String(e) }));
          return;
        }
        logger?.warn('tamiyo: reading policy updates failed; retrying', { stream, group, error: String(error) });
      },
    });
    logger?.info('tamiyo: consuming policy updates', { stream, group, consumer: oona.consumer });
  }

  /** Stops reading; resolves when the update in progress is handled and acknowledged, and this instance's group is deleted. Idempotent. */
  async stop(): Promise<void> {
    const subscription = this.subscription;
    if (subscription === undefined) return;
    this.subscription = undefined;
    await subscription.stop();
    const { oona, logger } = this.init;
    if (this.ownsGroup && oona.deleteGroup !== undefined) {
      try {
        await oona.deleteGroup(subscription.stream, this.group);
      } catch (error) {
        // Left behind, it is deleted as stale by the next instance that starts.
        logger?.warn('tamiyo: deleting the policy-update group failed', { stream: subscription.stream, group: this.group, error: String(error) });
      }
    }
    logger?.info('tamiyo: stopped consuming policy updates', { stream: subscription.stream, ...this.stats() });
  }

  private ensureGroup(): Promise<void> {
    const { oona } = this.init;
    const { stream, group } = this;
    return group === oona.group ? oona.ensureGroups(stream === oona.streams.policy ? undefined : { streams: [stream] }) : oona.ensureGroups({ group, streams: [stream] });
  }

  /** Deletes the groups of other instances of this `oona.group` that left an update unread for `staleGroupMs`. Never throws. */
  private async deleteStaleGroups(): Promise<void> {
    const { oona, logger } = this.init;
    const staleMs = this.init.staleGroupMs ?? DEFAULT_STALE_POLICY_GROUP_MS;
    if (staleMs <= 0 || oona.describeGroups === undefined || oona.deleteGroup === undefined) return;
    const { stream, group } = this;
    const prefix = policyUpdateGroupPrefix(oona);
    const nowMs = (this.init.clock ?? new SystemClock()).nowMs();
    try {
      for (const g of await oona.describeGroups(stream)) {
        if (!g.name.startsWith(prefix) || g.name === group || g.oldestNeededId === undefined) continue;
        const heldMs = nowMs - entryIdMs(g.oldestNeededId);
        if (heldMs < staleMs) continue;
        if (await oona.deleteGroup(stream, g.name)) logger?.info('tamiyo: deleted the policy-update group of a gone instance', { stream, group: g.name, heldMs });
      }
    } catch (error) {
      logger?.warn('tamiyo: looking for stale policy-update groups failed', { stream, error: String(error) });
    }
  }

  /** Counters since start (a copy). */
  stats(): PolicyUpdateConsumerStats {
    return { ...this.counters, rejectedByReason: { ...this.counters.rejectedByReason } };
  }
}

/** Largest number of accepted metadata-only updates a fan-out keeps after the last weights update. */
const MAX_RETAINED = 32;

/**
 * Delivers each update to a primary controller (the run's own) and to every attached controller
 * (the Tamiyo service's per-run controllers), one update at a time. Updates the primary accepted
 * are kept — the last model or weights update and the metadata-only renames after it — and
 * replayed, in order, to a controller attached later, so a run the service starts serving after
 * an update decides with the updated policy. The primary's result is the fan-out's result; the
 * attached controllers' results are logged and counted.
 */
export class PolicyUpdateFanout implements PolicyUpdateTarget {
  private readonly attached = new Set<PolicyUpdateTarget>();
  private retained: PolicyUpdate[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private readonly counters = { deliveredToRuns: 0, acceptedByRuns: 0, rejectedByRuns: 0 };

  constructor(
    private readonly primary: PolicyUpdateTarget,
    private readonly logger?: Logger,
  ) {}

  /** Ingests `update` into the primary, then into every attached controller (after any update still in progress). */
  ingestPolicyUpdate(update: PolicyUpdate): Promise<PolicyUpdateResult> {
    return this.serial(async () => {
      const result = await this.primary.ingestPolicyUpdate(update);
      if (result.accepted) this.retain(update);
      for (const target of [...this.attached]) await this.deliver(target, update);
      return result;
    });
  }

  /**
   * Attaches a controller: replays the retained updates to it (resolving when they are applied)
   * and delivers later ones. Returns the detach function.
   */
  async attach(target: PolicyUpdateTarget): Promise<() => void> {
    await this.serial(async () => {
      for (const update of this.retained) await this.deliver(target, update);
      this.attached.add(target);
    });
    return () => this.attached.delete(target);
  }

  /** Deliveries to attached controllers and their outcomes, and how many are attached now. */
  stats(): { readonly deliveredToRuns: number; readonly acceptedByRuns: number; readonly rejectedByRuns: number; readonly runs: number } {
    return { ...this.counters, runs: this.attached.size };
  }

  private retain(update: PolicyUpdate): void {
    if (isMetadataOnly(update)) {
      this.retained.push(update);
      if (this.retained.length > MAX_RETAINED + 1) this.retained.splice(1, 1);
    } else {
      this.retained = [update];
    }
  }

  private async deliver(target: PolicyUpdateTarget, update: PolicyUpdate): Promise<void> {
    this.counters.deliveredToRuns++;
    try {
      const result = await target.ingestPolicyUpdate(update);
      if (result.accepted) this.counters.acceptedByRuns++;
      else {
        this.counters.rejectedByRuns++;
        this.logger?.warn('tamiyo service: a run controller rejected a policy update', { policyId: update.policyId, reason: result.reason });
      }
    } catch (error) {
      this.counters.rejectedByRuns++;
      this.logger?.warn('tamiyo service: a run controller failed to ingest a policy update', { policyId: update.policyId, error: String(error) });
    }
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** The time part of a stream entry id (`<ms>-<seq>`), ms; ids too large for a number count as new. */
function entryIdMs(id: string): number {
  const ms = Number(id.slice(0, id.indexOf('-')));
  return Number.isSafeInteger(ms) ? ms : Number.POSITIVE_INFINITY;
}

/** Whether an (accepted, so well-formed) update's bundle is metadata-only. */
function isMetadataOnly(update: PolicyUpdate): boolean {
  try {
    return decodeBundle(update.payload).header.format === 'metadata';
  } catch {
    return false;
  }
}
