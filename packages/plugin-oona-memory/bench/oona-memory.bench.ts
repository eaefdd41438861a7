/**
 * Oona in process: publish→handler throughput and latency through the full OonaClient
 * (routing, envelope encode, optional HMAC, append, consumer-group read, decode, verify,
 * guards, handler, batched ack, metrics). Every figure counts messages published through the
 * public client API and handed to a user handler by a subscription, then acknowledged.
 * Run: pnpm bench oona-memory   (or pnpm exec tsx --conditions=@esper/source <this file>)
 * Each throughput is the median of ROUNDS runs in this process; prints figures, never asserts times.
 */
import { loadavg } from 'node:os';
import { create, toBinary } from '@bufbuild/protobuf';
import { LeylineSigner, SystemClock, type OonaMessage, type PublishBatchItem } from '@esper/core';
import { OonaClient } from '@esper/core/oona';
import { BusMessageType, SystemStatePacketSchema } from '@esper/core/leyline';
// The client's own envelope codec (internal to @esper/core: no entry point exports it), so that
// the bare-broker baseline encodes and decodes exactly as the client does.
import { readEnvelope, writeEnvelope } from '../../core/src/oona/envelope-codec.js';
import { MemoryBroker } from '../src/index.js';

const ROUNDS = 3;
const MESSAGES = 400_000;
const BATCH = 512;

const clock = new SystemClock();
const payload = toBinary(
  SystemStatePacketSchema,
  create(SystemStatePacketSchema, { version: 1, currentEpoch: 3, validationLoss: 0.25, validationAccuracy: 0.9, trainingRunId: 'bench-run', globalStep: 12345n }),
);

