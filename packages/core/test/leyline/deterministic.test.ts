// Deterministic encoding: map insertion order never changes the bytes, and the bytes equal
// protoc --deterministic_output; otherwise identical to protobuf-es toBinary.
import { create, fromBinary, toBinary, type JsonObject } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import {
  AdaptationCommandSchema,
  CommandType,
  compareUtf8,
  SeedOperation,
  SystemStatePacketSchema,
  toDeterministicBinary,
  type AdaptationCommand,
} from '../../src/leyline/index.js';
import { fullVectors, NON_ASCII } from './fixtures.js';
import { prng } from './prng.js';
import { hex, protocEncode } from './protoc.js';
import { printText } from './text-format.js';

// Integer-like keys (which JS objects always list first, in numeric order), non-ASCII keys,
// astral characters versus U+FF21 (UTF-16 and UTF-8 orders differ), the empty key.
const KEYS = ['10', '9', 'a', 'b', 'signature', 'risk', '', '日本', '🙂', '\uff21', 'Z', '0', '01', '-1', '4294967296', NON_ASCII];

function fromEntries<V>(entries: readonly (readonly [string, V])[]): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** A stable number per key, so values do not depend on insertion order. */
const rank = (k: string) => KEYS.indexOf(k);

function nestedJson(keys: readonly string[], depth: number): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) {
    const i = rank(k);
    out[k] = depth > 0 && i % 5 === 0 ? nestedJson(keys, depth - 1) : i % 2 === 0 ? i : [k, null, true];
  }
  return out;
}

function commandWith(order: readonly string[], payload: 'seed' | 'rollback'): AdaptationCommand {
  return create(AdaptationCommandSchema, {
    version: 1,
    commandId: 'cmd-1',
    commandType: CommandType.COMMAND_SEED,
    issuedAt: timestampFromMs(1_760_000_000_000),
    payload:
      payload === 'seed'
        ? { case: 'seedOperation', value: { operation: SeedOperation.SEED_OP_GERMINATE, blueprintId: 'bp', parameters: fromEntries(order.map((k) => [k, rank(k) / 4])) } }
        : { case: 'rollbackPayload', value: nestedJson(order, 2) },
    annotations: fromEntries(order.map((k) => [k, `v-${k}`])),
  });
}

