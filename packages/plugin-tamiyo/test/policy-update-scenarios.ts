// Delivery of policy updates over Oona (decision 0064), run against the in-process broker
// (policy-update-delivery.test.ts) and a real redis-server (policy-update-redis.test.ts).
import { CommandVerifier, LeylineSigner, ManualClock, signCommand, SystemClock, type CommandSigner, type Oona, type PolicyUpdateResult } from '@esper/core';
import { PolicyUpdateSchema, type PolicyUpdate } from '@esper/core/leyline';
import { type OonaClient, type StreamBackend } from '@esper/core/oona';
import { afterEach, describe, expect, test } from 'vitest';
import type { GnnController } from '../src/gnn/controller.js';
import { signPolicyUpdate } from '../src/policy-updates/bundle.js';
import {
  consumePolicyUpdates,
  emptyConsumerStats,
  PolicyUpdateConsumer,
  PolicyUpdateFanout,
  policyUpdateGroup,
  type PolicyUpdateTarget,
} from '../src/policy-updates/consume.js';
import { HeuristicController, RemoteController, TamiyoService } from '../src/index.js';
import { ARCHITECTURE_VERSION, initPolicyWeights } from '../src/policy/architecture.js';
import { encodePolicyWeights } from '../src/policy/weights.js';
import { scenarioClient } from './oona-streams.js';
import { SECRET, SMALL, gnnHarness } from './gnn-harness.js';
import { policyStatePacket } from './policy-packet.js';

/** Where the scenarios' streams live. */
export interface DeliveryTarget {
  /** A prefix for this test's stream names (a fresh one per test). */
  prefix(): string;
  backend(): Promise<StreamBackend>;
  cleanup?(prefix: string): Promise<void>;
}

const signer = new LeylineSigner(SECRET);
const forger = new LeylineSigner('not-the-secret');

/** A signed safetensors update with seeded SMALL weights. */
export function weightsUpdate(policyId: string, seed: number, by = signer): PolicyUpdate {
  return signPolicyUpdate(
    { policyId, tamiyoPolicyVersion: `${ARCHITECTURE_VERSION}@${policyId}` },
    { format: 'safetensors', body: encodePolicyWeights(initPolicyWeights(seed, SMALL), SMALL), architectureVersion: ARCHITECTURE_VERSION },
    by,
  );
}

const metadataUpdate = (policyId: string, by = signer, issuedAtMs = Date.now()) =>
  signPolicyUpdate({ policyId, tamiyoPolicyVersion: `${ARCHITECTURE_VERSION}@${policyId}`, issuedAtMs }, { format: 'metadata' }, by);

/** Undelivered + unacknowledged entries of `group` on `stream`; undefined when the group does not exist. */
async function groupBacklog(oona: Oona, stream: string, group: string): Promise<number | undefined> {
  const state = (await oona.describeGroups!(stream)).find((g) => g.name === group);
  return state === undefined ? undefined : state.pending + (state.lag ?? 0);
}

/** Signs and verifies commands with the scenarios' shared secret (the service and its trainer hold the same one). */
function commandSigner(): CommandSigner {
  const clock = new SystemClock();
  const verifier = new CommandVerifier({ signer, clock });
  return { ephemeral: false, sign: (c) => signCommand(c, signer, { clock }), verify: (c) => verifier.verify(c) };
}