function client(broker: MemoryBroker, group: string, signed: boolean): OonaClient {
  return new OonaClient({
    backend: broker.backend(),
    clock,
    ...(signed ? { signer: new LeylineSigner('bench-secret') } : {}),
    settings: { group, consumer: `${group}-c`, normalStream: `bench.${group}`, retryIdleMs: 0, messageTtlMs: null },
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

type Publisher = 'batch' | 'single';

/** Messages per second from the first publish until the handler has seen the last message. */
async function throughput(n: number, publisher: Publisher, signed: boolean): Promise<number> {
  const broker = new MemoryBroker(clock);
  const group = `tput-${publisher}${signed ? '-signed' : ''}`;
  const pub = client(broker, group, signed);
  const con = client(broker, group, signed);
  await pub.ensureGroups();
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sub = con.subscribe(
    () => {
      if (++handled === n) done();
    },
    { count: BATCH, blockMs: 100 },
  );
  const t0 = performance.now();
  if (publisher === 'batch') {
    for (let i = 0; i < n; i += BATCH) {
      const items: PublishBatchItem[] = [];
      for (let j = i; j < Math.min(n, i + BATCH); j++) items.push({ messageType: BusMessageType.SYSTEM_STATE, payload });
      await pub.publishBatch(items);
    }
  } else {
    // Up to 1 024 publish() calls in flight, as an application firing publishes would have.
    for (let i = 0; i < n; i += 1_024) {
      const batch: Array<Promise<unknown>> = [];
      for (let j = i; j < Math.min(n, i + 1_024); j++) batch.push(pub.publish(BusMessageType.SYSTEM_STATE, payload));
      await Promise.all(batch);
    }
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await sub.stop();
  // Every message was acknowledged, not only handled.
  const left = await con.backlog(con.streams.normal);
  if (left !== 0) throw new Error(`bench: ${left} entries left unacknowledged`);
  await Promise.all([pub.close(), con.close()]);
  return n / seconds;
}

/**
 * The baseline: the same broker without the client — encode each envelope, append them with
 * one appendMany per batch, read the batch through the group, decode each entry and ack it.
 * No routing, breakers, metrics, guards, subscription loop or handler.
 */
async function bareBackend(n: number): Promise<number> {
  const backend = new MemoryBroker(clock).backend();
  await backend.createGroup('bare', 'g');
  let handled = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const entries = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) entries.push({ payload: writeEnvelope(BusMessageType.SYSTEM_STATE, payload) });
    await backend.appendMany('bare', entries);
    const read = await backend.readGroup('bare', 'g', 'c', { count: BATCH });
    const ids: string[] = [];
    for (const entry of read) {
      if (readEnvelope(entry.fields.payload!).payload.length > 0) handled++;
      ids.push(entry.id);
    }
    await backend.ack('bare', 'g', ids);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (handled !== n) throw new Error(`bench: the bare loop handled ${handled} of ${n}`);
  await backend.close();
  return n / seconds;
}

/** Latency of single publishes paced at `rate` per second, publish call to handler entry. */
async function latency(rate: number, seconds: number): Promise<{ p50: number; p99: number; n: number }> {
  const broker = new MemoryBroker(clock);
  const pub = client(broker, 'lat', false);
  const con = client(broker, 'lat', false);
  await pub.ensureGroups();
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  const sub = con.subscribe((m: OonaMessage) => void samples.push(performance.now() - (sentAt.get(m.attributes.seq!) ?? NaN)), {
    count: 64,
    blockMs: 100,
  });
  const total = rate * seconds;
  const intervalMs = 1000 / rate;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    while (performance.now() < due) await new Promise((r) => setImmediate(r));
    sentAt.set(String(i), performance.now());
    await pub.publish(BusMessageType.SYSTEM_STATE, payload, { attributes: { seq: String(i) } });
  }
  const deadline = performance.now() + 5_000;
  while (samples.length < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await sub.stop();
  await Promise.all([pub.close(), con.close()]);
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
}

async function rounds(run: () => Promise<number>): Promise<{ median: number; all: number[] }> {
  const all: number[] = [];
  for (let r = 0; r < ROUNDS; r++) all.push(await run());
  return { median: median(all), all };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const list = (xs: readonly number[]) => xs.map(fmt).join(' / ');
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

console.log(`load average before: ${load()}`);
await throughput(50_000, 'batch', false); // warm-up
await throughput(50_000, 'single', false);
await bareBackend(50_000);
const batch = await rounds(() => throughput(MESSAGES, 'batch', false));
const single = await rounds(() => throughput(MESSAGES, 'single', false));
const bare = await rounds(() => bareBackend(MESSAGES));
const signed = await rounds(() => throughput(MESSAGES / 2, 'batch', true));
const lat = await latency(5_000, 2);
console.log(`oona-memory publish→handler throughput (median of ${ROUNDS}, ${fmt(MESSAGES)} messages each):`);
console.log(`  publishBatch (${BATCH} per call), unsigned: ${fmt(batch.median)} msg/s   [${list(batch.all)}]`);
console.log(`  publish() per message, unsigned:      ${fmt(single.median)} msg/s   [${list(single.all)}]`);
console.log(`  publishBatch, signed (HMAC-SHA256):   ${fmt(signed.median)} msg/s   [${list(signed.all)}]`);
console.log(`  baseline, bare broker loop (appendMany + readGroup + decode + ack, no client): ${fmt(bare.median)} msg/s   [${list(bare.all)}]`);
console.log(
  `  ratios: publishBatch / bare broker ${(batch.median / bare.median).toFixed(2)}×, publishBatch / publish() ${(batch.median / single.median).toFixed(2)}×`,
);
console.log(`oona-memory publish→handler latency at 5,000 msg/s (publish()): p50 ${lat.p50.toFixed(3)} ms, p99 ${lat.p99.toFixed(3)} ms (${lat.n} samples)`);
console.log(`goal: ≥ 500,000 msg/s unsigned → ${batch.median >= 500_000 ? 'met' : 'not met'} (${(batch.median / 500_000).toFixed(2)}× of goal, publishBatch median)`);
console.log(`load average after: ${load()}`);
