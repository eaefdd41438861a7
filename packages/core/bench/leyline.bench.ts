// Leyline serialization benchmark (reference §2.5 latency budgets). Prints figures; asserts nothing.
// Run: pnpm exec tsx --conditions=@esper/source packages/core/bench/leyline.bench.ts
//   (or `pnpm bench leyline`). ITERATIONS=<n> overrides the iteration count.
import { fromBinary, toBinary, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  AdaptationCommandSchema,
  BusMessageType,
  decodeMessage,
  encodeEnvelope,
  FieldReportSchema,
  SystemStatePacketSchema,
  TelemetryPacketSchema,
  toDeterministicBinary,
  unwrapEnvelope,
} from '../src/leyline/index.js';
import { commandFixture, fieldReportFixture, statePacketFixture, telemetryFixture } from '../test/leyline/fixtures.js';

const ITERATIONS = Math.max(10_000, Number(process.env['ITERATIONS'] ?? 10_000));
const WARMUP = 3_000;
let sink = 0; // keeps results alive so the JIT cannot drop the work

/** Mean µs per call of `fn` over ITERATIONS calls, after WARMUP calls; best of 3 rounds. */
function measure(fn: () => number): number {
  for (let i = 0; i < WARMUP; i++) sink += fn();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) sink += fn();
    const us = Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS;
    if (us < best) best = us;
  }
  return best;
}

interface Row {
  readonly name: string;
  readonly bytes: number;
  readonly roundTripUs: number;
  readonly budgetUs: number | undefined;
  readonly jsonUs: number;
  readonly deterministicUs: number;
  readonly toBinaryUs: number;
}

function bench<Desc extends DescMessage>(name: string, schema: Desc, message: MessageShape<Desc>, budgetUs: number | undefined): Row {
  const bytes = toBinary(schema, message);
  // Baseline in the same process: JSON.stringify + JSON.parse of the equivalent plain object.
  const plain = toJson(schema, message);
  return {
    name,
    bytes: bytes.length,
    roundTripUs: measure(() => fromBinary(schema, toBinary(schema, message)) === undefined ? 0 : 1),
    budgetUs,
    jsonUs: measure(() => (JSON.parse(JSON.stringify(plain)) as object) === undefined ? 0 : 1),
    deterministicUs: measure(() => toDeterministicBinary(schema, message).length),
    toBinaryUs: measure(() => toBinary(schema, message).length),
  };
}

const rows: Row[] = [
  bench('SystemStatePacket', SystemStatePacketSchema, statePacketFixture(), 80),
  bench('AdaptationCommand', AdaptationCommandSchema, commandFixture(), 80),
  bench('FieldReport', FieldReportSchema, fieldReportFixture(), 120),
  bench('TelemetryPacket', TelemetryPacketSchema, telemetryFixture(), undefined),
];

// Envelope path as Oona uses it: wrap + encode, then decode envelope + payload (checked decode).
const command = commandFixture();
const envelopeBytes = encodeEnvelope(BusMessageType.ADAPTATION_COMMAND, command, { origin: 'tamiyo' });
const envelopeUs = measure(() => unwrapEnvelope(encodeEnvelope(BusMessageType.ADAPTATION_COMMAND, command, { origin: 'tamiyo' })).messageType);
const envelopeJsonPlain = { message_type: 'BUS_MESSAGE_TYPE_ADAPTATION_COMMAND', payload: toJson(AdaptationCommandSchema, command), attributes: { origin: 'tamiyo' } };
const envelopeJsonUs = measure(() => (JSON.parse(JSON.stringify(envelopeJsonPlain)) as object) === undefined ? 0 : 1);
const stateBytes = toBinary(SystemStatePacketSchema, statePacketFixture());
const checkedDecodeUs = measure(() => decodeMessage(SystemStatePacketSchema, stateBytes).currentEpoch);
const plainDecodeUs = measure(() => fromBinary(SystemStatePacketSchema, stateBytes).currentEpoch);

const f = (n: number, digits = 2) => n.toFixed(digits);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

console.log(`Leyline serialize+parse, mean µs per message (${ITERATIONS} iterations after ${WARMUP} warm-up, best of 3), Node ${process.version}`);
console.log(
  [pad('message', 24), lpad('bytes', 6), lpad('µs', 8), lpad('budget', 8), lpad('÷budget', 9), lpad('JSON µs', 9), lpad('÷JSON', 7), lpad('toBinary', 9), lpad('determ.', 9), lpad('÷toBin', 7)].join(' '),
);
for (const r of rows) {
  console.log(
    [
      pad(r.name, 24),
      lpad(String(r.bytes), 6),
      lpad(f(r.roundTripUs), 8),
      lpad(r.budgetUs === undefined ? '-' : String(r.budgetUs), 8),
      lpad(r.budgetUs === undefined ? '-' : f(r.roundTripUs / r.budgetUs, 3), 9),
      lpad(f(r.jsonUs), 9),
      lpad(f(r.roundTripUs / r.jsonUs), 7),
      lpad(f(r.toBinaryUs), 9),
      lpad(f(r.deterministicUs), 9),
      lpad(f(r.deterministicUs / r.toBinaryUs), 7),
    ].join(' '),
  );
}
console.log(
  [pad('BusEnvelope(command)', 24), lpad(String(envelopeBytes.length), 6), lpad(f(envelopeUs), 8), lpad('-', 8), lpad('-', 9), lpad(f(envelopeJsonUs), 9), lpad(f(envelopeUs / envelopeJsonUs), 7)].join(' '),
);
console.log(`decodeMessage (wire-type check + fromBinary) on SystemStatePacket: ${f(checkedDecodeUs)} µs vs fromBinary ${f(plainDecodeUs)} µs (×${f(checkedDecodeUs / plainDecodeUs)})`);
console.log('µs: toBinary+fromBinary; JSON: JSON.stringify+JSON.parse of the toJson object; determ.: toDeterministicBinary; envelope: wrap+encode+unwrap (checked).');
if (sink === 42) console.log('');
