// Scenarios of the remote service mode (decision 0061), run on every Oona backend: the memory
// broker (service.test.ts) and a real redis-server (service-redis.test.ts). Real components
// only: Oona clients on the backend, heuristic controllers, core's command signing and verifier.
import { CommandVerifier, LeylineSigner, signCommand, SystemClock, type CommandSigner, type Controller } from '@esper/core';
import { type OonaClient, type StreamBackend } from '@esper/core/oona';
import { AdaptationCommandSchema, CommandType, SystemStatePacketSchema, type AdaptationCommand, type SystemStatePacket } from '@esper/core/leyline';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HeuristicController,
  parseRequest,
  REMOTE_ATTRIBUTES,
  RemoteController,
  RemoteDecisionError,
  remotePauseCommand,
  replyAttributes,
  requestAttributes,
  TamiyoService,
  type RemoteOptions,
  type ServiceOptions,
} from '../src/index.js';
import { scenarioClient } from './oona-streams.js';
import { flat, packet, summary, type EpochSpec } from './packets.js';

/** Makes a fresh backend on the suite's store; `prefix` keeps one test's streams apart from another's. */
export interface ServiceScenarioTarget {
  readonly backend: () => Promise<StreamBackend>;
  /** Stream names under a per-test prefix (redis) or plain (a fresh memory broker per test). */
  readonly prefix: () => string;
  /** Called after each test (deletes the test's keys on redis). */
  readonly cleanup?: (prefix: string) => Promise<void>;
}

const SECRET = 'remote-tamiyo-test-secret';
const clock = new SystemClock();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The kernel's CommandSigner, made from core's signCommand and CommandVerifier on the shared secret. */
function commandSigner(ephemeral = false): CommandSigner {
  const signer = new LeylineSigner(ephemeral ? 'per-run-random-key' : SECRET);
  const verifier = new CommandVerifier({ signer, clock });
  return { ephemeral, sign: (c) => signCommand(c, signer, { clock }), verify: (c) => verifier.verify(c) };
}