/** Resolves once `check` holds, polling every 10 ms for at most `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 8_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs the delivery scenarios against `target`. */
export function describeDeliveryScenarios(name: string, target: DeliveryTarget, skip = false): void {
  describe.skipIf(skip)(`policy updates over Oona (${name})`, () => {
    const open: Array<{ close(): Promise<void> } | { stop(): Promise<void> } | { dispose(): Promise<void> }> = [];
    let prefix = '';
    afterEach(async () => {
      for (const o of open.splice(0).reverse()) {
        await ('stop' in o ? o.stop() : 'dispose' in o ? o.dispose() : o.close()).catch(() => undefined);
      }
      await target.cleanup?.(prefix);
    });

    async function oona(group: string, extra: Record<string, unknown> = {}): Promise<OonaClient> {
      const client = await scenarioClient({ backend: await target.backend(), clock: new SystemClock(), signer, prefix, group, extra });
      open.push(client);
      return client;
    }

    async function controller(): Promise<GnnController> {
      const h = await gnnHarness({ updates: { signer, settings: { verify: true, maxAgeSec: 0 } } });
      open.push(h.controller);
      return h.controller;
    }

    test('the loop ingests in arrival order, acknowledges accepted and rejected updates, and stops without a dangling read', async () => {
      prefix = target.prefix();
      const bus = await oona('tamiyo');
      const gnn = await controller();
      const order: string[] = [];
      let inFlight = 0;
      let overlapped = false;
      const recording: PolicyUpdateTarget = {
        ingestPolicyUpdate: async (u) => {
          overlapped ||= inFlight > 0;
          inFlight++;
          order.push(u.policyId);
          try {
            return await gnn.ingestPolicyUpdate(u);
          } finally {
            inFlight--;
          }
        },
      };
      // A long block time: stop() must end the waiting read rather than wait it out.
      const consumer = new PolicyUpdateConsumer({ oona: bus, target: recording, count: 2, blockMs: 60_000 });
      await consumer.start();
      open.push(consumer);
      const updates = [weightsUpdate('w-1', 21), weightsUpdate('forged', 22, forger), metadataUpdate('m-2'), weightsUpdate('w-1', 21)];
      for (const u of updates) await bus.publishMessage(PolicyUpdateSchema, u);
      // The consumer reads with a group of this instance's own, not the client's.
      expect(consumer.group).toBe('tamiyo.policy.tamiyo-1');
      expect(policyUpdateGroup(bus)).toBe(consumer.group);
      await until(async () => consumer.stats().received === 4 && (await groupBacklog(bus, bus.streams.policy, consumer.group)) === 0);

      expect(order).toStrictEqual(['w-1', 'forged', 'm-2', 'w-1']);
      expect(overlapped).toBe(false);
      const stats = consumer.stats();
      expect(stats).toMatchObject({ received: 4, accepted: 2, rejected: 2, failed: 0 });
      expect(stats.rejectedByReason).toStrictEqual({ invalid_signature: 1, replayed_update: 1 });
      expect(gnn.policyVersion).toBe(`${ARCHITECTURE_VERSION}@m-2`);
      expect(gnn.policyUpdates().map((u) => u.policyId)).toStrictEqual(['w-1', 'm-2']);

      const started = Date.now();
      await consumer.stop();
      expect(Date.now() - started).toBeLessThan(5_000);
      // Nothing is read after stop, and the instance's group is gone with it (it would pin the stream).
      expect(await groupBacklog(bus, bus.streams.policy, consumer.group)).toBeUndefined();
      await bus.publishMessage(PolicyUpdateSchema, metadataUpdate('m-3'));
      await new Promise((r) => setTimeout(r, 50));
      expect(consumer.stats().received).toBe(4);
    });

    test('an ingest that throws is retried by Oona and dead-lettered after oona.retryMaxAttempts runs; one read is bounded by count', async () => {
      prefix = target.prefix();
      const bus = await oona('tamiyo', { retryMaxAttempts: 2 });
      const gnn = await controller();
      let crashes = 0;
      const flaky: PolicyUpdateTarget = {
        ingestPolicyUpdate: async (u): Promise<PolicyUpdateResult> => {
          if (u.policyId === 'always-crashes' || (u.policyId === 'crashes-once' && crashes++ === 0)) throw new Error('ingest crashed');
          return gnn.ingestPolicyUpdate(u);
        },
      };
      const t0 = Date.now();
      await bus.publishMessage(PolicyUpdateSchema, metadataUpdate('crashes-once', signer, t0));
      await bus.publishMessage(PolicyUpdateSchema, metadataUpdate('always-crashes', signer, t0 + 10));
      await bus.publishMessage(PolicyUpdateSchema, metadataUpdate('third', signer, t0 + 2));
      await bus.publishMessage(PolicyUpdateSchema, metadataUpdate('retried-first', signer, t0 + 3));

      const stats = emptyConsumerStats();
      // count 2: the third update is not read by the first call.
      expect(await consumePolicyUpdates(bus, flaky, { count: 2, blockMs: 100, stats })).toBe(2);
      expect(stats).toMatchObject({ received: 2, failed: 2, accepted: 0 });
      for (let i = 0; i < 6 && (await bus.backlog(bus.streams.policy)) > 0; i++) await consumePolicyUpdates(bus, flaky, { count: 10, blockMs: 100, stats });

      // always-crashes (issued last) fails both runs and is dead-lettered. The retry of crashes-once
      // comes after third and retried-first, which were issued later:
      // it is dropped (superseded) rather than rolling the policy back to an older update.
      expect(stats).toMatchObject({ accepted: 2, failed: 3, rejected: 0, superseded: 1 });
      expect(stats.received).toBe(6);
      expect(gnn.policyUpdates().map((u) => u.policyId)).toStrictEqual(['third', 'retried-first']);
      expect(gnn.policyVersion).toBe(`${ARCHITECTURE_VERSION}@retried-first`);
      expect(await bus.backlog(bus.streams.policy)).toBe(0);
      expect(await bus.streamLength(`${prefix}oona.deadletter`)).toBe(1);
    });

    test('a fan-out delivers each update to the run controllers it serves, and replays the accepted ones to a run attached later', async () => {
      prefix = target.prefix();
      const bus = await oona('tamiyo');
      const [primary, early, late] = await Promise.all([controller(), controller(), controller()]);
      const fanout = new PolicyUpdateFanout(primary);
      await fanout.attach(early);
      const consumer = new PolicyUpdateConsumer({ oona: bus, target: fanout, blockMs: 100 });
      await consumer.start();
      open.push(consumer);
      for (const u of [weightsUpdate('w-5', 25), weightsUpdate('bad', 26, forger), metadataUpdate('m-6')]) await bus.publishMessage(PolicyUpdateSchema, u);
      await until(async () => consumer.stats().received === 3 && (await groupBacklog(bus, bus.streams.policy, consumer.group)) === 0);

      expect(primary.policyVersion).toBe(`${ARCHITECTURE_VERSION}@m-6`);
      expect(early.policyVersion).toBe(`${ARCHITECTURE_VERSION}@m-6`);
      const detach = await fanout.attach(late);
      expect(late.policyUpdates().map((u) => u.policyId)).toStrictEqual(['w-5', 'm-6']);
      expect(late.policyVersion).toBe(`${ARCHITECTURE_VERSION}@m-6`);
      expect(fanout.stats()).toMatchObject({ runs: 2, acceptedByRuns: 4, rejectedByRuns: 1 });
      detach();
      expect(fanout.stats().runs).toBe(1);
    });

    test('service replicas sharing oona.group each ingest every update, while the requests stay split between them', async () => {
      prefix = target.prefix();
      const requestStream = `${prefix}tamiyo.requests`;
      const replicas: Array<{ gnn: GnnController; consumer: PolicyUpdateConsumer; service: TamiyoService }> = [];
      for (const id of ['a', 'b']) {
        // One Oona client per replica process: the shared group, each with its own consumer name.
        const bus = await oona('svc', { consumer: `svc-${id}` });
        const gnn = await controller();
        const consumer = new PolicyUpdateConsumer({ oona: bus, target: gnn, blockMs: 100 });
        await consumer.start();
        open.push(consumer);
        const service = new TamiyoService({
          oona: bus,
          signer: commandSigner(),
          clock: new SystemClock(),
          options: { requestStream },
          controllers: () => ({ controller: new HeuristicController({ options: { blueprintRotation: ['BP001'] }, signer: commandSigner(), clock: new SystemClock() }) }),
        });
        await service.start();
        open.push(service);
        replicas.push({ gnn, consumer, service });
      }
      expect(replicas.map((r) => r.consumer.group)).toStrictEqual(['svc.policy.svc-a', 'svc.policy.svc-b']);

      const publisher = await oona('publisher');
      await publisher.publishMessage(PolicyUpdateSchema, weightsUpdate('w-shared', 31));
      await until(() => replicas.every((r) => r.consumer.stats().accepted === 1));
      for (const r of replicas) expect(r.gnn.policyVersion).toBe(`${ARCHITECTURE_VERSION}@w-shared`);

      // A trainer's requests go to the shared group: each is decided by one replica, and both take some.
      const trainerBus = await oona('trainer-r1');
      const remote = new RemoteController({ oona: trainerBus, signer: commandSigner(), clock: new SystemClock(), runId: `${prefix}r1`, options: { requestStream } });
      await remote.start();
      open.push(remote);
      for (let epoch = 0; epoch < 8; epoch++) await remote.evaluateEpoch(policyStatePacket(`${prefix}r1`, [], epoch));
      expect(remote.stats()).toMatchObject({ requests: 8, answered: 8, timeouts: 0 });
      const decided = replicas.map((r) => r.service.stats().decided);
      expect(decided[0]! + decided[1]!).toBe(8);
      expect(Math.min(...decided)).toBeGreaterThan(0);
    });

    test('a starting consumer deletes the stale group a crashed instance left, and keeps a live one', async () => {
      prefix = target.prefix();
      const bus = await oona('svc', { consumer: 'svc-a' });
      const policy = bus.streams.policy;
      // A crashed replica's group (it never read again) and a live one's (it keeps up).
      await bus.ensureGroups({ group: 'svc.policy.crashed', streams: [policy] });
      await bus.ensureGroups({ group: 'svc.policy.live', streams: [policy] });
      await bus.ensureGroups({ group: 'other.policy.x', streams: [policy] });
      await bus.publishMessage(PolicyUpdateSchema, metadataUpdate('m-old'));
      await bus.consume(PolicyUpdateSchema, () => undefined, { stream: policy, group: 'svc.policy.live' });
      const gnn = await controller();
      // Not stale yet at a threshold of an hour.
      const patient = new PolicyUpdateConsumer({ oona: bus, target: gnn, blockMs: 100, staleGroupMs: 3_600_000 });
      await patient.start();
      await patient.stop();
      expect((await bus.describeGroups(policy)).map((g) => g.name).sort()).toStrictEqual(['other.policy.x', 'svc.policy.crashed', 'svc.policy.live']);
      // An hour later (an injected clock), the crashed group has held the update back for an hour.
      const later = new ManualClock(Date.now() + 3_600_000);
      const consumer = new PolicyUpdateConsumer({ oona: bus, target: gnn, blockMs: 100, staleGroupMs: 3_600_000, clock: later });
      await consumer.start();
      open.push(consumer);
      // Only groups of this oona.group's instances are candidates; the live one has nothing held back.
      expect((await bus.describeGroups(policy)).map((g) => g.name).sort()).toStrictEqual(['other.policy.x', 'svc.policy.live', 'svc.policy.svc-a']);
      // If its group is deleted under it, the consumer makes it again and goes on reading.
      await bus.deleteGroup!(policy, consumer.group);
      await until(async () => (await groupBacklog(bus, policy, consumer.group)) !== undefined);
      await bus.publishMessage(PolicyUpdateSchema, weightsUpdate('w-after', 32));
      await until(() => consumer.stats().accepted === 1);
    });
  });
}
