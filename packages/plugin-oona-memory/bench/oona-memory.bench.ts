/**
 * Oona in process: publish→handler throughput and latency through the full OonaClient
 * (envelope encode, optional HMAC, append, group read, decode, verify, handler, batched ack).
 * Run: pnpm bench oona-memory   (or pnpm exec tsx --conditions=@esper/source <this file>)
 * Prints figures; never asserts times.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { LeylineSigner, MemoryBroker, OonaClient, SystemClock, type OonaMessage } from '@esper/core';
import { BusMessageType, SystemStatePacketSchema } from '@esper/core/leyline';

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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function throughput(n: number, signed: boolean): Promise<number> {
  const broker = new MemoryBroker(clock);
  const pub = client(broker, signed ? 'tput-signed' : 'tput', signed);
  const con = client(broker, signed ? 'tput-signed' : 'tput', signed);
  await pub.ensureGroups();
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sub = con.subscribe(
    () => {
      if (++handled === n) done();
    },
    { count: 512, blockMs: 100 },
  );
  const t0 = performance.now();
  const window = 1_024;
  for (let i = 0; i < n; i += window) {
    const batch: Array<Promise<boolean>> = [];
    for (let j = i; j < Math.min(n, i + window); j++) batch.push(pub.publish(BusMessageType.SYSTEM_STATE, payload));
    await Promise.all(batch);
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await sub.stop();
  await Promise.all([pub.close(), con.close()]);
  return n / seconds;
}

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

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
await throughput(50_000, false); // warm-up
const unsigned = throughput(400_000, false);
const plain = await unsigned;
const signed = await throughput(200_000, true);
const lat = await latency(5_000, 2);
console.log(`oona-memory publish→handler throughput: ${fmt(plain)} msg/s unsigned, ${fmt(signed)} msg/s signed (HMAC-SHA256)`);
console.log(`oona-memory publish→handler latency at 5,000 msg/s: p50 ${lat.p50.toFixed(3)} ms, p99 ${lat.p99.toFixed(3)} ms (${lat.n} samples)`);
console.log(`goal: ≥ 500,000 msg/s unsigned → ${plain >= 500_000 ? 'met' : 'not met'} (${(plain / 500_000).toFixed(2)}× of goal)`);
