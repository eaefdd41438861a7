import { createHmac } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../kernel/ports/clock.js';
import type { OonaMessage, PublishBatchItem, PublishResult } from '../kernel/ports/oona.js';
import type { Signer } from '../kernel/ports/signer.js';
import {
  BusEnvelopeSchema,
  BusMessageType,
  EmergencyLevel,
  EmergencySignalSchema,
  FieldReportSchema,
  KernelArtifactErrorSchema,
  KernelArtifactReadySchema,
  KernelPrefetchRequestSchema,
  MessagePriority,
  PolicyUpdateSchema,
  SystemHealthSchema,
  SystemStatePacketSchema,
  TelemetryEventSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
} from '../leyline/index.js';
import type { StreamBackend } from '../oona/backend.js';
import { OonaClient } from '../oona/client.js';
import { OonaCatalogueStreamError, OonaUnroutableError } from '../oona/errors.js';
import { FaultInjectingBackend } from '../oona/faults.js';
import { OONA_COUNTERS, OONA_GAUGES } from '../oona/metrics.js';
import type { OonaSettingsInput } from '../oona/settings.js';
import { LeylineSigner } from '../security/signer.js';
import { PYTHON_EMERGENCY_ENVELOPE_HEX, PYTHON_EMERGENCY_SIGNATURE, PYTHON_FIXTURE_SECRET } from './oona-fixtures.js';

/** What a plugin gives the contract suite for one test. */
export interface OonaContractTarget {
  /**
   * A new backend on the store shared by this test (the same broker, the same server): each
   * call is a separate "connection", so several clients see the same streams.
   */
  backend(): StreamBackend | Promise<StreamBackend>;
  /**
   * Lets `ms` of backend time pass (claim idle times). The suite has already advanced the
   * injected clock; an in-memory backend on that clock needs nothing more, a real server sleeps.
   */
  elapse?(ms: number): Promise<void>;
  /** Removes what the test created (streams) and releases resources. */
  cleanup(): Promise<void>;
}

/** Context the suite gives a factory: the injected clock (also the memory broker's) and a unique stream prefix. */
export interface OonaContractContext {
  readonly clock: ManualClock;
  /** Prefix for every stream name of the test, e.g. `c42-7:`. */
  readonly prefix: string;
}

/** Makes a target for one test. */
export type OonaContractFactory = (ctx: OonaContractContext) => Promise<OonaContractTarget>;

/** Options of {@link describeOonaContract}. */
export interface OonaContractOptions {
  /** Seed for the suite's pseudo-random choices (default 42). */
  readonly seed?: number;
  /** Milliseconds of claim idle time used by redelivery scenarios (default 40; real servers sleep this long). */
  readonly idleMs?: number;
  /** Skips the suite (e.g. when the server is unreachable and not required). */
  readonly skip?: boolean;
}

const SECRET = 'contract-secret';