/** A packet of run `runId` for `spec` (Tolaria's packet id scheme). */
function runPacket(runId: string, spec: EpochSpec): SystemStatePacket {
  const p = packet(spec);
  p.trainingRunId = runId;
  p.packetId = `${runId}-epoch-${spec.epoch}`;
  return p;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Wraps a controller: records the packets it decided, optionally slow (and then deaf to the caller's signal, as a controller that overruns). */
function recording(inner: Controller, seen: string[], delayMs = 0): Controller {
  const decide = async (p: SystemStatePacket, call: () => Promise<AdaptationCommand>) => {
    seen.push(`${p.trainingRunId}#${p.currentEpoch}`);
    if (delayMs > 0) await sleep(delayMs);
    return call();
  };
  return {
    evaluateStep: (p) => decide(p, () => inner.evaluateStep(p)),
    evaluateEpoch: (p) => decide(p, () => inner.evaluateEpoch(p)),
    ingestPolicyUpdate: (u) => inner.ingestPolicyUpdate(u),
    flush: () => inner.flush(),
  };
}

const heuristic = () => new HeuristicController({ options: { blueprintRotation: ['BP001', 'BP002'] }, signer: commandSigner(), clock });

/** Runs the remote-service scenarios against `target`. */
export function describeServiceScenarios(name: string, target: ServiceScenarioTarget, skip = false): void {
  describe.skipIf(skip)(`tamiyo remote service (${name})`, () => {
    const open: Array<{ close(): Promise<void> } | { stop(): Promise<void> }> = [];
    let prefix = '';
    afterEach(async () => {
      for (const o of open.splice(0).reverse()) await ('stop' in o ? o.stop() : o.close()).catch(() => undefined);
      await target.cleanup?.(prefix);
    });

    async function oona(group: string, consumer = `${group}-1`, extra: Record<string, unknown> = {}): Promise<OonaClient> {
      const client = await scenarioClient({ backend: await target.backend(), clock, signer: new LeylineSigner(SECRET), prefix, group, consumer, extra });
      open.push(client);
      return client;
    }

    async function service(options: Partial<ServiceOptions>, controllers: (runId: string) => Controller, group = 'tamiyo', extra: Record<string, unknown> = {}) {
      const made: string[] = [];
      const svc = new TamiyoService({
        oona: await oona(group, `${group}-${open.length}`, extra),
        signer: commandSigner(),
        clock,
        options: { requestStream: `${prefix}tamiyo.requests`, ...options },
        controllers: (runId) => {
          made.push(runId);
          return { controller: controllers(runId) };
        },
      });
      await svc.start();
      open.push(svc);
      return { svc, made };
    }

    async function trainer(runId: string, options: Partial<RemoteOptions> = {}) {
      const client = await oona(`trainer-${runId}`);
      const remote = new RemoteController({
        oona: client,
        signer: commandSigner(),
        clock,
        runId: `${prefix}${runId}`,
        options: { requestStream: `${prefix}tamiyo.requests`, ...options },
      });
      await remote.start();
      open.push(remote);
      return { remote, client };
    }

    it('serves two trainers at once: answers correlated by packet id, one controller per run, in order, signatures verify', async () => {
      prefix = target.prefix();
      const seen: string[] = [];
      const { made } = await service({ concurrency: 2 }, () => recording(heuristic(), seen, 5));
      const a = await trainer('run-a');
      const b = await trainer('run-b');
      // Different accuracy curves, so the two runs' decisions differ and a mix-up would show.
      const epochsA = [...flat(0, 3, 50), { epoch: 4, acc: 51 }, ...flat(5, 9, 51)];
      const epochsB = [{ epoch: 0, acc: 40 }, { epoch: 1, acc: 45 }, { epoch: 2, acc: 50 }, ...flat(3, 9, 50)];
      const drive = async (remote: RemoteController, runId: string, epochs: EpochSpec[]) => {
        const out: AdaptationCommand[] = [];
        for (const spec of epochs) out.push(await remote.evaluateEpoch(runPacket(runId, spec)));
        return out;
      };
      const [gotA, gotB] = await Promise.all([drive(a.remote, 'run-a', epochsA), drive(b.remote, 'run-b', epochsB)]);

      // What the same controller decides in process, packet by packet.
      const local = async (runId: string, epochs: EpochSpec[]) => {
        const c = heuristic();
        const out: string[] = [];
        for (const spec of epochs) out.push(summary(await c.evaluateEpoch(runPacket(runId, spec))));
        return out;
      };
      expect(gotA.map(summary)).toEqual(await local('run-a', epochsA));
      expect(gotB.map(summary)).toEqual(await local('run-b', epochsB));
      expect(gotA.map((c) => c.annotations.epoch)).toEqual(epochsA.map((e) => String(e.epoch)));
      expect(gotB.map((c) => c.annotations.epoch)).toEqual(epochsB.map((e) => String(e.epoch)));
      expect(gotA.map(summary)).not.toEqual(gotB.map(summary));

      expect([...made].sort()).toEqual(['run-a', 'run-b']);
      expect(seen.filter((s) => s.startsWith('run-a#'))).toEqual(epochsA.map((e) => `run-a#${e.epoch}`));
      expect(seen.filter((s) => s.startsWith('run-b#'))).toEqual(epochsB.map((e) => `run-b#${e.epoch}`));

      // Each trainer's executor verifies what the service signed (one verifier per trainer, as Kasmina's).
      for (const got of [gotA, gotB]) {
        const verifier = commandSigner();
        for (const command of got) expect(verifier.verify(command)).toEqual({ ok: true });
      }
      expect(a.remote.stats()).toMatchObject({ requests: 10, answered: 10, timeouts: 0 });
    });

    it('times out into a signed PAUSE and ignores the late answer; drops a request whose deadline passed', async () => {
      prefix = target.prefix();
      const seen: string[] = [];
      const { svc } = await service({ concurrency: 1 }, () => recording(heuristic(), seen, 400));
      const a = await trainer('run-a', { timeoutMs: 150 });

      const started = Date.now();
      const command = await a.remote.evaluateEpoch(runPacket('run-a', { epoch: 0, acc: 50 }));
      expect(Date.now() - started).toBeLessThan(400);
      expect(command.commandType).toBe(CommandType.COMMAND_PAUSE);
      expect(command.annotations).toMatchObject({ reason: 'timeout_remote', decision: 'wait' });
      expect(commandSigner().verify(command)).toEqual({ ok: true });
      await until('the late answer', () => a.remote.stats().ignored === 1);
      expect(a.remote.stats()).toMatchObject({ timeouts: 1, answered: 0 });
      expect(svc.stats()).toMatchObject({ decided: 1, late: 1 });

      // A request already past its deadline is dropped, unanswered, and its controller never sees it.
      const expired = runPacket('run-a', { epoch: 1, acc: 50 });
      await a.client.publishMessage(SystemStatePacketSchema, expired, {
        stream: `${prefix}tamiyo.requests`,
        attributes: requestAttributes(a.remote.replyStream, expired.packetId, Date.now() - 1, 'epoch'),
      });
      await until('the expired request', () => svc.stats().expired === 1);
      expect(seen).toEqual(['run-a#0']);
      expect(await a.client.streamLength(a.remote.replyStream)).toBe(1);
    });

    it('answers a duplicated request with the same command, decided once; the executor refuses the replay', async () => {
      prefix = target.prefix();
      const seen: string[] = [];
      const { svc } = await service({}, () => recording(heuristic(), seen));
      const a = await trainer('run-a');
      const reader = await oona('reader');
      await reader.ensureGroups({ streams: [a.remote.replyStream] });

      const p = runPacket('run-a', { epoch: 0, acc: 50 });
      const attributes = requestAttributes(a.remote.replyStream, p.packetId, Date.now() + 5_000, 'epoch');
      // Oona delivers at least once: the same envelope twice (a resend, a redelivery).
      for (let i = 0; i < 2; i++) await a.client.publishMessage(SystemStatePacketSchema, p, { stream: `${prefix}tamiyo.requests`, attributes });
      await until('both deliveries', () => svc.stats().received === 2);
      await until('two answers', async () => (await a.client.streamLength(a.remote.replyStream)) === 2);
      expect(svc.stats()).toMatchObject({ decided: 1, duplicates: 1 });
      expect(seen).toEqual(['run-a#0']);

      const answers: AdaptationCommand[] = [];
      await reader.consume(AdaptationCommandSchema, (c, d) => {
        expect(d.attributes[REMOTE_ATTRIBUTES.correlationId]).toBe(p.packetId);
        answers.push(c);
      }, { stream: a.remote.replyStream, count: 10 });
      expect(answers).toHaveLength(2);
      expect(answers[1]!.commandId).toBe(answers[0]!.commandId);
      const executor = commandSigner();
      expect(executor.verify(answers[0]!)).toEqual({ ok: true });
      expect(executor.verify(answers[1]!)).toEqual({ ok: false, reason: 'nonce_replayed' });
      // The trainer had no call waiting for them: both are ignored.
      await until('the answers read', () => a.remote.stats().ignored === 2);
    });

    it('a restarted service does not answer a request its crashed predecessor read: it comes back past its deadline', async () => {
      prefix = target.prefix();
      const seen: string[] = [];
      // The crashed replica: it read the request (pending in the group) and died before acknowledging it.
      const crashed = await target.backend();
      open.push(crashed);
      const a = await trainer('run-a', { timeoutMs: 200 });
      const requests = `${prefix}tamiyo.requests`;
      await crashed.createGroup(requests, 'tamiyo').catch(() => undefined);
      const pending = a.remote.evaluateEpoch(runPacket('run-a', { epoch: 0, acc: 50 }));
      await until('the request on the stream', async () => (await crashed.length(requests)) === 1);
      expect(await crashed.readGroup(requests, 'tamiyo', 'crashed', { count: 10 })).toHaveLength(1);
      expect((await pending).annotations.reason).toBe('timeout_remote');

      // The replacement claims entries idle for 300 ms: the request comes back, expired.
      const { svc } = await service({}, () => recording(heuristic(), seen), 'tamiyo', { retryIdleMs: 300 });
      await until('the redelivery', () => svc.stats().expired === 1);
      expect(svc.stats()).toMatchObject({ received: 1, decided: 0 });
      expect(seen).toEqual([]);
      expect(await a.client.streamLength(a.remote.replyStream)).toBe(0);
      // It serves new requests as usual.
      const next = await a.remote.evaluateEpoch(runPacket('run-a', { epoch: 1, acc: 50 }));
      expect(next.annotations.controller).toBe('heuristic');
      expect(seen).toEqual(['run-a#1']);
    });

    it('answers PAUSE with the error when the controller throws; the trainer sees a failed call', async () => {
      prefix = target.prefix();
      const inner = heuristic();
      const failing: Controller = {
        evaluateStep: (p) => inner.evaluateStep(p),
        evaluateEpoch: () => Promise.reject(new Error('policy exploded')),
        ingestPolicyUpdate: () => inner.ingestPolicyUpdate(),
        flush: () => inner.flush(),
      };
      const { svc } = await service({}, () => failing);
      const a = await trainer('run-a');
      const error = await a.remote.evaluateEpoch(runPacket('run-a', { epoch: 0, acc: 50 })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RemoteDecisionError);
      expect((error as RemoteDecisionError).reason).toBe('failed');
      expect((error as Error).message).toContain('policy exploded');
      expect(svc.stats().failed).toBe(1);
    });

    it('stops gracefully: admitted requests are answered before stop() resolves', async () => {
      prefix = target.prefix();
      const seen: string[] = [];
      const { svc } = await service({ concurrency: 2 }, () => recording(heuristic(), seen, 150));
      const a = await trainer('run-a');
      const b = await trainer('run-b');
      const calls = [a.remote.evaluateEpoch(runPacket('run-a', { epoch: 0, acc: 50 })), b.remote.evaluateEpoch(runPacket('run-b', { epoch: 0, acc: 50 }))];
      await until('both admitted', () => svc.stats().received === 2);
      await svc.stop();
      expect(svc.stats()).toMatchObject({ decided: 2, pending: 0, runs: 0 });
      const answered = await Promise.all(calls);
      expect(answered.map((c) => c.annotations.controller)).toEqual(['heuristic', 'heuristic']);
    });

    it('serves requests and reads answers that Oona rerouted to the emergency stream', async () => {
      prefix = target.prefix();
      const { svc } = await service({}, () => heuristic());
      const a = await trainer('run-a');
      // A request rerouted by the trainer's client (conservative mode, backlog): it lands on the emergency stream.
      const p = runPacket('run-a', { epoch: 0, acc: 50 });
      await a.client.publishMessage(SystemStatePacketSchema, p, {
        emergency: true,
        attributes: requestAttributes(a.remote.replyStream, p.packetId, Date.now() + 5_000, 'epoch'),
      });
      await until('the answer', async () => (await a.client.streamLength(a.remote.replyStream)) === 1);
      expect(svc.stats()).toMatchObject({ received: 1, decided: 1 });
      await svc.stop();

      // An answer rerouted by the service's client: the trainer takes it from the emergency stream.
      const fakeService = await oona('fake-service');
      await fakeService.ensureGroups({ streams: [`${prefix}tamiyo.requests`] });
      const call = a.remote.evaluateEpoch(runPacket('run-a', { epoch: 1, acc: 50 }));
      let answered = 0;
      await until('the request', async () => {
        answered += await fakeService.consume(
          SystemStatePacketSchema,
          async (packet, delivery) => {
            const request = parseRequest(packet, delivery.attributes)!;
            const command = commandSigner().sign(remotePauseCommand(packet.currentEpoch, 'service_error'));
            await fakeService.publishMessage(AdaptationCommandSchema, command, { emergency: true, attributes: replyAttributes(request, 'decided') });
          },
          { stream: `${prefix}tamiyo.requests` },
        );
        return answered === 1;
      });
      expect((await call).annotations).toMatchObject({ epoch: '1', controller: 'remote' });
      expect(a.remote.stats()).toMatchObject({ answered: 1, timeouts: 0 });
    });

    it('keeps at most maxRuns controllers: the least recently used idle one is flushed and closed', async () => {
      prefix = target.prefix();
      const closed: string[] = [];
      const made: string[] = [];
      const svc = new TamiyoService({
        oona: await oona('tamiyo'),
        signer: commandSigner(),
        clock,
        options: { requestStream: `${prefix}tamiyo.requests`, maxRuns: 1 },
        controllers: (runId) => {
          made.push(runId);
          return { controller: heuristic(), close: () => void closed.push(runId) };
        },
      });
      await svc.start();
      open.push(svc);
      const a = await trainer('run-a');
      const b = await trainer('run-b');
      await a.remote.evaluateEpoch(runPacket('run-a', { epoch: 0, acc: 50 }));
      await b.remote.evaluateEpoch(runPacket('run-b', { epoch: 0, acc: 50 }));
      await a.remote.evaluateEpoch(runPacket('run-a', { epoch: 1, acc: 50 }));
      expect(made).toEqual(['run-a', 'run-b', 'run-a']);
      await until('the closes', () => closed.length === 2);
      expect(closed).toEqual(['run-a', 'run-b']);
      expect(svc.stats().runs).toBe(1);
      await svc.stop();
      expect(closed).toEqual(['run-a', 'run-b', 'run-a']);
    });

    it('refuses to start without a shared signing secret', async () => {
      prefix = target.prefix();
      const remote = new RemoteController({ oona: await oona('t'), signer: commandSigner(true), clock, runId: 'r' });
      await expect(remote.start()).rejects.toMatchObject({ code: 'ESPER_TAMIYO_REMOTE_SIGNING' });
      const svc = new TamiyoService({ oona: await oona('s'), signer: commandSigner(true), clock, controllers: () => ({ controller: heuristic() }) });
      await expect(svc.start()).rejects.toMatchObject({ code: 'ESPER_TAMIYO_REMOTE_SIGNING' });
    });
  });
}

