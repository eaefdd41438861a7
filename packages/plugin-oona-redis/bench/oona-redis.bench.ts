/**
 * Oona on Redis: publish and publish→handler throughput, and publish→handler latency at
 * moderate rates, through the full OonaClient on node-redis, compared with a `redis-benchmark`
 * XADD ceiling (50 clients, pipeline 16) measured against the same server in the same round.
 *
 * Run: pnpm bench oona-redis   (REDIS_URL, default redis://127.0.0.1:6379/0;
 *      BENCH_ROUNDS, default 3; BENCH_MESSAGES, default 100000)
 *
 * A warm-up publishes 20,000 messages and runs 20,000 publish→handler. Each round measures, in order: publish→handler latency at 2,000 and 5,000 msg/s (0.5 s
 * warm-up discarded, then 2 s of samples), each next to the same pacing on bare node-redis (the
 * floor the server, client library and machine allow); the ceiling; publish-only throughput;
 * publish→handler throughput with `publish()` per message (appends of a tick coalesced into
 * pipelined XADDs, up to 128 per socket write, the default), with `publishBatch()` of 512
 * messages, and with one XADD per socket write (`appendBatchMax: 1`). For the ceiling and the
 * `publish()` publish→handler run it also prints the server's CPU time per request / message
 * (`INFO cpu`, all of redis-server's threads) and this process's (`process.cpuUsage()`): the
 * ratio of the two server figures bounds the ratio of the throughputs when the server is the
 * bottleneck. Throughput publishers keep up to 1,024 messages in
 * flight; one consumer reads up to 1,000 entries per XREADGROUP. The ratio is taken per round
 * (against that round's ceiling) and the medians over the rounds are printed with the load
 * average, because other work on a shared machine moves every figure. Prints figures; never
 * asserts times. Streams get a unique prefix and are deleted afterwards.
 */
