// Telemetry and reply-stream housekeeping of the Tamiyo service (decision 0061), on the memory
// broker with a manual clock: real Oona clients, heuristic controllers, core's signing. The
// run's Telemetry is a recording implementation of the port (what a sink receives).
import { CommandVerifier, LeylineSigner, ManualClock, signCommand, type CommandSigner, type Telemetry } from '@esper/core';
import { OonaClient } from '@esper/core/oona';
import { MessagePriority, SystemStatePacketSchema, TelemetryLevel, type SystemStatePacket, type TelemetryPacket } from '@esper/core/leyline';
import { MemoryBroker } from '@esper/plugin-oona-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { HeuristicController, RemoteController, requestAttributes, REPLY_STREAM_EXPIRED_EVENT, SERVICE_DEGRADED_EVENT, TamiyoService, type ServiceOptions } from '../src/index.js';
import { packet } from './packets.js';

const SECRET = 'service-telemetry-test-secret';

function commandSigner(clock: ManualClock): CommandSigner {
  const signer = new LeylineSigner(SECRET);
  const verifier = new CommandVerifier({ signer, clock });
  return { ephemeral: false, sign: (c) => signCommand(c, signer, { clock }), verify: (c) => verifier.verify(c) };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function runPacket(runId: string, epoch: number): SystemStatePacket {
  const p = packet({ epoch, acc: 50 });
  p.trainingRunId = runId;
  p.packetId = `${runId}-epoch-${epoch}`;
  return p;
}

/** The value of metric `name` (with `attributes` among its attributes) in `packet`. */
function metric(packet: TelemetryPacket, name: string, attributes: Record<string, string> = {}): number | undefined {
  return packet.metrics.find((m) => m.name === name && Object.entries(attributes).every(([k, v]) => m.attributes[k] === v))?.value;
}

describe('tamiyo service telemetry and reply-stream housekeeping (memory broker)', () => {
  const open: Array<{ close(): Promise<void> } | { stop(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await ('stop' in o ? o.stop() : o.close()).catch(() => undefined);
  });

  async function setup(options: Partial<ServiceOptions>) {
    const clock = new ManualClock();
    const broker = new MemoryBroker(clock);
    const oona = async (group: string) => {
      const client = new OonaClient({ backend: broker.backend(), clock, signer: new LeylineSigner(SECRET), settings: { group, consumer: `${group}-1`, retryBackoffMs: 0 } });
      await client.ensureGroups();
      open.push(client);
      return client;
    };
    const sent: Array<{ packet: TelemetryPacket; priority: MessagePriority }> = [];
    const telemetry: Telemetry = {
      emit: (p, priority) => (sent.push({ packet: p, priority }), Promise.resolve()),
      flush: () => Promise.resolve(),
    };
    const serviceOona = await oona('tamiyo');
    const svc = new TamiyoService({
      oona: serviceOona,
      signer: commandSigner(clock),
      clock,
      telemetry,
      // Timers off: the tests call emitTelemetry() and housekeeping() themselves.
      options: { telemetryIntervalMs: 0, housekeepingIntervalMs: 0, ...options },
      controllers: () => ({ controller: new HeuristicController({ options: { blueprintRotation: ['BP001'] }, signer: commandSigner(clock), clock }) }),
    });
    await svc.start();
    open.push(svc);
    const trainer = async (runId: string) => {
      const client = await oona(`trainer-${runId}`);
      const remote = new RemoteController({ oona: client, signer: commandSigner(clock), clock, runId });
      await remote.start();
      open.push(remote);
      return { remote, client };
    };
    return { clock, svc, sent, trainer, oona, serviceOona };
  }

  it('Oona trimStream keeps to the housekeeping rules on a stream outside the catalogue; deleteStream removes it', async () => {
    const { clock, oona } = await setup({});
    const writer = await oona('writer');
    const reader = await oona('reader');
    await reader.ensureGroups({ streams: ['own.stream'] });
    for (let epoch = 0; epoch < 5; epoch++) await writer.publishMessage(SystemStatePacketSchema, runPacket('x', epoch), { stream: 'own.stream' });
    // Nothing read yet: neither age nor length may remove an entry the reader's group needs.
    clock.advance(10_000);
    expect(await writer.trimStream!('own.stream', { ttlMs: 1_000, maxLength: 2 })).toBe(0);
    const read: number[] = [];
    await reader.consume(SystemStatePacketSchema, (p) => void read.push(p.currentEpoch), { stream: 'own.stream', count: 2 });
    expect(read).toEqual([0, 1]);
    // The cap would remove three; the group has read two, so two go.
    expect(await writer.trimStream!('own.stream', { maxLength: 2 })).toBe(2);
    expect(await writer.streamLength('own.stream')).toBe(3);
    await writer.deleteStream!('own.stream');
    expect(await writer.streamLength('own.stream')).toBe(0);
  });

  it('emits a packet every N requests and on demand: totals, queue depth, runs, per-run controllers, decision latency', async () => {
    const { svc, sent, trainer } = await setup({ telemetryEveryRequests: 3 });
    const a = await trainer('run-a');
    const b = await trainer('run-b');
    for (let epoch = 0; epoch < 3; epoch++) await a.remote.evaluateEpoch(runPacket('run-a', epoch));
    // The third request's arrival emits the first packet, before it is decided.
    await until('the first packet', () => sent.length === 1);
    const first = sent[0]!.packet;
    expect(first.packetId).toBe('tamiyo-service-1');
    expect(first.sourceSubsystem).toBe('tamiyo');
    expect(metric(first, 'tamiyo.service.requests_total')).toBe(3);
    expect(metric(first, 'tamiyo.service.answered_total')).toBe(2);
    expect(metric(first, 'tamiyo.service.decisions_window')).toBe(2);
    expect(metric(first, 'tamiyo.service.decision_ms', { stat: 'p99' })).toBeGreaterThanOrEqual(0);

    await b.remote.evaluateEpoch(runPacket('run-b', 0));
    // The trainer may read its answer before the service's lane lets go of the request.
    await until('the queue empty', () => svc.stats().pending === 0);
    await svc.emitTelemetry();
    expect(sent).toHaveLength(2);
    const { packet: second, priority } = sent[1]!;
    expect(second.packetId).toBe('tamiyo-service-2');
    expect(priority).toBe(MessagePriority.NORMAL);
    expect(second.systemHealth?.indicators).toMatchObject({ queue_depth: '0', runs: '2', priority: 'MESSAGE_PRIORITY_NORMAL' });
    expect({
      requests: metric(second, 'tamiyo.service.requests_total'),
      answered: metric(second, 'tamiyo.service.answered_total'),
      decided: metric(second, 'tamiyo.service.decided_total'),
      expired: metric(second, 'tamiyo.service.expired_total'),
      duplicates: metric(second, 'tamiyo.service.duplicates_total'),
      queue: metric(second, 'tamiyo.service.queue_depth'),
      runs: metric(second, 'tamiyo.service.runs'),
      window: metric(second, 'tamiyo.service.decisions_window'),
      runA: metric(second, 'tamiyo.service.run.decisions', { training_run_id: 'run-a' }),
      runB: metric(second, 'tamiyo.service.run.decisions', { training_run_id: 'run-b' }),
    }).toEqual({ requests: 4, answered: 4, decided: 4, expired: 0, duplicates: 0, queue: 0, runs: 2, window: 2, runA: 3, runB: 1 });
    const p50 = metric(second, 'tamiyo.service.decision_ms', { stat: 'p50' })!;
    expect(p50).toBeLessThanOrEqual(metric(second, 'tamiyo.service.decision_ms', { stat: 'max' })!);
    expect(second.events).toEqual([]);

    // Stopping emits a last packet.
    await svc.stop();
    expect(sent).toHaveLength(3);
    expect(metric(sent[2]!.packet, 'tamiyo.service.decisions_window')).toBe(0);
    expect(metric(sent[2]!.packet, 'tamiyo.service.decision_ms', { stat: 'p50' })).toBeUndefined();
  });

  it('a window with expired requests warns (service_degraded) at HIGH priority; duplicates are counted', async () => {
    const { clock, svc, sent, trainer } = await setup({});
    const a = await trainer('run-a');
    const p = runPacket('run-a', 0);
    const attributes = requestAttributes(a.remote.replyStream, p.packetId, clock.nowMs() + 5_000, 'epoch');
    for (let i = 0; i < 2; i++) await a.client.publishMessage(SystemStatePacketSchema, p, { stream: 'tamiyo.requests', attributes });
    const late = runPacket('run-a', 1);
    await a.client.publishMessage(SystemStatePacketSchema, late, { stream: 'tamiyo.requests', attributes: requestAttributes(a.remote.replyStream, late.packetId, clock.nowMs() - 1, 'epoch') });
    await until('three deliveries', () => svc.stats().received === 3);
    await svc.emitTelemetry();
    const { packet: out, priority } = sent[0]!;
    expect(priority).toBe(MessagePriority.HIGH);
    expect(metric(out, 'tamiyo.service.duplicates_total')).toBe(1);
    expect(metric(out, 'tamiyo.service.expired_total')).toBe(1);
    expect(out.events.map((e) => [e.description, e.level, { ...e.attributes }])).toEqual([
      [SERVICE_DEGRADED_EVENT, TelemetryLevel.WARNING, { expired: '1', late: '0', failed: '0', unsent: '0' }],
    ]);
    // The next window saw nothing go wrong: no warning.
    await svc.emitTelemetry();
    expect(sent[1]!.priority).toBe(MessagePriority.NORMAL);
    expect(sent[1]!.packet.events).toEqual([]);
  });

  it('trims read answers older than replyTtlMs, keeps unread ones, deletes reply streams idle past replyStreamIdleMs; the trainer recovers', async () => {
    const { clock, svc, sent, trainer, oona, serviceOona } = await setup({ replyTtlMs: 60_000, replyStreamIdleMs: 3_600_000 });
    const a = await trainer('run-a');
    for (let epoch = 0; epoch < 2; epoch++) await a.remote.evaluateEpoch(runPacket('run-a', epoch));
    // A trainer whose group exists but that reads nothing: its answer stays unread.
    const deaf = await oona('trainer-deaf');
    await deaf.ensureGroups({ streams: ['tamiyo.replies.deaf'] });
    const q = runPacket('deaf', 0);
    await deaf.publishMessage(SystemStatePacketSchema, q, { stream: 'tamiyo.requests', attributes: requestAttributes('tamiyo.replies.deaf', q.packetId, clock.nowMs() + 5_000, 'epoch') });
    // A request naming a catalogue stream as its reply stream: answered there, never housekept.
    const r = runPacket('odd', 0);
    await deaf.publishMessage(SystemStatePacketSchema, r, { stream: 'tamiyo.requests', attributes: requestAttributes('oona.normal', r.packetId, clock.nowMs() + 5_000, 'epoch') });
    await until('all answered', () => svc.stats().answered === 4);
    expect(svc.stats().replyStreams).toBe(2);

    // Young answers stay.
    expect(await svc.housekeeping()).toEqual({ trimmed: 0, deleted: [] });
    clock.advance(120_000);
    expect(await svc.housekeeping()).toEqual({ trimmed: 2, deleted: [] });
    expect(await serviceOona.streamLength(a.remote.replyStream)).toBe(0);
    expect(await serviceOona.streamLength('tamiyo.replies.deaf')).toBe(1);

    clock.advance(3_600_000);
    const { deleted } = await svc.housekeeping();
    expect([...deleted].sort()).toEqual([a.remote.replyStream, 'tamiyo.replies.deaf'].sort());
    expect(await serviceOona.streamLength('tamiyo.replies.deaf')).toBe(0);
    expect(await serviceOona.streamLength('oona.normal')).toBeGreaterThan(0);
    expect(svc.stats()).toMatchObject({ replyStreams: 0, replyStreamsDeleted: 2, replyEntriesTrimmed: 2 });
    await svc.emitTelemetry();
    const out = sent[sent.length - 1]!.packet;
    expect(out.events.filter((e) => e.description === REPLY_STREAM_EXPIRED_EVENT).map((e) => e.attributes.stream).sort()).toEqual([a.remote.replyStream, 'tamiyo.replies.deaf'].sort());
    expect(metric(out, 'tamiyo.service.reply_streams_expired_total')).toBe(2);
    expect(metric(out, 'tamiyo.service.reply_entries_trimmed_total')).toBe(2);

    // The trainer was only idle: its reader makes the group again and the next answer arrives.
    await until('the reply group made again', async () => (await serviceOona.streamLength(a.remote.replyStream)) === 0 && (await a.client.backlog(a.remote.replyStream).then(() => true, () => false)));
    const next = await a.remote.evaluateEpoch(runPacket('run-a', 2));
    expect(next.annotations.controller).toBe('heuristic');
    expect(svc.stats().replyStreams).toBe(1);
  });
});
