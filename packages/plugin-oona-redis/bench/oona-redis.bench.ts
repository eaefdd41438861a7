/**
 * Oona on Redis: publish and publish→handler throughput, and publish→handler latency at a
 * moderate rate, through the full OonaClient on node-redis, compared with a `redis-benchmark`
 * XADD ceiling measured in the same run (pipeline 16) against the same server.
 * Run: pnpm bench oona-redis   (REDIS_URL, default redis://127.0.0.1:6379/0)
 * Prints figures; never asserts times. Streams get a unique prefix and are deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { create, toBinary } from '@bufbuild/protobuf';
import { OonaClient, SystemClock, type OonaMessage } from '@esper/core';
import { BusMessageType, SystemStatePacketSchema } from '@esper/core/leyline';
import { RedisStreamBackend } from '../src/index.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const { hostname, port } = new URL(url);
const prefix = `bench:oona:${process.pid}:`;
const clock = new SystemClock();
const payload = toBinary(
  SystemStatePacketSchema,
  create(SystemStatePacketSchema, { version: 1, currentEpoch: 3, validationLoss: 0.25, validationAccuracy: 0.9, trainingRunId: 'bench-run', globalStep: 12345n }),
);
const backends: RedisStreamBackend[] = [];

function ceiling(n: number): number {
  const key = `${prefix}ceiling`;
  const run = spawnSync('redis-benchmark', ['-h', hostname, '-p', port || '6379', '-q', '-n', String(n), '-P', '16', 'XADD', key, '*', 'f', 'v'], {
    encoding: 'utf8',
  });
  spawnSync('redis-cli', ['-h', hostname, '-p', port || '6379', 'DEL', key]);
  const match = /([\d.]+) requests per second/.exec(`${run.stdout}${run.stderr}`.replace(/\r/g, '\n'));
  if (match === null) throw new Error(`could not read redis-benchmark output: ${run.stdout}${run.stderr}`);
  return Number(match[1]);
}

async function client(name: string): Promise<OonaClient> {
  const backend = new RedisStreamBackend({ url });
  backends.push(backend);
  await backend.connect();
  return new OonaClient({
    backend,
    clock,
    settings: {
      group: 'bench',
      consumer: `c-${name}`,
      normalStream: `${prefix}${name}`,
      emergencyStream: `${prefix}emergency`,
      telemetryStream: `${prefix}telemetry`,
      policyStream: `${prefix}policy`,
      kernelRequestStream: `${prefix}kernels.requests`,
      kernelReadyStream: `${prefix}kernels.ready`,
      kernelErrorStream: `${prefix}kernels.errors`,
      deadLetterStream: `${prefix}deadletter`,
      retryIdleMs: 0,
      messageTtlMs: null,
    },
  });
}

async function publishAll(pub: OonaClient, n: number, window: number): Promise<void> {
  for (let i = 0; i < n; i += window) {
    const batch: Array<Promise<boolean>> = [];
    for (let j = i; j < Math.min(n, i + window); j++) batch.push(pub.publish(BusMessageType.SYSTEM_STATE, payload));
    await Promise.all(batch);
  }
}

async function publishOnly(n: number): Promise<number> {
  const pub = await client('publish-only');
  await pub.ensureGroups();
  const t0 = performance.now();
  await publishAll(pub, n, 1_024);
  const rate = n / ((performance.now() - t0) / 1000);
  await pub.close();
  return rate;
}

async function endToEnd(n: number): Promise<number> {
  const pub = await client('e2e');
  const con = await client('e2e');
  await pub.ensureGroups();
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sub = con.subscribe(
    () => {
      if (++handled === n) done();
    },
    { count: 1_000, blockMs: 100 },
  );
  const t0 = performance.now();
  await publishAll(pub, n, 1_024);
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  await sub.stop();
  await Promise.all([pub.close(), con.close()]);
  return rate;
}

async function latency(rate: number, seconds: number): Promise<{ p50: number; p99: number; n: number }> {
  const pub = await client('latency');
  const con = await client('latency');
  await pub.ensureGroups();
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  const sub = con.subscribe((m: OonaMessage) => void samples.push(performance.now() - (sentAt.get(m.attributes.seq!) ?? NaN)), {
    count: 64,
    blockMs: 100,
  });
  await new Promise((r) => setTimeout(r, 50));
  const total = rate * seconds;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    while (performance.now() < due) await new Promise((r) => setImmediate(r));
    sentAt.set(String(i), performance.now());
    void pub.publish(BusMessageType.SYSTEM_STATE, payload, { attributes: { seq: String(i) } });
  }
  const deadline = performance.now() + 5_000;
  while (samples.length < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await sub.stop();
  await Promise.all([pub.close(), con.close()]);
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return { p50: at(50), p99: at(99), n: sorted.length };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
try {
  const max = ceiling(100_000);
  await publishOnly(20_000); // warm-up
  const pubRate = await publishOnly(100_000);
  const e2e = await endToEnd(100_000);
  const lat = await latency(1_000, 2);
  console.log(`redis-benchmark XADD ceiling (pipeline 16): ${fmt(max)} req/s`);
  console.log(`oona-redis publish throughput: ${fmt(pubRate)} msg/s = ${((100 * pubRate) / max).toFixed(0)}% of the ceiling`);
  console.log(`oona-redis publish→handler throughput: ${fmt(e2e)} msg/s = ${((100 * e2e) / max).toFixed(0)}% of the ceiling`);
  console.log(`oona-redis publish→handler latency at 1,000 msg/s: p50 ${lat.p50.toFixed(3)} ms, p99 ${lat.p99.toFixed(3)} ms (${lat.n} samples)`);
  console.log(`goals: ≥ 50% of ceiling → ${e2e >= max / 2 ? 'met' : 'not met'}; p99 < 2 ms → ${lat.p99 < 2 ? 'met' : 'not met'}`);
} finally {
  await Promise.allSettled(backends.map((b) => b.close()));
  const keys = spawnSync('redis-cli', ['-h', hostname, '-p', port || '6379', '--scan', '--pattern', `${prefix}*`], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);
  if (keys.length > 0) spawnSync('redis-cli', ['-h', hostname, '-p', port || '6379', 'DEL', ...keys]);
}