import { fork, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { SystemClock, type OonaMessage } from '@esper/core';
import { OonaClient } from '@esper/core/oona';
import { BusMessageType, SystemStatePacketSchema } from '@esper/core/leyline';
import { createClient } from 'redis';
import { RedisStreamBackend } from '../src/index.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const { hostname, port } = new URL(url);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const messages = Number(process.env.BENCH_MESSAGES ?? 100_000);
const rates = [2_000, 5_000];
const window = 1_024;
// A publisher child process (see endToEndTwoProcesses) works under its parent's prefix.
const prefix = process.env.BENCH_PREFIX ?? `bench:oona:${process.pid}:`;
const clock = new SystemClock();
const payload = toBinary(
  SystemStatePacketSchema,
  create(SystemStatePacketSchema, { version: 1, currentEpoch: 3, validationLoss: 0.25, validationAccuracy: 0.9, trainingRunId: 'bench-run', globalStep: 12345n }),
);
const backends: RedisStreamBackend[] = [];
let streams = 0;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** redis-server's CPU time so far (user + system, every thread), in seconds, from `INFO cpu`. */
function serverCpuSeconds(): number {
  const info = spawnSync('redis-cli', ['-h', hostname, '-p', port || '6379', 'INFO', 'cpu'], { encoding: 'utf8' }).stdout;
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Runs `work` (which handles `n` messages) and returns what it returned with server and Node CPU µs per message. */
async function withCpu<T>(n: number, work: () => Promise<T> | T): Promise<{ value: T; serverUs: number; nodeUs: number }> {
  const server0 = serverCpuSeconds();
  const node0 = process.cpuUsage();
  const value = await work();
  const node = process.cpuUsage(node0);
  return { value, serverUs: ((serverCpuSeconds() - server0) * 1e6) / n, nodeUs: (node.user + node.system) / n };
}

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

/** A publisher and a consumer on their own connections and a fresh stream. */
/** An OonaClient on its own connection, on stream `name` under the run's prefix. */
async function client(name: string, role: string, appendBatchMax?: number): Promise<OonaClient> {
  const backend = new RedisStreamBackend({ url, ...(appendBatchMax !== undefined ? { appendBatchMax } : {}) });
  backends.push(backend);
  await backend.connect();
  return new OonaClient({
    backend,
    clock,
    settings: {
      group: 'bench',
      consumer: `${name}-${role}`,
      normalStream: `${prefix}${name}`,
      emergencyStream: `${prefix}emergency`,
      telemetryStream: `${prefix}telemetry`,
      policyStream: `${prefix}policy`,
      kernelRequestStream: `${prefix}kernels.requests`,
      kernelReadyStream: `${prefix}kernels.ready`,
      kernelErrorStream: `${prefix}kernels.errors`,
      deadLetterStream: `${prefix}deadletter`,
      messageTtlMs: null,
    },
  });
}

/** A publisher and a consumer on their own connections and a fresh stream. */
async function pair(appendBatchMax?: number): Promise<{ pub: OonaClient; con: OonaClient }> {
  const name = `s${streams++}`;
  const pub = await client(name, 'pub', appendBatchMax);
  const con = await client(name, 'con');
  await pub.ensureGroups();
  return { pub, con };
}

type Publisher = (pub: OonaClient, n: number) => Promise<void>;

/**
 * Keeps up to `window` messages in flight, `per` messages per call of `send` (a new call starts
 * as soon as the window has room again: no lock-step pauses while a whole window drains).
 */
async function windowed(n: number, per: number, send: (count: number) => Promise<number>): Promise<void> {
  let started = 0;
  let inFlight = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  const settled = (count: number, notOk: number): void => {
    failed += notOk;
    inFlight -= count;
    if (wake !== undefined && inFlight <= window / 2) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  while (started < n) {
    while (inFlight < window && started < n) {
      const count = Math.min(per, n - started);
      inFlight += count;
      started += count;
      void send(count).then((notOk) => settled(count, notOk));
    }
    await new Promise<void>((resolve) => (wake = resolve));
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failed > 0) throw new Error(`${failed} publishes failed during the benchmark`);
}

/** One `publish()` per message. */
const publishEach: Publisher = (pub, n) => windowed(n, 1, () => pub.publish(BusMessageType.SYSTEM_STATE, payload).then((ok) => (ok ? 0 : 1)));

const BATCH = 512;
const items = Array.from({ length: BATCH }, () => ({ messageType: BusMessageType.SYSTEM_STATE, payload }));
/** `publishBatch()` with 512 messages per call. */
const publishBatches: Publisher = (pub, n) =>
  windowed(n, BATCH, (count) => pub.publishBatch(count === BATCH ? items : items.slice(0, count)).then((oks) => oks.filter((ok) => !ok).length));

async function publishOnly(n: number): Promise<number> {
  const { pub, con } = await pair();
  const t0 = performance.now();
  await publishEach(pub, n);
  const rate = n / ((performance.now() - t0) / 1000);
  await Promise.all([pub.close(), con.close()]);
  return rate;
}

/** Subscribes `con` with the bench's read settings; `finished` resolves at the n-th message. */
function handleAll(con: OonaClient, n: number): { sub: ReturnType<OonaClient['subscribe']>; finished: Promise<void> } {
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sub = con.subscribe(
    () => {
      if (++handled === n) done();
    },
    { count: 1_000, blockMs: 100 },
  );
  return { sub, finished };
}

async function endToEnd(n: number, publisher: Publisher, appendBatchMax?: number): Promise<number> {
  const { pub, con } = await pair(appendBatchMax);
  const { sub, finished } = handleAll(con, n);
  const t0 = performance.now();
  await publisher(pub, n);
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  await sub.stop();
  await Promise.all([pub.close(), con.close()]);
  return rate;
}

/**
 * publish→handler with the publisher in a child process (as in a deployment, where publishing
 * and consuming subsystems are separate processes): the two no longer share one event loop.
 */
async function endToEndTwoProcesses(n: number): Promise<number> {
  const name = `s${streams++}`;
  const con = await client(name, 'con');
  await con.ensureGroups();
  const child = fork(fileURLToPath(import.meta.url), ['--publisher', name, String(n)], {
    execArgv: process.execArgv,
    env: { ...process.env, BENCH_PREFIX: prefix },
  });
  const exited = once(child, 'exit');
  await once(child, 'message');
  const { sub, finished } = handleAll(con, n);
  const t0 = performance.now();
  child.send('go');
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  await sub.stop();
  await con.close();
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`the publisher process exited with ${code}`);
  return rate;
}

/** Child-process mode: publish `n` messages on stream `name` when the parent says go. */
async function runPublisher(name: string, n: number): Promise<void> {
  const pub = await client(name, 'pub');
  process.send?.('ready');
  await once(process, 'message');
  await publishEach(pub, n);
  await pub.close();
  process.disconnect();
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

/** Calls `send(i)` for i = 0 … total-1 at `rate` per second on a 1 ms timer (what is due goes out in that tick). */
async function paced(rate: number, total: number, send: (i: number) => void): Promise<void> {
  const start = performance.now();
  let i = 0;
  while (i < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    for (; i < due; i++) send(i);
    await sleep(1);
  }
}

function summarize(samples: number[]): Latency {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] ?? Number.NaN, n: sorted.length };
}

/**
 * Publishes at `rate` msg/s (see {@link paced}) through OonaClient and records publish call →
 * handler start for every message after the warm-up.
 */
async function latency(rate: number, seconds: number, warmupSeconds = 0.5): Promise<Latency> {
  const { pub, con } = await pair();
  const warm = Math.round(rate * warmupSeconds);
  const total = warm + Math.round(rate * seconds);
  const sentAt = new Float64Array(total).fill(Number.NaN);
  const samples: number[] = [];
  const sub = con.subscribe(
    (m: OonaMessage) => {
      const seq = Number(m.attributes.seq);
      if (seq >= warm) samples.push(performance.now() - sentAt[seq]!);
    },
    { count: 256 },
  );
  await sleep(50);
  await paced(rate, total, (i) => {
    sentAt[i] = performance.now();
    void pub.publish(BusMessageType.SYSTEM_STATE, payload, { attributes: { seq: String(i) } });
  });
  const deadline = performance.now() + 5_000;
  while (samples.length < total - warm && performance.now() < deadline) await sleep(5);
  await sub.stop();
  await Promise.all([pub.close(), con.close()]);
  return summarize(samples);
}

/**
 * The floor: the same pacing with bare node-redis (XADD on one connection, a blocking
 * XREADGROUP + XACK loop on another), no Oona. What it shows is the server, node-redis and the
 * machine (scheduler, timer jitter); Oona's own share is the difference.
 */
async function rawLatency(rate: number, seconds: number, warmupSeconds = 0.5): Promise<Latency> {
  const key = `${prefix}raw${streams++}`;
  const pub = createClient({ url });
  const con = createClient({ url });
  await Promise.all([pub.connect(), con.connect()]);
  await pub.sendCommand(['XGROUP', 'CREATE', key, 'raw', '$', 'MKSTREAM']);
  const warm = Math.round(rate * warmupSeconds);
  const total = warm + Math.round(rate * seconds);
  const sentAt = new Float64Array(total).fill(Number.NaN);
  const samples: number[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const reply = (await con.sendCommand(['XREADGROUP', 'GROUP', 'raw', 'c', 'COUNT', '256', 'BLOCK', '100', 'STREAMS', key, '>'])) as
        | Array<[string, Array<[string, string[]]>]>
        | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      const now = performance.now();
      for (const [, fields] of entries) {
        const seq = Number(fields[1]);
        if (seq >= warm) samples.push(now - sentAt[seq]!);
      }
      await pub.sendCommand(['XACK', key, 'raw', ...entries.map(([id]) => id)]);
    }
  })();
  await sleep(50);
  await paced(rate, total, (i) => {
    sentAt[i] = performance.now();
    void pub.sendCommand(['XADD', key, '*', 'seq', String(i)]);
  });
  const deadline = performance.now() + 5_000;
  while (samples.length < total - warm && performance.now() < deadline) await sleep(5);
  stop = true;
  await loop;
  pub.destroy();
  con.destroy();
  return summarize(samples);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