/** Mulberry32: a tiny seeded PRNG so that the suite's random choices are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** A minimal, independent protobuf reader (varint and length-delimited fields only). */
function readFields(bytes: Uint8Array): Array<{ field: number; varint?: bigint; bytes?: Uint8Array }> {
  const out: Array<{ field: number; varint?: bigint; bytes?: Uint8Array }> = [];
  let i = 0;
  const varint = (): bigint => {
    let shift = 0n;
    let value = 0n;
    for (;;) {
      const b = bytes[i++];
      if (b === undefined) throw new Error('truncated varint');
      value |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value;
      shift += 7n;
    }
  };
  while (i < bytes.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, varint: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, bytes: bytes.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

const utf8 = new TextDecoder();

/**
 * The Oona contract suite: every Oona plugin must pass it. It runs the reference's acceptance
 * scenarios (spec §1.18, adjusted where Esper fixes a reference defect, see docs/decisions),
 * the derived scenarios and the port's own guarantees (redelivery, at-least-once, ordering,
 * dead letter, signatures, emergency limits, safe trimming, graceful stop) against the
 * backend the factory makes.
 *
 * @example
 * ```ts
 * describeOonaContract('memory', async ({ clock }) => {
 *   const broker = new MemoryBroker(clock);
 *   return { backend: () => broker.backend(), cleanup: async () => {} };
 * });
 * ```
 */
export function describeOonaContract(name: string, factory: OonaContractFactory, options: OonaContractOptions = {}): void {
  const idleMs = options.idleMs ?? 40;
  let testNo = 0;

  describe.skipIf(options.skip === true)(`Oona contract: ${name}`, () => {
    let clock: ManualClock;
    let target: OonaContractTarget;
    let prefix: string;
    let clients: OonaClient[];
    let raw: StreamBackend;

    const stream = (n: string): string => `${prefix}oona.${n}`;

    beforeEach(async () => {
      testNo += 1;
      clock = new ManualClock(Date.now());
      prefix = `c${options.seed ?? 42}-${process.pid}-${testNo}-${Date.now() % 100_000}:`;
      target = await factory({ clock, prefix });
      raw = await target.backend();
      clients = [];
    });

    afterEach(async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      await raw.close();
      await target.cleanup();
    });

    async function client(
      settings: Partial<OonaSettingsInput> = {},
      extra: { signer?: Signer; ensure?: boolean } = {},
    ): Promise<{ oona: OonaClient; faults: FaultInjectingBackend }> {
      const faults = new FaultInjectingBackend(await target.backend());
      const oona = new OonaClient({
        backend: faults,
        clock,
        ...(extra.signer ? { signer: extra.signer } : {}),
        settings: {
          normalStream: stream('normal'),
          emergencyStream: stream('emergency'),
          telemetryStream: stream('telemetry'),
          policyStream: stream('policy'),
          kernelRequestStream: stream('kernels.requests'),
          kernelReadyStream: stream('kernels.ready'),
          kernelErrorStream: stream('kernels.errors'),
          deadLetterStream: stream('deadletter'),
          group: 'oona-test',
          consumer: `consumer-${clients.length + 1}`,
          retryBackoffMs: 0,
          publishRetryBufferSize: 0,
          messageTtlMs: null,
          ...settings,
        },
      });
      clients.push(oona);
      if (extra.ensure !== false) await oona.ensureGroups();
      return { oona, faults };
    }

    async function elapse(ms: number): Promise<void> {
      clock.advance(ms);
      await target.elapse?.(ms);
    }

    const state = (step = 0): Uint8Array =>
      toBinary(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: BigInt(step) }));

    const telemetry = (level = TelemetryLevel.INFO): Uint8Array =>
      toBinary(TelemetryPacketSchema, create(TelemetryPacketSchema, { packetId: 'p-1', sourceSubsystem: 'test', level }));

    const request = (id: string, issuedMs: number | undefined): Uint8Array =>
      toBinary(
        KernelPrefetchRequestSchema,
        create(KernelPrefetchRequestSchema, {
          requestId: id,
          blueprintId: 'bp-1',
          trainingRunId: 'run-1',
          ...(issuedMs !== undefined ? { issuedAt: timestampFromMs(issuedMs) } : {}),
        }),
      );

    const signal = (reason = 'loss_spike') =>
      create(EmergencySignalSchema, { version: 1, level: EmergencyLevel.HALT, reason, origin: 'tolaria' });

    const collect = (): { seen: OonaMessage[]; handler: (m: OonaMessage) => void } => {
      const seen: OonaMessage[] = [];
      return { seen, handler: (m) => void seen.push(m) };
    };

    const failing = (): void => {
      throw new Error('handler failure');
    };

    // ---------------------------------------------------------------- reference scenarios (§1.18)

    it('1. round trip: a state packet reaches the handler and nothing stays pending', async () => {
      const { oona } = await client({ maxStreamLength: 50, emergencyThreshold: 10 });
      expect(await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1 }))).toBe(true);
      const { seen, handler } = collect();
      expect(await oona.consume(handler)).toBe(1);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.messageType).toBe(BusMessageType.SYSTEM_STATE);
      expect(seen[0]!.attempt).toBe(1);
      expect(fromBinary(SystemStatePacketSchema, seen[0]!.payload).version).toBe(1);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    it('2. kernel request and backpressure: drops once the unconsumed backlog reaches the threshold', async () => {
      const { oona } = await client({ backpressureDropThreshold: 2 });
      const now = clock.nowMs();
      expect(await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-1', now))).toBe(true);
      const { seen, handler } = collect();
      await oona.consume(handler, { stream: oona.streams.kernelRequests });
      expect(seen.map((m) => fromBinary(KernelPrefetchRequestSchema, m.payload).requestId)).toEqual(['req-1']);
      // Decision 0033: the backlog is unconsumed work, not XLEN, so acknowledged entries do not count.
      expect(await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-2', now))).toBe(true);
      expect(await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-3', now))).toBe(true);
      expect(await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-4', now))).toBe(false);
      expect(await oona.streamLength(oona.streams.kernelRequests)).toBe(3);
    });

    it('3. backlog reroute: over the emergency threshold normal traffic goes to the emergency stream', async () => {
      const { oona } = await client({ emergencyThreshold: 1 });
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state())).toBe(true);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state())).toBe(true);
      expect(await oona.streamLength(stream('normal'))).toBe(1);
      expect(await oona.streamLength(stream('emergency'))).toBe(1);
    });

    it('4. length cap: housekeeping trims consumed entries down to maxStreamLength exactly', async () => {
      const { oona } = await client({ maxStreamLength: 5 });
      for (let i = 0; i < 10; i++) expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(i))).toBe(true);
      await oona.consume(() => undefined, { count: 10 });
      const removed = await oona.housekeeping();
      expect(removed[stream('normal')]).toBe(5);
      expect(await oona.streamLength(stream('normal'))).toBe(5);
    });

    it('5. telemetry without priority lands on the telemetry stream', async () => {
      const { oona } = await client();
      expect(await oona.publish(BusMessageType.TELEMETRY, telemetry())).toBe(true);
      expect(await oona.streamLength(stream('telemetry'))).toBe(1);
      expect(await oona.streamLength(stream('emergency'))).toBe(0);
    });

    it('6. CRITICAL telemetry goes to the emergency stream, not telemetry', async () => {
      const { oona } = await client();
      expect(await oona.publish(BusMessageType.TELEMETRY, telemetry(TelemetryLevel.CRITICAL), { priority: MessagePriority.CRITICAL })).toBe(true);
      expect(await oona.streamLength(stream('emergency'))).toBe(1);
      expect(await oona.streamLength(stream('telemetry'))).toBe(0);
    });

    it('7. a Tamiyo HIGH-priority packet goes to the emergency stream', async () => {
      const { oona } = await client();
      const packet = create(TelemetryPacketSchema, {
        packetId: 'tamiyo-1',
        sourceSubsystem: 'tamiyo',
        level: TelemetryLevel.WARNING,
        events: [create(TelemetryEventSchema, { description: 'timeout_inference', level: TelemetryLevel.WARNING })],
        systemHealth: create(SystemHealthSchema, { indicators: { priority: 'MESSAGE_PRIORITY_HIGH' } }),
      });
      expect(await oona.publishMessage(TelemetryPacketSchema, packet, { priority: MessagePriority.HIGH })).toBe(true);
      expect(await oona.streamLength(stream('emergency'))).toBe(1);
    });

    it('8. policy updates land on the policy stream', async () => {
      const { oona } = await client();
      const update = create(PolicyUpdateSchema, { version: 1, policyId: 'policy-1', payload: new Uint8Array([1, 2]) });
      expect(await oona.publishMessage(PolicyUpdateSchema, update)).toBe(true);
      expect(await oona.streamLength(stream('policy'))).toBe(1);
    });

    it('9. reroute metrics: publish_rerouted and queue_depth_max', async () => {
      const { oona } = await client({ emergencyThreshold: 2, maxStreamLength: 100 });
      for (let i = 0; i < 3; i++) expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(i))).toBe(true);
      expect(await oona.streamLength(stream('normal'))).toBe(2);
      expect(await oona.streamLength(stream('emergency'))).toBe(1);
      const m = await oona.metricsSnapshot();
      expect(m.publish_rerouted).toBe(1);
      expect(m.queue_depth_max).toBeGreaterThanOrEqual(2);
    });

    it('10. drop threshold: the sixth publish is dropped', async () => {
      const { oona } = await client({ backpressureDropThreshold: 5, maxStreamLength: 100 });
      for (let i = 0; i < 5; i++) expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(i))).toBe(true);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(6))).toBe(false);
      const m = await oona.metricsSnapshot();
      expect(m.publish_dropped).toBe(1);
      expect(m.queue_depth_normal).toBeGreaterThanOrEqual(5);
      // Decision 0030: backpressure is not a fault, the breaker stays closed.
      expect(oona.health().publishFailures).toBe(0);
    });

    it('11. retry then dead letter: attempt "1" requeued, then dead-lettered with attempt "2"', async () => {
      const { oona } = await client({ retryMaxAttempts: 2 });
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(1))).toBe(true);
      await oona.consume(failing);
      const [newest] = await raw.range(stream('normal'), '+', '-', 1, true);
      const envelope = fromBinary(BusEnvelopeSchema, newest!.fields.payload!);
      expect(envelope.attributes.attempt).toBe('1');
      await oona.consume(failing);
      expect(await oona.backlog(stream('normal'))).toBe(0);
      expect(await raw.pendingCount(stream('normal'), 'oona-test')).toBe(0);
      expect(await oona.streamLength(stream('deadletter'))).toBe(1);
      const [dead] = await raw.range(stream('deadletter'), '-', '+', 1);
      expect(fromBinary(BusEnvelopeSchema, dead!.fields.payload!).attributes.attempt).toBe('2');
      const m = await oona.metricsSnapshot();
      expect(m.dead_letter_total).toBe(1);
      expect(m.retry_total).toBe(1);
    });

    it('12. kernel ready and error streams deliver their payloads intact', async () => {
      const { oona } = await client();
      await oona.publishMessage(KernelArtifactReadySchema, create(KernelArtifactReadySchema, { requestId: 'req-42', artifactRef: 'urza://a' }));
      await oona.publishMessage(KernelArtifactErrorSchema, create(KernelArtifactErrorSchema, { requestId: 'req-43', reason: 'not found' }));
      const ready = collect();
      const errors = collect();
      await oona.consume(ready.handler, { stream: oona.streams.kernelReady });
      await oona.consume(errors.handler, { stream: oona.streams.kernelErrors });
      expect(fromBinary(KernelArtifactReadySchema, ready.seen[0]!.payload).artifactRef).toBe('urza://a');
      expect(fromBinary(KernelArtifactErrorSchema, errors.seen[0]!.payload).reason).toBe('not found');
    });

    it('13. a stale kernel request is acknowledged without calling the handler', async () => {
      const { oona } = await client({ kernelFreshnessWindowMs: 1_000 });
      expect(await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-old', clock.nowMs() - 5_000))).toBe(true);
      const { seen, handler } = collect();
      await oona.consume(handler, { stream: oona.streams.kernelRequests });
      expect(seen).toHaveLength(0);
      expect((await oona.metricsSnapshot()).kernel_stale_dropped).toBe(1);
      expect(await raw.pendingCount(oona.streams.kernelRequests, 'oona-test')).toBe(0);
    });

    it('14. replay suppression: the same request id is handled once', async () => {
      const { oona } = await client();
      const { seen, handler } = collect();
      await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-unique', clock.nowMs()));
      await oona.consume(handler, { stream: oona.streams.kernelRequests });
      clock.advance(10);
      await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-unique', clock.nowMs()));
      await oona.consume(handler, { stream: oona.streams.kernelRequests });
      expect(seen).toHaveLength(1);
      expect((await oona.metricsSnapshot()).kernel_replay_dropped).toBe(1);
    });

    it('15. TTL housekeeping removes an old foreign entry once it is consumed', async () => {
      const { oona } = await client({ messageTtlMs: 1 });
      await raw.append(stream('normal'), { payload: new TextEncoder().encode('old') }, { id: '0-1' });
      const { seen, handler } = collect();
      await oona.consume(handler);
      expect(seen).toHaveLength(0);
      expect((await oona.metricsSnapshot()).decode_rejected).toBe(1);
      const removed = await oona.housekeeping();
      expect(removed[stream('normal')]).toBeGreaterThanOrEqual(1);
      expect(removed[stream('deadletter')]).toBe(0);
    });

    it('16. publish breaker: an append error makes publish return false and is counted', async () => {
      const { oona, faults } = await client();
      faults.failNext('append');
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state())).toBe(false);
      const m = await oona.metricsSnapshot();
      expect(m.publish_errors).toBe(1);
      expect(oona.health().publishFailures).toBe(1);
    });

    it('17. metrics telemetry: oona.<key> metric points on the telemetry stream', async () => {
      const { oona } = await client();
      expect(await oona.emitMetricsTelemetry()).toBe(true);
      const { seen, handler } = collect();
      await oona.consume(handler, { stream: oona.streams.telemetry });
      const packet = fromBinary(TelemetryPacketSchema, seen[0]!.payload);
      const names = packet.metrics.map((p) => p.name);
      expect(names).toContain('oona.queue_depth_kernel_requests');
      expect(names).toContain('oona.publish_total');
      expect(names.every((n) => n.startsWith('oona.'))).toBe(true);
      expect(packet.packetId).toMatch(/^oona-[0-9a-f-]{36}$/);
    });

    it('18. emergency burst limit: at most emergencyMaxPerMin HIGH publishes pass', async () => {
      const { oona } = await client({ emergencyMaxPerMin: 5 });
      let ok = 0;
      for (let i = 0; i < 10; i++) {
        if (await oona.publish(BusMessageType.TELEMETRY, telemetry(TelemetryLevel.WARNING), { priority: MessagePriority.HIGH })) ok++;
      }
      expect(ok).toBe(5);
      const m = await oona.metricsSnapshot();
      expect(m.emergency_published).toBe(5);
      expect(m.emergency_rate_dropped).toBe(5);
      // One token refills after 60 s / 5.
      clock.advance(12_000);
      expect(await oona.publish(BusMessageType.TELEMETRY, telemetry(), { priority: MessagePriority.HIGH })).toBe(true);
      expect(await oona.publish(BusMessageType.TELEMETRY, telemetry(), { priority: MessagePriority.HIGH })).toBe(false);
    });

    // ---------------------------------------------------------------- derived scenarios (§1.18 21–25)

    it('21. a signed client rejects unsigned and tampered entries, counts them and calls no handler', async () => {
      const { oona } = await client({}, { signer: new LeylineSigner(SECRET) });
      const { oona: unsigned } = await client();
      await unsigned.publish(BusMessageType.SYSTEM_STATE, state(1));
      const envelope = toBinary(BusEnvelopeSchema, create(BusEnvelopeSchema, { messageType: BusMessageType.SYSTEM_STATE, payload: state(2) }));
      const good = new LeylineSigner(SECRET).sign(envelope);
      const tampered = Uint8Array.from(envelope);
      tampered[tampered.length - 1]! ^= 0x01;
      await raw.append(stream('normal'), { payload: tampered, signature: new TextEncoder().encode(good) });
      await raw.append(stream('normal'), { payload: envelope, signature: new TextEncoder().encode(new LeylineSigner('other').sign(envelope)) });
      const { seen, handler } = collect();
      await oona.consume(handler, { count: 10 });
      expect(seen).toHaveLength(0);
      expect((await oona.metricsSnapshot()).signature_rejected).toBe(3);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    // ---------------------------------------------------------------- what reaches a handler (issue 12)

    it('entries that are not messages never reach a handler: no payload field, UNSPECIFIED and unknown types are acknowledged as decode_rejected', async () => {
      const { oona } = await client();
      const envelopeOf = (messageType: number, payload: Uint8Array): Uint8Array =>
        toBinary(BusEnvelopeSchema, create(BusEnvelopeSchema, { messageType, payload }));
      await raw.append(stream('normal'), { other: new TextEncoder().encode('not oona') });
      await raw.append(stream('normal'), { payload: envelopeOf(BusMessageType.UNSPECIFIED, state(1)) });
      await raw.append(stream('normal'), { payload: new Uint8Array() });
      await raw.append(stream('normal'), { payload: envelopeOf(9_999, state(2)) });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(3));
      const { seen, handler } = collect();
      expect(await oona.consume(handler, { count: 10 })).toBe(1);
      expect(seen.map((m) => m.messageType)).toEqual([BusMessageType.SYSTEM_STATE]);
      const m = await oona.metricsSnapshot();
      expect(m.decode_rejected).toBe(4);
      expect(m.handler_failures).toBe(0);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    it('with a signer, an entry without a payload field is decode_rejected (not a signature failure) and acknowledged', async () => {
      const { oona } = await client({}, { signer: new LeylineSigner(SECRET) });
      await raw.append(stream('normal'), { signature: new TextEncoder().encode(new LeylineSigner(SECRET).sign(new Uint8Array())) });
      const { seen, handler } = collect();
      expect(await oona.consume(handler)).toBe(0);
      expect(seen).toHaveLength(0);
      const m = await oona.metricsSnapshot();
      expect(m.decode_rejected).toBe(1);
      expect(m.signature_rejected).toBe(0);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    it('typed receive: decode() gives the Leyline message of the delivered type', async () => {
      const { oona } = await client();
      await oona.publish(BusMessageType.SYSTEM_STATE, state(7), { attributes: { origin: 'tolaria' } });
      const steps: bigint[] = [];
      await oona.consume((m) => {
        if (m.messageType === BusMessageType.SYSTEM_STATE) steps.push(m.decode().globalStep);
      });
      expect(steps).toEqual([7n]);
    });

    it('typed consume: only the schema\'s type reaches the handler, decoded, with its delivery; others are skipped', async () => {
      const { oona } = await client();
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      await oona.publishMessage(FieldReportSchema, create(FieldReportSchema, { reportId: 'r-1' }));
      await oona.publish(BusMessageType.SYSTEM_STATE, state(2), { attributes: { origin: 'kasmina' } });
      const seen: Array<[bigint, string | undefined, number]> = [];
      const handled = await oona.consume(
        SystemStatePacketSchema,
        (packet, delivery) => void seen.push([packet.globalStep, delivery.attributes.origin, delivery.attempt]),
        { count: 10 },
      );
      expect(handled).toBe(2);
      expect(seen).toEqual([
        [1n, undefined, 1],
        [2n, 'kasmina', 1],
      ]);
      expect((await oona.metricsSnapshot()).consume_skipped).toBe(1);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    it('typed consume: a payload that does not decode as the schema is acknowledged as decode_rejected; failures retry as usual', async () => {
      const { oona } = await client({ retryMaxAttempts: 2 });
      const garbage = toBinary(BusEnvelopeSchema, create(BusEnvelopeSchema, { messageType: BusMessageType.SYSTEM_STATE, payload: new Uint8Array([0xff, 0xff, 0xff]) }));
      await raw.append(stream('normal'), { payload: garbage });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(4));
      let calls = 0;
      await oona.consume(SystemStatePacketSchema, () => {
        calls += 1;
        throw new Error('handler failure');
      });
      await oona.consume(SystemStatePacketSchema, () => {
        calls += 1;
        throw new Error('handler failure');
      });
      const m = await oona.metricsSnapshot();
      expect(calls).toBe(2);
      expect(m.decode_rejected).toBe(1);
      expect(m.handler_failures).toBe(2);
      expect(m.dead_letter_total).toBe(1);
    });

    it('typed subscribe reads the stream its type is published to and stops like any subscription', async () => {
      const { oona } = await client();
      const ids: string[] = [];
      let done!: () => void;
      const arrived = new Promise<void>((resolve) => (done = resolve));
      const sub = oona.subscribe(
        TelemetryPacketSchema,
        (packet) => {
          ids.push(packet.packetId);
          if (ids.length === 2) done();
        },
        { blockMs: 20 },
      );
      expect(sub.stream).toBe(stream('telemetry'));
      await oona.publish(BusMessageType.TELEMETRY, telemetry());
      await oona.publish(BusMessageType.TELEMETRY, telemetry(TelemetryLevel.WARNING));
      await arrived;
      await sub.stop();
      expect(ids).toEqual(['p-1', 'p-1']);
      expect(await oona.backlog(stream('telemetry'))).toBe(0);
      expect(() => oona.subscribe(BusEnvelopeSchema as never, () => undefined)).toThrow(OonaUnroutableError);
    });

    it('22. conservative mode: explicit emergencies do not stick; a backlog reroute ends when the backlog clears', async () => {
      const { oona } = await client({ emergencyThreshold: 1 });
      await oona.publish(BusMessageType.TELEMETRY, telemetry(), { priority: MessagePriority.CRITICAL });
      expect(oona.health().conservativeMode).toBe(false);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(1))).toBe(true);
      expect(await oona.streamLength(stream('normal'))).toBe(1);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(2))).toBe(true);
      expect(await oona.streamLength(stream('emergency'))).toBe(2);
      expect(oona.health().conservativeMode).toBe(true);
      await oona.consume(() => undefined);
      expect(await oona.publish(BusMessageType.TELEMETRY, telemetry())).toBe(true);
      expect(oona.health().conservativeMode).toBe(false);
      expect(await oona.streamLength(stream('telemetry'))).toBe(1);
    });

    it('23. publish breaker: opens after 3 failures, denies for its timeout (2 s by default), half-open trial closes it', async () => {
      const { oona, faults } = await client();
      faults.failAlways('append');
      for (let i = 0; i < 3; i++) expect(await oona.publish(BusMessageType.SYSTEM_STATE, state())).toBe(false);
      faults.heal();
      expect(oona.health().publishState).toBe(2);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state())).toBe(false);
      clock.advance(1_999);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state())).toBe(false);
      expect((await oona.metricsSnapshot()).breaker_publish_open).toBe(2);
      clock.advance(1);
      // The trial publish (HALF_OPEN) goes through; its success closes the breaker and ends conservative mode.
      expect(oona.health().conservativeMode).toBe(true);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state())).toBe(true);
      expect(oona.health().publishState).toBe(1);
      expect(oona.health().conservativeMode).toBe(false);
      expect(await oona.streamLength(stream('normal'))).toBe(1);
      expect(await oona.streamLength(stream('emergency'))).toBe(0);
    });

    it('24. a failed kernel request is retried, not dropped as a replay of itself', async () => {
      const { oona } = await client();
      await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-retry', clock.nowMs()));
      const seen: number[] = [];
      const handler = (m: OonaMessage): void => {
        seen.push(m.attempt);
        if (m.attempt === 1) throw new Error('first run fails');
      };
      await oona.consume(handler, { stream: oona.streams.kernelRequests });
      await oona.consume(handler, { stream: oona.streams.kernelRequests });
      expect(seen).toEqual([1, 2]);
      expect((await oona.metricsSnapshot()).kernel_replay_dropped).toBe(0);
      // Once handled, the id is remembered.
      await oona.publish(BusMessageType.KERNEL_PREFETCH_REQUEST, request('req-retry', clock.nowMs()));
      await oona.consume(handler, { stream: oona.streams.kernelRequests });
      expect(seen).toHaveLength(2);
    });

    it('25. a group created after entries were appended does not receive them', async () => {
      const { oona } = await client();
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      const { oona: late } = await client({ group: 'late-group' });
      const { seen, handler } = collect();
      expect(await late.consume(handler)).toBe(0);
      await oona.publish(BusMessageType.SYSTEM_STATE, state(2));
      await late.consume(handler);
      expect(seen.map((m) => fromBinary(SystemStatePacketSchema, m.payload).globalStep)).toEqual([2n]);
    });

    // ---------------------------------------------------------------- §6.5 extras

    it('signed round trip between two clients sharing a secret; an unsigned client accepts signed entries', async () => {
      const { oona: a } = await client({}, { signer: new LeylineSigner(SECRET) });
      const { oona: b } = await client({ group: 'other' }, { signer: new LeylineSigner(SECRET) });
      const { oona: plain } = await client({ group: 'plain' });
      await a.publish(BusMessageType.SYSTEM_STATE, state(7));
      const fromB = collect();
      const fromPlain = collect();
      await b.consume(fromB.handler);
      await plain.consume(fromPlain.handler);
      expect(fromB.seen).toHaveLength(1);
      expect(fromPlain.seen).toHaveLength(1);
    });

    it('wire format: payload = envelope bytes (independent decoder), signature = base64 HMAC-SHA256 of them', async () => {
      const { oona } = await client({}, { signer: new LeylineSigner(SECRET) });
      await oona.publishEmergencySignal(signal('grad_explosion'));
      const [entry] = await raw.range(stream('emergency'), '-', '+', 10);
      expect(Object.keys(entry!.fields).sort()).toEqual(['payload', 'signature']);
      const payload = entry!.fields.payload!;
      const expected = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(payload).digest('base64');
      expect(utf8.decode(entry!.fields.signature)).toBe(expected);
      expect(expected).toHaveLength(44);
      const fields = readFields(payload);
      expect(fields.find((f) => f.field === 1)?.varint).toBe(10n);
      const inner = readFields(fields.find((f) => f.field === 2)!.bytes!);
      expect(utf8.decode(inner.find((f) => f.field === 3)!.bytes)).toBe('grad_explosion');
      const attributes = Object.fromEntries(
        fields
          .filter((f) => f.field === 3)
          .map((f) => readFields(f.bytes!).map((kv) => utf8.decode(kv.bytes)))
          .map(([k, v]) => [k, v]),
      );
      expect(attributes).toEqual({ origin: 'tolaria', reason: 'grad_explosion', level: '4' });
    });

    it('a Python-produced entry (fixture bytes + signature) verifies and decodes', async () => {
      const { oona } = await client({}, { signer: new LeylineSigner(PYTHON_FIXTURE_SECRET) });
      await raw.append(stream('emergency'), {
        payload: hex(PYTHON_EMERGENCY_ENVELOPE_HEX),
        signature: new TextEncoder().encode(PYTHON_EMERGENCY_SIGNATURE),
      });
      const { seen, handler } = collect();
      await oona.consumeEmergencySignals(handler);
      expect(seen).toHaveLength(1);
      const decoded = fromBinary(EmergencySignalSchema, seen[0]!.payload);
      expect(decoded.reason).toBe('loss_spike');
      expect(decoded.level).toBe(EmergencyLevel.HALT);
      expect(decoded.monotonicTimeMs).toBe(123456789n);
      expect(decoded.attributes).toEqual({ epoch: '3', mode: 'automatic' });
      expect(seen[0]!.attributes).toEqual({ origin: 'tolaria', reason: 'loss_spike', level: '4' });
    });

    it('housekeeping with an injected wall clock trims by entry-id time', async () => {
      const { oona } = await client({ messageTtlMs: 60_000 });
      const base = clock.nowMs() - 120_000;
      await raw.append(stream('telemetry'), { payload: new Uint8Array() }, { id: `${base}-0` });
      await raw.append(stream('telemetry'), { payload: new Uint8Array() }, { id: `${base + 30_000}-0` });
      await raw.append(stream('telemetry'), { payload: new Uint8Array() }, { id: `${base + 90_000}-0` });
      await oona.consume(() => undefined, { stream: oona.streams.telemetry, count: 10 });
      expect((await oona.housekeeping())[stream('telemetry')]).toBe(2);
      expect(await oona.streamLength(stream('telemetry'))).toBe(1);
      clock.advance(31_000);
      expect((await oona.housekeeping())[stream('telemetry')]).toBe(1);
    });

    it('metrics snapshot key set: counters, gauges and per-source emergency keys', async () => {
      const { oona } = await client({ emergencyMaxPerMin: 1 });
      await oona.publishEmergencySignal(signal(), { source: 'tolaria run/1' });
      await oona.publishEmergencySignal(signal(), { source: 'tolaria run/1' });
      const m = await oona.metricsSnapshot();
      expect(Object.keys(m).sort()).toEqual(
        [...OONA_COUNTERS, ...OONA_GAUGES, 'emergency_published.src.tolaria_run_1', 'emergency_rate_dropped.src.tolaria_run_1'].sort(),
      );
      expect(m['emergency_published.src.tolaria_run_1']).toBe(1);
      expect(m['emergency_rate_dropped.src.tolaria_run_1']).toBe(1);
    });

    // ---------------------------------------------------------------- the port's guarantees

    it('redelivery: an entry left pending by a consumer that died mid-handler is claimed and handled', async () => {
      const { oona } = await client({ retryIdleMs: idleMs });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      const taken = await raw.readGroup(stream('normal'), 'oona-test', 'dead-consumer', { count: 1 });
      expect(taken).toHaveLength(1);
      const { seen, handler } = collect();
      expect(await oona.consume(handler)).toBe(0);
      await elapse(idleMs + 5);
      expect(await oona.consume(handler)).toBe(1);
      expect(seen[0]!.messageId).toBe(taken[0]!.id);
      expect(seen[0]!.attempt).toBe(2);
      expect(await oona.backlog(stream('normal'))).toBe(0);
      expect((await oona.metricsSnapshot()).redelivered_total).toBe(1);
    });

    it('redelivery: abandoned deliveries count as attempts, an exhausted entry goes to the dead letter', async () => {
      const { oona } = await client({ retryIdleMs: idleMs, retryMaxAttempts: 2 });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      await raw.readGroup(stream('normal'), 'oona-test', 'dead-1', { count: 1 });
      await elapse(idleMs + 5);
      const claimed = await raw.autoClaim(stream('normal'), 'oona-test', 'dead-2', idleMs, '0-0', 10);
      expect(claimed.entries[0]!.deliveries).toBe(2);
      await elapse(idleMs + 5);
      const { seen, handler } = collect();
      await oona.consume(handler);
      expect(seen).toHaveLength(0);
      expect(await oona.streamLength(stream('deadletter'))).toBe(1);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    it('at-least-once: with failures and a dying consumer, an idempotent handler applies every message once', async () => {
      const random = prng(options.seed ?? 42);
      const { oona } = await client({ retryIdleMs: idleMs, retryMaxAttempts: 10 });
      const n = 30;
      for (let i = 0; i < n; i++) await oona.publish(BusMessageType.SYSTEM_STATE, state(i));
      await raw.readGroup(stream('normal'), 'oona-test', 'doomed', { count: 3 });
      const applied = new Set<bigint>();
      let deliveries = 0;
      const handler = (m: OonaMessage): void => {
        deliveries++;
        if (random() < 0.3) throw new Error('transient');
        applied.add(fromBinary(SystemStatePacketSchema, m.payload).globalStep);
      };
      for (let round = 0; round < 40 && applied.size < n; round++) {
        await oona.consume(handler, { count: 8 });
        if (round % 5 === 4) await elapse(idleMs + 5);
      }
      expect(applied.size).toBe(n);
      expect(deliveries).toBeGreaterThan(n);
      expect(await oona.backlog(stream('normal'))).toBe(0);
      expect(await oona.streamLength(stream('deadletter'))).toBe(0);
    });

    it('ordering: one consumer sees one stream in publish order', async () => {
      const { oona } = await client();
      for (let i = 0; i < 50; i++) await oona.publish(BusMessageType.SYSTEM_STATE, state(i));
      const steps: bigint[] = [];
      for (let round = 0; round < 20 && steps.length < 50; round++) {
        await oona.consume((m) => void steps.push(fromBinary(SystemStatePacketSchema, m.payload).globalStep), { count: 7 });
      }
      expect(steps).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
    });

    it('dead letter after the maximum attempts (3), with backoff between retries', async () => {
      const { oona } = await client({ retryMaxAttempts: 3, retryBackoffMs: 5, retryBackoffMaxMs: 20 });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      const attempts: number[] = [];
      const handler = (m: OonaMessage): void => {
        attempts.push(m.attempt);
        throw new Error('always fails');
      };
      for (let i = 0; i < 40 && attempts.length < 3; i++) {
        await oona.consume(handler, { blockMs: 30 });
      }
      expect(attempts).toEqual([1, 2, 3]);
      expect(await oona.streamLength(stream('deadletter'))).toBe(1);
      const m = await oona.metricsSnapshot();
      expect(m.retry_total).toBe(2);
      expect(m.handler_failures).toBe(3);
    });

    it('emergency signals: burst limit per source, own budget, consumeEmergencySignals skips other types', async () => {
      const { oona } = await client({ emergencyMaxPerMin: 3 });
      const results: PublishResult[] = [];
      for (let i = 0; i < 6; i++) results.push(await oona.publishEmergencySignal(signal(), { source: 'tolaria' }));
      expect(results).toEqual([true, true, true, false, false, false]);
      // Decision 0038: telemetry on the emergency stream has its own bucket, so detections cannot starve signals.
      expect(await oona.publish(BusMessageType.TELEMETRY, telemetry(TelemetryLevel.CRITICAL), { priority: MessagePriority.CRITICAL })).toBe(true);
      const { seen, handler } = collect();
      await oona.consumeEmergencySignals(handler, { count: 10 });
      expect(seen).toHaveLength(3);
      expect(seen.every((m) => m.messageType === BusMessageType.EMERGENCY_SIGNAL)).toBe(true);
      expect(seen[0]!.attributes).toEqual({ origin: 'tolaria', reason: 'loss_spike', level: String(EmergencyLevel.HALT) });
      const m = await oona.metricsSnapshot();
      expect(m.consume_skipped).toBe(1);
      expect(m['emergency_published.src.tolaria']).toBe(3);
      expect(m['emergency_rate_dropped.src.tolaria']).toBe(3);
    });

    it('trimming never removes an entry that is pending or not yet delivered', async () => {
      const { oona } = await client({ maxStreamLength: 2, messageTtlMs: 1, retryIdleMs: idleMs });
      for (let i = 0; i < 10; i++) await oona.publish(BusMessageType.SYSTEM_STATE, state(i));
      await oona.consume(() => undefined, { count: 4 });
      await raw.readGroup(stream('normal'), 'oona-test', 'dead', { count: 2 });
      clock.setWall(Math.max(clock.nowMs(), Date.now()) + 1_000);
      expect((await oona.housekeeping())[stream('normal')]).toBe(4);
      expect((await oona.metricsSnapshot()).trim_blocked).toBe(1);
      await elapse(idleMs + 5);
      const steps: bigint[] = [];
      for (let i = 0; i < 4 && steps.length < 6; i++) {
        await oona.consume((m) => void steps.push(fromBinary(SystemStatePacketSchema, m.payload).globalStep), { count: 10 });
      }
      expect(steps).toEqual([4n, 5n, 6n, 7n, 8n, 9n]);
      // Another group that has read nothing pins the whole stream.
      const { oona: audit } = await client({ group: 'audit', messageTtlMs: 1 });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(10));
      await oona.consume(() => undefined);
      clock.advance(1_000);
      expect((await oona.housekeeping())[stream('normal')]).toBe(6);
      expect(await audit.backlog(stream('normal'))).toBe(1);
      expect((await audit.housekeeping())[stream('normal')]).toBe(0);
    });

    it('fan-out across groups, work sharing within a group', async () => {
      const { oona: a1 } = await client({ group: 'g-a', consumer: 'a1' });
      const { oona: a2 } = await client({ group: 'g-a', consumer: 'a2' });
      const { oona: b } = await client({ group: 'g-b', consumer: 'b1' });
      for (let i = 0; i < 4; i++) await a1.publish(BusMessageType.SYSTEM_STATE, state(i));
      const A = collect();
      const B = collect();
      await a1.consume(A.handler, { count: 2 });
      await a2.consume(A.handler, { count: 10 });
      await b.consume(B.handler, { count: 10 });
      expect(A.seen).toHaveLength(4);
      expect(new Set(A.seen.map((m) => m.messageId)).size).toBe(4);
      expect(B.seen).toHaveLength(4);
    });

    it('subscribe: a continuous loop handles traffic; stop() lets the running handler finish and ack', async () => {
      const { oona } = await client();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const handled: bigint[] = [];
      const sub = oona.subscribe(
        async (m) => {
          started();
          await gate;
          handled.push(fromBinary(SystemStatePacketSchema, m.payload).globalStep);
        },
        { blockMs: 20, count: 1 },
      );
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      await running;
      const stopping = sub.stop();
      release();
      await stopping;
      expect(handled).toEqual([1n]);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    it('subscribe: the next batch is read while the last XACK is on its way; stop() waits for it', async () => {
      const { oona, faults } = await client();
      const ack = faults.ack;
      let releaseAck!: () => void;
      const ackGate = new Promise<void>((r) => (releaseAck = r));
      let acksSent = 0;
      let acksDone = 0;
      faults.ack = async (...args) => {
        if (++acksSent === 1) await ackGate;
        const n = await ack(...args);
        acksDone++;
        return n;
      };
      const handled: bigint[] = [];
      const sub = oona.subscribe((m) => void handled.push(fromBinary(SystemStatePacketSchema, m.payload).globalStep), { blockMs: 20, count: 1 });
      const until = async (done: () => boolean): Promise<void> => {
        for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
        expect(done()).toBe(true);
      };
      let stopped = false;
      try {
        await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
        await until(() => acksSent === 1);
        // The first batch's XACK is held: the loop still reads and handles the second batch.
        await oona.publish(BusMessageType.SYSTEM_STATE, state(2));
        await until(() => handled.length === 2);
        const stopping = sub.stop().then(() => (stopped = true));
        await new Promise((r) => setTimeout(r, 30));
        expect(stopped).toBe(false);
        releaseAck();
        await stopping;
      } finally {
        releaseAck();
      }
      expect(stopped).toBe(true);
      expect(acksDone).toBe(2);
      expect(handled).toEqual([1n, 2n]);
      expect(await oona.backlog(stream('normal'))).toBe(0);
    });

    it('a blocking read is cancelled by stop() and by close(), even when it waits forever (blockMs 0)', async () => {
      const { oona } = await client();
      const sub = oona.subscribe(() => undefined, { blockMs: 0 });
      await new Promise((r) => setTimeout(r, 20));
      const t0 = Date.now();
      await sub.stop();
      const other = oona.subscribe(() => undefined, { blockMs: 0 });
      await new Promise((r) => setTimeout(r, 20));
      await oona.close();
      await other.done;
      expect(Date.now() - t0).toBeLessThan(2_000);
      await expect(oona.publish(BusMessageType.SYSTEM_STATE, state())).rejects.toThrow(/closed/);
    });

    it('publishes in flight on a backend closed under an open client: the ones it accepted settle, later ones reject as closed', async () => {
      const { oona, faults } = await client({ publishRetryBufferSize: 16 });
      const accepted = [oona.publish(BusMessageType.SYSTEM_STATE, state(1)), oona.publish(BusMessageType.SYSTEM_STATE, state(2))];
      await faults.inner.close();
      // Accepted before the close: sent (Redis flushes queued appends on close) or refused as closed, never left hanging.
      for (const settled of await Promise.allSettled(accepted)) {
        if (settled.status === 'rejected') expect(String(settled.reason)).toMatch(/closed/);
      }
      await expect(oona.publish(BusMessageType.SYSTEM_STATE, state(3))).rejects.toThrow(/closed/);
      await expect(oona.publishBatch([{ messageType: BusMessageType.SYSTEM_STATE, payload: state(4) }])).rejects.toThrow(/closed/);
      expect(oona.unsent()).toEqual([]);
    });

    it('close() finishes an in-flight handler before releasing the backend', async () => {
      const { oona } = await client();
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      let finished = false;
      const consuming = oona.consume(async () => {
        await new Promise((r) => setTimeout(r, 30));
        finished = true;
      });
      await new Promise((r) => setTimeout(r, 5));
      await oona.close();
      expect(finished).toBe(true);
      expect(await consuming).toBe(1);
      expect(await raw.pendingCount(stream('normal'), 'oona-test')).toBe(0);
    });

    it('consume breaker: read failures open it; consume is denied, then recovers after the timeout', async () => {
      const { oona, faults } = await client();
      faults.failAlways('readGroup');
      for (let i = 0; i < 3; i++) await expect(oona.consume(() => undefined)).rejects.toThrow(/injected/);
      faults.heal();
      expect(oona.health().consumeState).toBe(2);
      expect(await oona.consume(() => undefined)).toBe(0);
      expect((await oona.metricsSnapshot()).breaker_consume_open).toBe(1);
      clock.advance(30_000);
      await oona.publish(BusMessageType.SYSTEM_STATE, state());
      expect(await oona.consume(() => undefined)).toBe(1);
      expect(oona.health().consumeState).toBe(1);
    });

    it('handler errors do not trip the publish breaker', async () => {
      const { oona } = await client({ retryMaxAttempts: 10 });
      for (let i = 0; i < 5; i++) await oona.publish(BusMessageType.SYSTEM_STATE, state(i));
      await oona.consume(failing, { count: 5 });
      expect(oona.health().publishState).toBe(1);
      expect(oona.health().publishFailures).toBe(0);
    });

    it('the publish retry buffer retries after a backend error and reports what it gave up', async () => {
      const { oona, faults } = await client({ publishRetryBufferSize: 2, publishRetryTimeoutMs: 60_000 });
      faults.failNext('append', 2);
      const first = oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      await new Promise((r) => setTimeout(r, 5));
      // The first publish is waiting in the buffer; the second queues behind it to keep order.
      const results = await Promise.all([first, oona.publish(BusMessageType.SYSTEM_STATE, state(2))]);
      expect(results).toEqual([true, true]);
      const steps: bigint[] = [];
      await oona.consume((m) => void steps.push(fromBinary(SystemStatePacketSchema, m.payload).globalStep), { count: 10 });
      expect(steps).toEqual([1n, 2n]);
      faults.failAlways('append');
      const pending = [1, 2, 3].map((i) => oona.publish(BusMessageType.SYSTEM_STATE, state(i)));
      expect(await pending[2]).toBe(false);
      expect(oona.unsent().map((u) => u.reason)).toEqual(['buffer-full']);
      clock.advance(61_000);
      expect(await Promise.all(pending.slice(0, 2))).toEqual([false, false]);
      expect(oona.unsent().map((u) => u.reason)).toEqual(['buffer-full', 'timeout', 'timeout']);
      expect((await oona.metricsSnapshot()).publish_unsent).toBe(3);
    });

    // ---------------------------------------------------------------- batch publish

    const states = (from: number, n: number): PublishBatchItem[] =>
      Array.from({ length: n }, (_, i) => ({ messageType: BusMessageType.SYSTEM_STATE, payload: state(from + i) }));

    const steps = (seen: readonly OonaMessage[]): bigint[] => seen.map((m) => fromBinary(SystemStatePacketSchema, m.payload).globalStep);

    it('publishBatch: one consumer sees the batch in order, each entry acknowledged', async () => {
      const { oona } = await client();
      expect(await oona.publishBatch(states(0, 40))).toEqual(Array.from({ length: 40 }, () => true));
      expect(await oona.publishBatch([])).toEqual([]);
      const { seen, handler } = collect();
      for (let round = 0; round < 10 && seen.length < 40; round++) await oona.consume(handler, { count: 7 });
      expect(steps(seen)).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(i)));
      expect(seen.every((m) => m.attempt === 1 && m.stream === stream('normal'))).toBe(true);
      expect(await oona.backlog(stream('normal'))).toBe(0);
      expect((await oona.metricsSnapshot()).publish_total).toBe(40);
    });

    it('publishBatch routes each item by type and priority, as publish does', async () => {
      const { oona } = await client();
      const update = toBinary(PolicyUpdateSchema, create(PolicyUpdateSchema, { version: 1, policyId: 'p-1' }));
      const results = await oona.publishBatch([
        { messageType: BusMessageType.SYSTEM_STATE, payload: state(1) },
        { messageType: BusMessageType.TELEMETRY, payload: telemetry() },
        { messageType: BusMessageType.POLICY_UPDATE, payload: update },
        { messageType: BusMessageType.TELEMETRY, payload: telemetry(TelemetryLevel.CRITICAL), options: { priority: MessagePriority.CRITICAL } },
        { messageType: BusMessageType.SYSTEM_STATE, payload: state(2), options: { attributes: { origin: 'batch' } } },
        { messageType: BusMessageType.KERNEL_PREFETCH_READY, payload: toBinary(KernelArtifactReadySchema, create(KernelArtifactReadySchema, { requestId: 'r-1' })) },
      ]);
      expect(results).toEqual([true, true, true, true, true, true]);
      expect(await oona.streamLength(stream('normal'))).toBe(2);
      expect(await oona.streamLength(stream('telemetry'))).toBe(1);
      expect(await oona.streamLength(stream('policy'))).toBe(1);
      expect(await oona.streamLength(stream('emergency'))).toBe(1);
      expect(await oona.streamLength(stream('kernels.ready'))).toBe(1);
      const { seen, handler } = collect();
      await oona.consume(handler, { count: 10 });
      expect(steps(seen)).toEqual([1n, 2n]);
      expect(seen[1]!.attributes.origin).toBe('batch');
      const m = await oona.metricsSnapshot();
      expect(m.publish_total).toBe(6);
      expect(m.emergency_published).toBe(1);
    });

    it('publishBatch rejects the whole batch, appending nothing, when an item cannot be published', async () => {
      const { oona } = await client();
      await expect(
        oona.publishBatch([
          { messageType: BusMessageType.SYSTEM_STATE, payload: state(1) },
          { messageType: BusMessageType.UNSPECIFIED, payload: state(2) },
        ]),
      ).rejects.toBeInstanceOf(OonaUnroutableError);
      expect(await oona.streamLength(stream('normal'))).toBe(0);
    });

    it('publishBatch signs every entry: a client with the secret handles them, one with another secret rejects them', async () => {
      const signer = new LeylineSigner(SECRET);
      const { oona: publisher } = await client({}, { signer });
      expect(await publisher.publishBatch(states(0, 5))).toEqual([true, true, true, true, true]);
      for (const entry of await raw.range(stream('normal'), '-', '+', 10)) {
        const expected = createHmac('sha256', SECRET).update(entry.fields.payload!).digest('base64');
        expect(utf8.decode(entry.fields.signature)).toBe(expected);
      }
      const { oona: consumer } = await client({ consumer: 'signed-reader' }, { signer, ensure: false });
      const { seen, handler } = collect();
      await consumer.consume(handler, { count: 10 });
      expect(steps(seen)).toEqual([0n, 1n, 2n, 3n, 4n]);
      const { oona: stranger } = await client({ group: 'strangers' }, { signer: new LeylineSigner('another-secret') });
      expect(await publisher.publishBatch(states(5, 3))).toEqual([true, true, true]);
      const other = collect();
      await stranger.consume(other.handler, { count: 10 });
      expect(other.seen).toHaveLength(0);
      expect((await stranger.metricsSnapshot()).signature_rejected).toBe(3);
    });

    it('publishBatch backpressure: the batch counts its own entries into the backlog, drops the rest and counts them', async () => {
      const { oona } = await client({ backpressureDropThreshold: 5, maxStreamLength: 100 });
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(0))).toBe(true);
      const results = await oona.publishBatch(states(1, 7));
      expect(results).toEqual([true, true, true, true, false, false, false]);
      expect(await oona.streamLength(stream('normal'))).toBe(5);
      const m = await oona.metricsSnapshot();
      expect(m.publish_dropped).toBe(3);
      expect(m.publish_total).toBe(5);
      expect(m.queue_depth_max).toBeGreaterThanOrEqual(5);
      expect(oona.health().publishFailures).toBe(0);
    });

    it('publishBatch reroute: over the emergency threshold the rest of the batch goes to the emergency stream, in conservative mode', async () => {
      const { oona } = await client({ emergencyThreshold: 2, maxStreamLength: 100 });
      expect(await oona.publishBatch(states(0, 5))).toEqual([true, true, true, true, true]);
      expect(await oona.streamLength(stream('normal'))).toBe(2);
      expect(await oona.streamLength(stream('emergency'))).toBe(3);
      expect(oona.health().conservativeMode).toBe(true);
      const m = await oona.metricsSnapshot();
      expect(m.publish_rerouted).toBe(3);
      // Once the normal backlog is consumed, conservative mode ends and traffic goes back to normal.
      await oona.consume(() => undefined, { count: 10 });
      expect(await oona.publishBatch(states(5, 1))).toEqual([true]);
      expect(oona.health().conservativeMode).toBe(false);
      expect(await oona.streamLength(stream('normal'))).toBe(3);
    });

    it('publishBatch append errors: failed entries are false and counted without a retry buffer, retried in order with one', async () => {
      const { oona, faults } = await client({ publishRetryBufferSize: 0, publishBreaker: { failureThreshold: 10 } });
      faults.failNext('append', 2);
      expect(await oona.publishBatch(states(0, 4))).toEqual([false, false, true, true]);
      let m = await oona.metricsSnapshot();
      expect(m.publish_errors).toBe(2);
      expect(m.publish_total).toBe(2);
      faults.failNext('appendMany');
      expect(await oona.publishBatch(states(4, 3))).toEqual([false, false, false]);
      m = await oona.metricsSnapshot();
      expect(m.publish_errors).toBe(5);

      const { oona: buffered, faults: bufferedFaults } = await client({
        consumer: 'buffered',
        publishRetryBufferSize: 16,
        publishRetryTimeoutMs: 60_000,
      });
      bufferedFaults.failNext('appendMany');
      expect(await buffered.publishBatch(states(10, 3))).toEqual([true, true, true]);
      const { seen, handler } = collect();
      await buffered.consume(handler, { count: 20 });
      expect(steps(seen)).toEqual([2n, 3n, 10n, 11n, 12n]);
    });

    it('publishBatch while the publish breaker is open: every item is denied and counted', async () => {
      const { oona, faults } = await client();
      faults.failAlways('append');
      for (let i = 0; i < 3; i++) expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(i))).toBe(false);
      faults.heal();
      expect(await oona.publishBatch(states(0, 4))).toEqual([false, false, false, false]);
      expect((await oona.metricsSnapshot()).breaker_publish_open).toBe(4);
      expect(await oona.streamLength(stream('normal'))).toBe(0);
    });

    // ---------------------------------------------------------------- outages and hostile ids (issue 15)

    it('a restored backend connection half-opens the publish breaker at once: buffered publishes go out without waiting out its timeout', async () => {
      const { oona, faults } = await client({ publishRetryBufferSize: 16, publishRetryTimeoutMs: 60_000 });
      faults.failAlways('append');
      const pending = [1, 2, 3, 4, 5].map((i) => oona.publish(BusMessageType.SYSTEM_STATE, state(i)));
      for (let t = 0; t < 400 && oona.health().publishState !== 2; t++) await new Promise((r) => setTimeout(r, 5));
      expect(oona.health().publishState).toBe(2);
      faults.heal();
      // The injected clock never moves: only the restored connection can half-open the breaker.
      const t0 = Date.now();
      faults.restoreConnection();
      expect(await Promise.all(pending)).toEqual([true, true, true, true, true]);
      expect(Date.now() - t0).toBeLessThan(1_000);
      expect(oona.health().publishState).toBe(1);
      const { seen, handler } = collect();
      await oona.consume(handler, { count: 10 });
      expect(seen.map((m) => fromBinary(SystemStatePacketSchema, m.payload).globalStep)).toEqual([1n, 2n, 3n, 4n, 5n]);
      expect(oona.unsent()).toEqual([]);
    });

    it("a publish whose reply was lost resolves 'unknown' (not false), is counted and is not sent again", async () => {
      const { oona, faults } = await client({ publishRetryBufferSize: 16, publishRetryTimeoutMs: 60_000 });
      faults.loseReplyNext(1);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(1))).toBe('unknown');
      faults.loseReplyNext(1);
      expect(await oona.publishBatch([{ messageType: BusMessageType.SYSTEM_STATE, payload: state(2) }, { messageType: BusMessageType.SYSTEM_STATE, payload: state(3) }])).toEqual(['unknown', true]);
      // Stored once each: the client did not send them again.
      expect(await oona.streamLength(stream('normal'))).toBe(3);
      const m = await oona.metricsSnapshot();
      expect(m.publish_unknown).toBe(2);
      expect(m.publish_unsent).toBe(0);
      expect(oona.unsent()).toEqual([]);
    });

    it("close() gives buffered publishes one more try, then reports what it could not send as 'closed' (it does not wait out the retry window)", async () => {
      const { oona, faults } = await client({ publishRetryBufferSize: 16, publishRetryTimeoutMs: 60_000 });
      faults.failAlways('append');
      const pending = [1, 2, 3].map((i) => oona.publish(BusMessageType.SYSTEM_STATE, state(i)));
      await new Promise((r) => setTimeout(r, 20));
      const t0 = Date.now();
      await oona.close();
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(await Promise.all(pending)).toEqual([false, false, false]);
      expect(oona.unsent().map((u) => u.reason)).toEqual(['closed', 'closed', 'closed']);
    });

    it('hostile ids (2^53, 2^64 − 1000, far future): claims still redeliver abandoned entries, housekeeping still trims, future ids are counted', async () => {
      const ttl = 60_000;
      const { oona } = await client({ retryIdleMs: idleMs, messageTtlMs: ttl });
      const entry = (step: number) => ({ payload: toBinary(BusEnvelopeSchema, create(BusEnvelopeSchema, { messageType: BusMessageType.SYSTEM_STATE, payload: state(step) })) });
      const ids: string[] = [];
      let step = 0;
      const publishSome = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(step++))).toBe(true);
      };
      await publishSome(2);
      // Each explicit id is later than the one before; auto ids after it inherit its millisecond part.
      for (const id of ['9999999999999-0', '9007199254740992-0', '9007199254740993-5', '18446744073709550616-0']) {
        ids.push(await raw.append(stream('normal'), entry(step++), { id }));
        await publishSome(3);
      }
      expect(ids).toEqual(['9999999999999-0', '9007199254740992-0', '9007199254740993-5', '18446744073709550616-0']);
      const tail = await raw.range(stream('normal'), '+', '-', 1, true);
      expect(tail[0]!.id).toBe('18446744073709550616-3');
      const total = step;

      // A consumer takes every entry and dies; its peer claims them after retryIdleMs and handles each once.
      const taken = await raw.readGroup(stream('normal'), 'oona-test', 'dead-consumer', { count: 100 });
      expect(taken).toHaveLength(total);
      await elapse(idleMs + 5);
      const { seen, handler } = collect();
      for (let round = 0; round < 10 && seen.length < total; round++) await oona.consume(handler, { count: 50 });
      expect(seen.map((m) => fromBinary(SystemStatePacketSchema, m.payload).globalStep)).toEqual(Array.from({ length: total }, (_, i) => BigInt(i)));
      expect(seen.every((m) => m.attempt === 2)).toBe(true);
      expect(await oona.backlog(stream('normal'))).toBe(0);
      const m = await oona.metricsSnapshot();
      expect(m.redelivered_total).toBe(total);
      expect(m.consume_errors).toBe(0);
      // Every entry from the far-future one on has an id time past the clock.
      expect(m.future_ids).toBe(total - 2);

      // Entries appended after the far-future one carry its time: the TTL bound by entry-id time
      // cannot reach them, the watermark (newest id seen a TTL ago) can.
      expect((await oona.housekeeping())[stream('normal')]).toBe(0);
      clock.advance(ttl + 1);
      expect((await oona.housekeeping())[stream('normal')]).toBe(total);
      expect(await oona.streamLength(stream('normal'))).toBe(0);
      // New entries keep the inherited prefix and are trimmed a TTL after they were first seen.
      await publishSome(2);
      expect((await oona.housekeeping())[stream('normal')]).toBe(0);
      await oona.consume(() => undefined, { count: 10 });
      clock.advance(ttl + 1);
      expect((await oona.housekeeping())[stream('normal')]).toBe(2);
    });

    // ---------------------------------------------------------------- a group per call; streams outside the catalogue

    it('a per-call group: two replicas sharing the client group each see every entry with a group of their own; the shared group still splits', async () => {
      const { oona: r1 } = await client({ group: 'replicas', consumer: 'r1' });
      const { oona: r2 } = await client({ group: 'replicas', consumer: 'r2' });
      const policy = stream('policy');
      await r1.ensureGroups({ group: 'replicas.policy.r1', streams: [policy] });
      await r2.ensureGroups({ group: 'replicas.policy.r2', streams: [policy] });
      // Only the named streams get such a group; the client's group is not made on the policy stream until it reads there.
      expect((await r1.describeGroups(stream('normal'))).map((g) => g.name)).toEqual(['replicas']);
      expect((await r1.describeGroups(policy)).map((g) => g.name).sort()).toEqual(['replicas.policy.r1', 'replicas.policy.r2']);

      const update = create(PolicyUpdateSchema, { version: 1, policyId: 'p-1' });
      expect(await r1.publishMessage(PolicyUpdateSchema, update)).toBe(true);
      for (let i = 0; i < 4; i++) await r1.publish(BusMessageType.SYSTEM_STATE, state(i));

      const got: string[] = [];
      expect(await r1.consume(PolicyUpdateSchema, (u) => void got.push(`r1:${u.policyId}`), { group: 'replicas.policy.r1' })).toBe(1);
      expect(await r2.consume(PolicyUpdateSchema, (u) => void got.push(`r2:${u.policyId}`), { group: 'replicas.policy.r2' })).toBe(1);
      expect(got).toEqual(['r1:p-1', 'r2:p-1']);
      // Requests on the shared group are still split between the replicas.
      const A = collect();
      const B = collect();
      expect(await r1.consume(A.handler, { count: 2 })).toBe(2);
      expect(await r2.consume(B.handler, { count: 10 })).toBe(2);
      expect(new Set([...A.seen, ...B.seen].map((m) => m.messageId)).size).toBe(4);
      // Each per-call group acknowledged in its own group: nothing is held back there.
      for (const g of await r1.describeGroups(policy)) expect(g).toMatchObject({ pending: 0, lag: 0, oldestNeededId: undefined });
      // The client's group on the policy stream was never read, so it does not exist: its backlog is the stream's length.
      expect(await r1.backlog(policy)).toBe(1);
      // A group that does not exist is the usual error.
      await expect(r1.consume(() => undefined, { group: 'nobody' })).rejects.toMatchObject({ code: 'ESPER_OONA_NO_GROUP' });
    });

    it('a per-call group and consumer: entries abandoned in that group are claimed in it, failures retried and acknowledged in it', async () => {
      const { oona } = await client({ retryIdleMs: idleMs, retryMaxAttempts: 3 });
      await oona.ensureGroups({ group: 'side', streams: [stream('normal')] });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1));
      const taken = await raw.readGroup(stream('normal'), 'side', 'dead-consumer', { count: 1 });
      expect(taken).toHaveLength(1);
      await elapse(idleMs + 5);
      const seen: Array<[string, number]> = [];
      let failOnce = true;
      const handler = (m: OonaMessage): void => {
        seen.push([m.messageId, m.attempt]);
        if (failOnce) {
          failOnce = false;
          throw new Error('handler failure');
        }
      };
      // Claimed from the dead consumer of `side` by `side-1`, fails, is requeued (retryBackoffMs 0).
      expect(await oona.consume(handler, { group: 'side', consumer: 'side-1' })).toBe(1);
      expect(seen).toEqual([[taken[0]!.id, 2]]);
      expect(await oona.consume(handler, { group: 'side', consumer: 'side-1' })).toBe(1);
      expect(seen[1]![1]).toBe(3);
      const side = (await oona.describeGroups(stream('normal'))).find((g) => g.name === 'side')!;
      expect(side).toMatchObject({ pending: 0, lag: 0, oldestNeededId: undefined });
      // The client's own group saw the original and the requeued copy and handled none of them.
      expect(await oona.backlog(stream('normal'))).toBe(2);
    });

    it('describeGroups reports what each group holds back; deleteGroup removes a group so it no longer pins trimming', async () => {
      const { oona } = await client();
      const own = stream('own.replies');
      await oona.ensureGroups({ streams: [own] });
      await oona.ensureGroups({ group: 'gone', streams: [own] });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await raw.append(own, { payload: new Uint8Array() }));
      // `gone` read one entry and died; the client's group handled everything.
      await raw.readGroup(own, 'gone', 'dead', { count: 1 });
      await oona.consume(() => undefined, { stream: own, count: 10 });
      const states = new Map((await oona.describeGroups(own)).map((g) => [g.name, g]));
      expect(states.get('gone')).toMatchObject({ pending: 1, lag: 2, oldestNeededId: ids[0] });
      expect(states.get('oona-test')).toMatchObject({ pending: 0, lag: 0, oldestNeededId: undefined });
      await raw.ack(own, 'gone', [ids[0]!]);
      expect((await oona.describeGroups(own)).find((g) => g.name === 'gone')!.oldestNeededId).toBe(ids[1]);
      expect(await oona.trimStream(own, { maxLength: 1 })).toBe(1);

      expect(await oona.deleteGroup(own, 'gone')).toBe(true);
      expect(await oona.deleteGroup(own, 'gone')).toBe(false);
      expect(await oona.deleteGroup(stream('missing'), 'gone')).toBe(false);
      expect((await oona.describeGroups(own)).map((g) => g.name)).toEqual(['oona-test']);
      expect(await oona.describeGroups(stream('missing'))).toEqual([]);
      expect(await oona.trimStream(own, { maxLength: 1 })).toBe(1);
      await expect(oona.consume(() => undefined, { stream: own, group: 'gone' })).rejects.toMatchObject({ code: 'ESPER_OONA_NO_GROUP' });
      // The client's own group on a catalogue stream is refused; elsewhere it may go.
      await expect(oona.deleteGroup(stream('normal'), 'oona-test')).rejects.toMatchObject({ code: 'ESPER_OONA_CATALOGUE_STREAM' });
      expect(await oona.deleteGroup(own, 'oona-test')).toBe(true);
    });

    it('trimStream by age and by length never removes an entry that is pending or not yet delivered', async () => {
      const { oona } = await client({ retryIdleMs: idleMs });
      const own = stream('own.replies');
      await oona.ensureGroups({ streams: [own] });
      const base = clock.nowMs() - 120_000;
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await raw.append(own, { payload: new Uint8Array() }, { id: `${base + i * 10_000}-0` }));
      // The group handled two entries, one is pending with a dead consumer, three were never delivered.
      await oona.consume(() => undefined, { stream: own, count: 2 });
      await raw.readGroup(own, 'oona-test', 'dead', { count: 1 });
      // By length (cap 1) and by age (all six are older than 1 s): only the two acknowledged go.
      expect(await oona.trimStream(own, { maxLength: 1 })).toBe(2);
      expect(await oona.trimStream(own, { ttlMs: 1_000 })).toBe(0);
      expect((await raw.range(own, '-', '+', 10)).map((e) => e.id)).toEqual(ids.slice(2));
      expect((await oona.metricsSnapshot()).trim_blocked).toBe(2);
      // Once everything is handled, age removes what is older than the TTL and keeps the rest.
      await elapse(idleMs + 5);
      for (let i = 0; i < 3; i++) await oona.consume(() => undefined, { stream: own, count: 10 });
      expect(await oona.backlog(own)).toBe(0);
      // now − 85 s lies between the fourth entry (80 s old) and the fifth (70 s old).
      expect(await oona.trimStream(own, { ttlMs: 85_000 })).toBe(2);
      expect((await raw.range(own, '-', '+', 10)).map((e) => e.id)).toEqual(ids.slice(4));
      // A second group that has read nothing pins what it has not seen, whatever the bounds.
      await oona.ensureGroups({ group: 'audit', streams: [own] });
      const late = await raw.append(own, { payload: new Uint8Array() });
      await oona.consume(() => undefined, { stream: own, count: 10 });
      expect(await oona.trimStream(own, { ttlMs: 1, maxLength: 1 })).toBe(2);
      expect((await raw.range(own, '-', '+', 10)).map((e) => e.id)).toEqual([late]);
      // No bound, or a missing stream: nothing to do.
      expect(await oona.trimStream(own, {})).toBe(0);
      expect(await oona.trimStream(stream('missing'), { ttlMs: 1, maxLength: 1 })).toBe(0);
    });

    it('the client group on the policy stream is made by its first reader: a client that never reads it does not hold back its trimming', async () => {
      const policy = stream('policy');
      // A trainer that only publishes updates, and a reader of the policy stream with another group.
      const { oona: trainer } = await client({ messageTtlMs: 1 });
      await trainer.publish(BusMessageType.SYSTEM_STATE, state(99), { stream: policy });
      const { oona: reader } = await client({ group: 'reader' });
      expect(await trainer.describeGroups(policy)).toEqual([]);
      for (let i = 0; i < 3; i++) await trainer.publish(BusMessageType.SYSTEM_STATE, state(i), { stream: policy });
      // The reader's group starts where its ensureGroups() ran, not at its first read: it gets the three published since.
      const steps: bigint[] = [];
      const read = (m: OonaMessage): void => void steps.push(fromBinary(SystemStatePacketSchema, m.payload).globalStep);
      expect(await reader.consume(read, { stream: policy, count: 1 })).toBe(1);
      expect((await trainer.describeGroups(policy)).map((g) => g.name)).toEqual(['reader']);
      // Everything is past the TTL: the entry before the reader's group and the one it handled go, its two unread entries stay.
      clock.setWall(Math.max(clock.nowMs(), Date.now()) + 1_000);
      expect((await trainer.housekeeping())[policy]).toBe(2);
      expect((await trainer.metricsSnapshot()).trim_blocked).toBe(1);
      expect(await reader.consume(read, { stream: policy, count: 10 })).toBe(2);
      expect(steps).toEqual([0n, 1n, 2n]);
      expect((await trainer.housekeeping())[policy]).toBe(2);
      // Named explicitly, the client's group is made at once.
      await trainer.ensureGroups({ streams: [policy] });
      expect((await trainer.describeGroups(policy)).map((g) => g.name).sort()).toEqual(['oona-test', 'reader']);
    });

    it('deleteStream removes a stream with its entries and groups; trimStream and deleteStream refuse catalogue streams', async () => {
      const { oona } = await client();
      const own = stream('own.replies');
      await oona.ensureGroups({ streams: [own] });
      await oona.ensureGroups({ group: 'other', streams: [own] });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(1), { stream: own });
      await oona.deleteStream(own);
      expect(await oona.streamLength(own)).toBe(0);
      expect(await oona.describeGroups(own)).toEqual([]);
      await expect(oona.consume(() => undefined, { stream: own })).rejects.toMatchObject({ code: 'ESPER_OONA_NO_GROUP' });
      // A missing stream is no error; the stream can be made again.
      await oona.deleteStream(own);
      await oona.ensureGroups({ streams: [own] });
      await oona.publish(BusMessageType.SYSTEM_STATE, state(2), { stream: own });
      expect(await oona.consume(() => undefined, { stream: own })).toBe(1);

      await oona.publish(BusMessageType.SYSTEM_STATE, state(3));
      for (const catalogued of [stream('normal'), stream('policy'), stream('kernels.requests'), stream('deadletter')]) {
        await expect(oona.trimStream(catalogued, { maxLength: 1 })).rejects.toBeInstanceOf(OonaCatalogueStreamError);
        await expect(oona.deleteStream(catalogued)).rejects.toMatchObject({ code: 'ESPER_OONA_CATALOGUE_STREAM' });
      }
      expect(await oona.streamLength(stream('normal'))).toBe(1);
      expect(await oona.backlog(stream('normal'))).toBe(1);
    });

    it('subscribe and consume leave no abort listener on the caller\'s signal once they end', async () => {
      const { oona } = await client();
      const controller = new AbortController();
      await oona.consume(() => undefined, { blockMs: 1, signal: controller.signal });
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      const sub = oona.subscribe(() => undefined, { blockMs: 5, signal: controller.signal });
      expect(await oona.publishBatch(states(0, 3))).toEqual([true, true, true]);
      await sub.stop();
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    });
  });
}