describe('toDeterministicBinary', () => {
  it.each(['seed', 'rollback'] as const)('AdaptationCommand (%s payload): shuffled map insertion orders give identical bytes = protoc --deterministic_output', (payload) => {
    const rnd = prng(0x5eed);
    const first = commandWith(KEYS, payload);
    const expected = toDeterministicBinary(AdaptationCommandSchema, first);
    expect(hex(expected)).toBe(hex(protocEncode('AdaptationCommand', printText(AdaptationCommandSchema, first), true)));
    for (let i = 0; i < 25; i++) {
      const shuffled = commandWith(rnd.shuffle(KEYS), payload);
      expect(hex(toDeterministicBinary(AdaptationCommandSchema, shuffled))).toBe(hex(expected));
    }
  });

  it('integer-like string keys sort by UTF-8 bytes ("10" < "9" < "a"), not JS object order', () => {
    const cmd = create(AdaptationCommandSchema, { annotations: { a: '', '9': '', '10': '' } });
    expect(Object.keys(cmd.annotations)).toEqual(['9', '10', 'a']); // what toBinary writes
    const bytes = toDeterministicBinary(AdaptationCommandSchema, cmd);
    // Read the annotation entries (field 20) in wire order.
    const keys: string[] = [];
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [no, wt] = reader.tag();
      if (no !== 20) {
        reader.skip(wt, no);
        continue;
      }
      const entry = new BinaryReader(reader.bytes());
      entry.tag();
      keys.push(entry.string());
    }
    expect(keys).toEqual(['10', '9', 'a']);
  });

  it('SystemStatePacket with nested seed-state maps: shuffled orders agree with protoc', () => {
    const rnd = prng(42);
    const make = (order: readonly string[]) =>
      create(SystemStatePacketSchema, {
        version: 1,
        trainingMetrics: fromEntries(order.map((k) => [k, rank(k)])),
        seedStates: [{ seedId: 's', metrics: fromEntries(order.map((k) => [k, -rank(k)])) }, { seedId: 't', metrics: fromEntries([...order].reverse().map((k) => [k, rank(k) * 2])) }],
      });
    const base = make(KEYS);
    const expected = hex(protocEncode('SystemStatePacket', printText(SystemStatePacketSchema, base), true));
    for (let i = 0; i < 10; i++) expect(hex(toDeterministicBinary(SystemStatePacketSchema, make(rnd.shuffle(KEYS))))).toBe(expected);
  });

  it('decodes to the same message, and is stable across a round trip, for every vector', () => {
    for (const v of fullVectors()) {
      const bytes = toDeterministicBinary(v.schema, v.message);
      const back = fromBinary(v.schema, bytes);
      expect(back, v.name).toEqual(fromBinary(v.schema, toBinary(v.schema, v.message)));
      expect(hex(toDeterministicBinary(v.schema, back)), v.name).toBe(hex(bytes));
    }
  });

  it('equals toBinary when every map is already in sorted order', () => {
    for (const v of fullVectors()) {
      // Re-decoding deterministic bytes yields objects whose non-integer keys are in sorted order;
      // integer-like keys still come first in JS, so only compare vectors without them.
      const sorted = fromBinary(v.schema, toDeterministicBinary(v.schema, v.message));
      const text = printText(v.schema, sorted);
      if (/key: "-?\d+"/.test(text)) continue;
      expect(hex(toDeterministicBinary(v.schema, sorted)), v.name).toBe(hex(toBinary(v.schema, sorted)));
    }
  });

  it('writes unknown fields after known fields, as toBinary does', () => {
    const withUnknown = new Uint8Array([...toBinary(AdaptationCommandSchema, create(AdaptationCommandSchema, { commandId: 'x' })), 0xf8, 0x06, 0x2a]);
    const msg = fromBinary(AdaptationCommandSchema, withUnknown);
    expect(msg.$unknown).toHaveLength(1);
    expect(hex(toDeterministicBinary(AdaptationCommandSchema, msg))).toBe(hex(withUnknown));
  });

  it('accepts a plain spread copy (as command signing does) and does not modify its input', () => {
    const cmd = commandWith(KEYS, 'seed');
    const before = hex(toBinary(AdaptationCommandSchema, cmd));
    const keysBefore = Object.keys(cmd.annotations);
    const annotations = Object.fromEntries(Object.entries(cmd.annotations).filter(([k]) => k !== 'signature'));
    const viaCopy = toDeterministicBinary(AdaptationCommandSchema, { ...cmd, annotations });
    expect(hex(toBinary(AdaptationCommandSchema, cmd))).toBe(before);
    expect(Object.keys(cmd.annotations)).toEqual(keysBefore);
    const stripped = create(AdaptationCommandSchema, { ...cmd, annotations });
    expect(hex(viaCopy)).toBe(hex(toDeterministicBinary(AdaptationCommandSchema, stripped)));
  });

  it('equals toBinary for long, nested and non-ASCII fields and 64-bit extremes, also after a failed call and a buffer larger than it keeps', () => {
    const long = (n: number, unit: string) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    const cases: AdaptationCommand[] = [
      // Lengths that need 1, 2 and 3 varint bytes, inside nested messages (the body moves).
      ...[0, 1, 127, 128, 300, 16_383, 16_384, 70_000].map((n) =>
        create(AdaptationCommandSchema, {
          commandId: long(n, 'c'),
          issuedAt: timestampFromMs(1_760_000_000_123),
          payload: { case: 'seedOperation', value: { blueprintId: long(n, 'b'), parameters: { only: n / 7 } } },
          annotations: { k: long(n, 'a') },
        }),
      ),
      create(AdaptationCommandSchema, { commandId: long(200, '日本🙂é'), annotations: { e: '', k: long(129, '\uff21') }, issuedAt: timestampFromMs(-1) }),
      create(AdaptationCommandSchema, { version: 4_000_000_000, commandType: CommandType.COMMAND_SEED, targetSeedId: 'x' }),
      create(AdaptationCommandSchema, { payload: { case: 'rollbackPayload', value: { deep: { deeper: { list: [long(500, 'x'), -0, 1e300, null, false] } } } } }),
    ];
    const bad = create(AdaptationCommandSchema, { commandId: long(1000, 'z'), version: 2 ** 32 });
    for (const c of [...cases, ...cases]) {
      expect(() => toDeterministicBinary(AdaptationCommandSchema, bad)).toThrow(/AdaptationCommand\.version/);
      expect(hex(toDeterministicBinary(AdaptationCommandSchema, c))).toBe(hex(toBinary(AdaptationCommandSchema, c)));
    }
    for (const value of [0.1, -0, Number.NaN, Infinity, -Infinity, 3.4028234663852886e38, -1e-45, 1e39]) {
      const c = create(AdaptationCommandSchema, { payload: { case: 'seedOperation', value: { parameters: { p: value } } } });
      let expected: string;
      try {
        expected = hex(toBinary(AdaptationCommandSchema, c));
      } catch {
        expect(() => toDeterministicBinary(AdaptationCommandSchema, c), String(value)).toThrow(/invalid float32/);
        continue;
      }
      expect(hex(toDeterministicBinary(AdaptationCommandSchema, c)), String(value)).toBe(expected);
    }
    for (const step of [0n, 1n, 127n, 128n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n]) {
      const packet = create(SystemStatePacketSchema, { globalStep: step, packetId: long(140, 'p') });
      expect(hex(toDeterministicBinary(SystemStatePacketSchema, packet)), String(step)).toBe(hex(toBinary(SystemStatePacketSchema, packet)));
    }
  });

  it('throws like toBinary on values that cannot be encoded', () => {
    const bad = create(AdaptationCommandSchema, { version: 2 ** 32 });
    expect(() => toBinary(AdaptationCommandSchema, bad)).toThrow(/version/);
    expect(() => toDeterministicBinary(AdaptationCommandSchema, bad)).toThrow(/AdaptationCommand\.version/);
  });
});

describe('compareUtf8', () => {
  it('orders like a bytewise comparison of the UTF-8 encodings', () => {
    const rnd = prng(7);
    const alphabet = ['a', 'Z', '0', '9', 'é', '✓', '日', '\ue000', '\uff21', '\uffff', '🙂', '𝄞', '\u0000', '\u007f', '\u0080'];
    const words = Array.from({ length: 400 }, () => Array.from({ length: rnd.int(4) }, () => rnd.pick(alphabet)).join(''));
    const bytewise = [...words].sort((x, y) => Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')));
    expect([...words].sort(compareUtf8)).toEqual(bytewise);
    expect(compareUtf8('🙂', '\uff21')).toBeGreaterThan(0); // UTF-16 order says the opposite
    expect('🙂' < '\uff21').toBe(true);
  });
});