interface Round {
  ceiling: number;
  publish: number;
  e2e: number;
  e2eBatch: number;
  e2eTwo: number;
  e2ePipelined: number;
  /** Server CPU µs per XADD of the ceiling run, and server / Node CPU µs per message of the `publish()` publish→handler run. */
  cpu: { ceilingServerUs: number; e2eServerUs: number; e2eNodeUs: number };
  lat: Latency[];
  floor: Latency[];
  load: string;
}

const ms = (x: number) => x.toFixed(2);
const us = (x: number) => x.toFixed(2);

if (process.argv[2] === '--publisher') {
  await runPublisher(process.argv[3]!, Number(process.argv[4]));
} else {
  await main();
}

async function main(): Promise<void> {
  try {
    // Warm-up (JIT, connections) of both paths: without the publish→handler run the first
    // round's latency samples timed the consume path's compilation, not its steady state.
    await publishOnly(20_000);
    await endToEnd(20_000, publishEach);
    const results: Round[] = [];
    for (let r = 1; r <= rounds; r++) {
      const before = load();
      await sleep(200);
      const lat: Latency[] = [];
      const floor: Latency[] = [];
      for (const rate of rates) {
        lat.push(await latency(rate, 2));
        floor.push(await rawLatency(rate, 2));
      }
      // As many XADDs as each Oona run sends: both sides carry the same start-up costs per message.
      const ceilingRun = await withCpu(messages, () => ceiling(messages));
      const max = ceilingRun.value;
      const publish = await publishOnly(messages);
      const e2eRun = await withCpu(messages, () => endToEnd(messages, publishEach));
      const e2e = e2eRun.value;
      const e2eBatch = await endToEnd(messages, publishBatches);
      const e2eTwo = await endToEndTwoProcesses(messages);
      const e2ePipelined = await endToEnd(messages, publishEach, 1);
      const cpu = { ceilingServerUs: ceilingRun.serverUs, e2eServerUs: e2eRun.serverUs, e2eNodeUs: e2eRun.nodeUs };
      const round: Round = { ceiling: max, publish, e2e, e2eBatch, e2eTwo, e2ePipelined, cpu, lat, floor, load: `${before} → ${load()}` };
      results.push(round);
      console.log(
        `round ${r}: ceiling ${fmt(max)} req/s; publish ${fmt(publish)} msg/s; publish→handler ${fmt(e2e)} msg/s (${pct(e2e / max)}), ` +
          `publishBatch ${fmt(e2eBatch)} msg/s (${pct(e2eBatch / max)}), publisher in its own process ${fmt(e2eTwo)} msg/s (${pct(e2eTwo / max)}), one XADD per write ${fmt(e2ePipelined)} msg/s (${pct(e2ePipelined / max)}); ` +
          `CPU: server ${us(cpu.ceilingServerUs)} µs per ceiling XADD, ${us(cpu.e2eServerUs)} µs per publish→handler message (Node ${us(cpu.e2eNodeUs)} µs); ` +
          rates
            .map((rate, k) => `${fmt(rate)} msg/s p50/p99/max ${ms(lat[k]!.p50)}/${ms(lat[k]!.p99)}/${ms(lat[k]!.max)} ms (bare node-redis ${ms(floor[k]!.p50)}/${ms(floor[k]!.p99)}/${ms(floor[k]!.max)})`)
            .join('; ') +
          `; load ${round.load}`,
      );
    }
    const m = (f: (r: Round) => number) => median(results.map(f));
    const ratio = m((r) => r.e2e / r.ceiling);
    const batchRatio = m((r) => r.e2eBatch / r.ceiling);
    const twoRatio = m((r) => r.e2eTwo / r.ceiling);
    const p99s = rates.map((_, k) => m((r) => r.lat[k]!.p99));
    console.log(`\nmedians over ${rounds} rounds (load average 1/5/15 min before → after each round: ${results.map((r) => r.load).join('; ')}):`);
    console.log(`redis-benchmark XADD ceiling (50 clients, pipeline 16): ${fmt(m((r) => r.ceiling))} req/s`);
    console.log(`oona-redis publish throughput: ${fmt(m((r) => r.publish))} msg/s = ${pct(m((r) => r.publish / r.ceiling))} of the ceiling`);
    console.log(`oona-redis publish→handler throughput, publish(): ${fmt(m((r) => r.e2e))} msg/s = ${pct(ratio)} of the ceiling`);
    console.log(`oona-redis publish→handler throughput, publishBatch(512): ${fmt(m((r) => r.e2eBatch))} msg/s = ${pct(batchRatio)} of the ceiling`);
    console.log(`oona-redis publish→handler throughput, publish() in a separate publisher process: ${fmt(m((r) => r.e2eTwo))} msg/s = ${pct(twoRatio)} of the ceiling`);
    console.log(
      `oona-redis publish→handler, one XADD per socket write (appendBatchMax 1): ${fmt(m((r) => r.e2ePipelined))} msg/s = ${pct(m((r) => r.e2ePipelined / r.ceiling))} of the ceiling`,
    );
    const serverRatio = m((r) => r.cpu.ceilingServerUs / r.cpu.e2eServerUs);
    console.log(
      `CPU per request / message: redis-server ${us(m((r) => r.cpu.ceilingServerUs))} µs per ceiling XADD, ${us(m((r) => r.cpu.e2eServerUs))} µs per publish→handler message ` +
        `(Node ${us(m((r) => r.cpu.e2eNodeUs))} µs); with the server as the bottleneck publish→handler can reach at most ${pct(serverRatio)} of the ceiling`,
    );
    rates.forEach((rate, k) =>
      console.log(
        `oona-redis publish→handler latency at ${fmt(rate)} msg/s: p50 ${ms(m((r) => r.lat[k]!.p50))} ms, p99 ${ms(p99s[k]!)} ms ` +
          `(bare node-redis: p50 ${ms(m((r) => r.floor[k]!.p50))} ms, p99 ${ms(m((r) => r.floor[k]!.p99))} ms; ${results[0]!.lat[k]!.n} samples a round)`,
      ),
    );
    console.log(
      `goals: ≥ 50% of ceiling → publish() ${ratio >= 0.5 ? 'met' : 'not met'}, publishBatch ${batchRatio >= 0.5 ? 'met' : 'not met'}, ` +
        `separate publisher process ${twoRatio >= 0.5 ? 'met' : 'not met'}; p99 < 2 ms at ${rates.map(fmt).join(' and ')} msg/s → ${p99s.map((p) => (p < 2 ? 'met' : 'not met')).join(', ')}`,
    );
  } finally {
    await Promise.allSettled(backends.map((b) => b.close()));
    const keys = spawnSync('redis-cli', ['-h', hostname, '-p', port || '6379', '--scan', '--pattern', `${prefix}*`], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean);
    if (keys.length > 0) spawnSync('redis-cli', ['-h', hostname, '-p', port || '6379', 'DEL', ...keys]);
  }
}
