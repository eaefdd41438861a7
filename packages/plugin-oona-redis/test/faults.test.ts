import { spawnSync } from 'node:child_process';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { OonaMessage, PublishResult } from '@esper/core';
import { OonaClient } from '@esper/core/oona';
import { BusMessageType, SystemStatePacketSchema } from '@esper/core/leyline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStreamBackend } from '../src/index.js';
import { hasRedisServer, OwnRedis } from './own-redis.js';
import { freePort, requireOrSkip } from './redis-env.js';

if (!hasRedisServer) requireOrSkip('redis-server is not installed');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const state = (step: number): Uint8Array =>
  toBinary(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: BigInt(step) }));

describe.skipIf(!hasRedisServer)('Redis faults (own redis-server child)', () => {
  let redis: OwnRedis;

  beforeAll(async () => {
    redis = new OwnRedis(await freePort());
    await redis.start();
  });

  afterAll(async () => {
    await redis.dispose();
  });

  const settings = {
    group: 'fault-test',
    retryBackoffMs: 0,
    publishBreaker: { timeoutMs: 150 },
    consumeBreaker: { timeoutMs: 150 },
  };
  const backend = () => new RedisStreamBackend({ url: redis.url, reconnectBaseMs: 20, reconnectMaxMs: 100, connectTimeoutMs: 500 });

  it('server restart under load: bounded publish buffer, consumers reconnect, nothing acknowledged is lost, unacked entries are redelivered', async () => {
    const pubBackend = backend();
    const conBackend = backend();
    await Promise.all([pubBackend.connect(), conBackend.connect()]);
    const publisher = new OonaClient({
      backend: pubBackend,
      settings: { ...settings, consumer: 'pub', publishRetryBufferSize: 40, publishRetryTimeoutMs: 4_000 },
    });
    const consumer = new OonaClient({ backend: conBackend, settings: { ...settings, consumer: 'con', retryIdleMs: 200 } });
    await publisher.ensureGroups();

    const applied = new Set<bigint>();
    let deliveries = 0;
    // The handler of step 100 holds its batch until the server has been killed, so that the
    // crash always finds entries read but not acknowledged (their ack then fails).
    let atGate = false;
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const sub = consumer.subscribe(
      async (m: OonaMessage) => {
        deliveries++;
        const step = fromBinary(SystemStatePacketSchema, m.payload).globalStep;
        if (step === 100n && m.attempt === 1) {
          atGate = true;
          await gate;
        }
        await sleep(1);
        applied.add(step);
      },
      { count: 20, blockMs: 50, onError: () => undefined },
    );

    // Publish at a steady rate (not awaiting each one) across a crash and restart of the server.
    const results: Array<Promise<PublishResult>> = [];
    const total = 400;
    let restarted: Promise<void> | undefined;
    for (let i = 0; i < total; i++) {
      results.push(publisher.publish(BusMessageType.SYSTEM_STATE, state(i)));
      if (i === 150) {
        for (let t = 0; t < 200 && !atGate; t++) await sleep(10);
        expect(atGate).toBe(true);
        await redis.kill();
        openGate();
        restarted = sleep(300).then(() => redis.start());
      }
      if (i % 10 === 9) await sleep(3);
    }
    await restarted;
    const outcomes = await Promise.all(results);
    const sent = outcomes.flatMap((ok, i) => (ok === true ? [BigInt(i)] : []));
    const unknown = outcomes.filter((ok) => ok === 'unknown').length;
    const unsent = publisher.unsent();

    // Every publish is accounted for: appended (true), reported unsent (false), or sent when the
    // connection died, before the reply ('unknown').
    expect(sent.length + unsent.length + unknown).toBe(total);
    expect(outcomes.filter((ok) => ok === false)).toHaveLength(unsent.length);
    expect((await publisher.metricsSnapshot()).publish_unknown).toBe(unknown);
    expect(unsent.every((u) => u.reason === 'buffer-full' || u.reason === 'timeout')).toBe(true);
    expect(unsent.length).toBeGreaterThan(0);
    expect(sent.length).toBeGreaterThan(150);

    // The consumer reconnects; entries it had read but not acknowledged when the server died
    // are claimed after retryIdleMs and redelivered.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !sent.every((s) => applied.has(s))) await sleep(50);
    expect(sent.filter((s) => !applied.has(s))).toEqual([]);
    while (Date.now() < deadline && (await consumer.backlog(consumer.streams.normal)) > 0) await sleep(50);
    expect(await consumer.backlog(consumer.streams.normal)).toBe(0);
    expect(deliveries).toBeGreaterThanOrEqual(sent.length);
    const m = await consumer.metricsSnapshot();
    expect(m.consume_errors).toBeGreaterThan(0);
    expect(m.redelivered_total).toBeGreaterThan(0);
    console.log(`restart: ${sent.length} sent, ${unsent.length} reported unsent, ${unknown} unknown, ${deliveries} deliveries, ${m.redelivered_total} redelivered`);

    await sub.stop();
    await Promise.all([publisher.close(), consumer.close()]);
  }, 30_000);

  it('the publish breaker opens while the server is down and recovers through half-open', async () => {
    const b = backend();
    await b.connect();
    const oona = new OonaClient({ backend: b, settings: { ...settings, consumer: 'breaker', publishRetryBufferSize: 0 } });
    await oona.ensureGroups();
    expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(1))).toBe(true);
    await redis.kill();
    // false, or 'unknown' for a publish written to the socket before the client saw it close.
    for (let i = 0; i < 3; i++) expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(2))).not.toBe(true);
    expect(oona.health().publishState).toBe(2);
    expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(3))).toBe(false);
    const m = await oona.metricsSnapshot();
    expect(m.publish_errors).toBe(3);
    expect(m.breaker_publish_open).toBe(1);
    await redis.start();
    const deadline = Date.now() + 5_000;
    while (!b.ready && Date.now() < deadline) await sleep(20);
    await sleep(160);
    // First call after the timeout is the half-open trial; its success closes the breaker.
    expect(await oona.publish(BusMessageType.SYSTEM_STATE, state(4))).toBe(true);
    expect(oona.health().publishState).toBe(1);
    await oona.close();
  }, 20_000);

  it('appends keep every stream in call order and use no scripts (a lost script cache changes nothing)', async () => {
    const b = backend();
    await b.connect();
    const stream = 'script-cache';
    const cli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).stdout;
    // Entries of two field shapes interleaved in one tick, before and after SCRIPT FLUSH: under
    // decision 0042 a batch refused for a lost script could land behind later plain XADDs.
    const tick = (from: number) =>
      Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          b.append(stream, i % 10 === 9 ? { payload: state(from + i), signature: state(i) } : { payload: state(from + i) }),
        ),
      );
    const first = await tick(0);
    expect(cli('SCRIPT', 'FLUSH').trim()).toBe('OK');
    cli('CONFIG', 'RESETSTAT');
    const second = await tick(30);
    const ids = [...first, ...second];
    const stored = await b.range(stream, '-', '+', 100);
    expect(stored.map((e) => e.id)).toEqual(ids);
    expect(stored.map((e) => Buffer.from(e.fields.payload!).equals(Buffer.from(state(stored.indexOf(e)))))).toEqual(ids.map(() => true));
    // One XADD per entry, none failed, none sent twice, and no script ran.
    const stats = cli('INFO', 'commandstats');
    expect(stats).toMatch(/cmdstat_xadd:calls=30,.*failed_calls=0/);
    expect(stats).not.toMatch(/cmdstat_eval/);
    await b.deleteStream(stream);
    await b.close();
  });

  it('unreachable at start: OonaUnreachableError names the masked URL within the start timeout', async () => {
    const port = await freePort();
    const b = new RedisStreamBackend({ url: `redis://ops:pa55word@127.0.0.1:${port}/3`, startTimeoutMs: 400, connectTimeoutMs: 100 });
    const t0 = Date.now();
    const error = await b.connect().then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(error?.code).toBe('ESPER_OONA_UNREACHABLE');
    expect(error?.message).toContain(`redis://***:***@127.0.0.1:${port}/3`);
    expect(error?.message).not.toContain('pa55word');
    await b.close();
  });
});
