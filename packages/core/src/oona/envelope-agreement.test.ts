// Issue 15, finding 5: the Oona client's envelope codec (readEnvelope, on every consumed entry)
// and Leyline's decoder (decodeMessage(BusEnvelopeSchema), protobuf-es underneath) accept and
// reject the same bytes, with the same values. Seeded property test: 10 000 envelopes built
// field by field — every wire type among unknown fields, groups nested up to and past the
// limit, overlong varints, duplicated and reordered fields, attribute entries with missing or
// doubled keys — checked against a model and protobuf-es; then 10 000 mutations of them
// (bit flips, truncation, insertion, deletion, spliced tags), where the two must agree.
import { fromBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { BusEnvelopeSchema, decodeMessage } from '../leyline/index.js';
import { EnvelopeDecodeError, readEnvelope } from './envelope-codec.js';

const CASES = 10_000;

/** mulberry32: same seed, same sequence. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (n: number): number => Math.floor(next() * n),
    chance: (p: number): boolean => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

const utf8 = new TextEncoder();

/** A varint of `value` (unsigned 64-bit), padded with `extra` redundant continuation bytes where that keeps it ≤ `max` bytes. */
function varint(value: bigint, extra = 0, max = 10): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if (v === 0n) {
      out.push(b);
      break;
    }
    out.push(b | 0x80);
  }
  // Non-minimal encodings: turn the last byte into a continuation and append zero groups.
  for (let i = 0; i < extra && out.length < max; i++) {
    out[out.length - 1]! |= 0x80;
    out.push(0);
  }
  return out;
}

const tag = (field: number, wire: number, extra = 0): number[] => varint(BigInt(field * 8 + wire), extra, 5);
const lengthDelimited = (field: number, body: number[], rng?: Rng): number[] => [...tag(field, 2), ...varint(BigInt(body.length), rng?.chance(0.05) ? 1 + rng.int(3) : 0), ...body];

const ENUM_VALUES: readonly bigint[] = [0n, 1n, 4n, 10n, 13n, 22n, 127n, 128n, 300n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n + 7n, 2n ** 63n + 9n, 2n ** 64n - 1n, -1n, -(2n ** 31n)];
const STRINGS: readonly string[] = ['', 'origin', 'attempt', 'tolaria', 'é', '✓ ok', '𝔼sper', 'a\u0000b', 'x'.repeat(200), '\uFEFFbom'];

interface Model {
  messageType: number;
  payload: Uint8Array;
  attributes: Record<string, string>;
}

/** A random unknown field (top level), as wire bytes: any wire type, groups nested `depth` deep. */
function unknownField(rng: Rng, depth = 0): number[] {
  const field = rng.chance(0.8) ? 4 + rng.int(60) : 4 + rng.int(536_870_900);
  switch (rng.int(depth > 3 ? 4 : 5)) {
    case 0:
      // Varints of any length are skipped (as protobuf-es skips them), even past 10 bytes.
      return [...tag(field, 0), ...varint(BigInt(rng.int(1 << 30)) * BigInt(1 + rng.int(1 << 20)), rng.chance(0.1) ? rng.int(6) : 0, 14)];
    case 1:
      return [...tag(field, 1), ...Array.from({ length: 8 }, () => rng.int(256))];
    case 2:
      return lengthDelimited(field, Array.from({ length: rng.int(20) }, () => rng.int(256)), rng);
    case 3:
      return [...tag(field, 5), ...Array.from({ length: 4 }, () => rng.int(256))];
    default: {
      const body: number[] = [];
      for (let i = rng.int(4); i > 0; i--) body.push(...unknownField(rng, depth + 1));
      return [...tag(field, 3), ...body, ...tag(field, 4)];
    }
  }
}

/** Groups nested `n` deep (protobuf-es allows 99 inside the envelope). */
function nestedGroups(n: number): number[] {
  const open: number[] = [];
  const close: number[] = [];
  for (let i = 0; i < n; i++) {
    open.push(...tag(10 + (i % 5), 3));
    close.unshift(...tag(10 + (i % 5), 4));
  }
  return [...open, ...close];
}

/** A well-formed envelope, field by field, and the values it must decode to (last field wins). */
function envelope(rng: Rng): { bytes: Uint8Array; model: Model } {
  const model: Model = { messageType: 0, payload: new Uint8Array(), attributes: {} };
  const parts: number[][] = [];
  for (let n = rng.int(9); n > 0; n--) {
    switch (rng.int(5)) {
      case 0: {
        const value = rng.pick(ENUM_VALUES);
        parts.push([...tag(1, 0, rng.chance(0.05) ? 1 : 0), ...varint(value, rng.chance(0.1) ? 1 + rng.int(4) : 0)]);
        model.messageType = Number(BigInt.asIntN(32, value));
        break;
      }
      case 1: {
        const payload = Array.from({ length: rng.int(40) }, () => rng.int(256));
        parts.push(lengthDelimited(2, payload, rng));
        model.payload = Uint8Array.from(payload);
        break;
      }
      case 2: {
        // An attribute entry: key and value in either order, either missing, a key given twice.
        let key = '';
        let value = '';
        const body: number[] = [];
        for (let i = rng.int(4); i > 0; i--) {
          const field = rng.chance(0.5) ? 1 : 2;
          const text = rng.pick(STRINGS);
          body.push(...lengthDelimited(field, [...utf8.encode(text)]));
          // A leading BOM is dropped by both decoders (TextDecoder), as protobuf-es does.
          const decoded = text.startsWith('\uFEFF') ? text.slice(1) : text;
          if (field === 1) key = decoded;
          else value = decoded;
        }
        parts.push(lengthDelimited(3, body, rng));
        model.attributes[key] = value;
        break;
      }
      case 3:
        parts.push(unknownField(rng));
        break;
      default:
        parts.push(rng.chance(0.9) ? unknownField(rng) : nestedGroups(90 + rng.int(9)));
    }
  }
  return { bytes: Uint8Array.from(parts.flat()), model };
}

/** An envelope with one thing in it that both decoders must refuse. */
function refused(rng: Rng): Uint8Array {
  const { bytes } = envelope(rng);
  const bad: number[][] = [
    nestedGroups(100 + rng.int(20)), // groups nested past protobuf-es's limit
    [...tag(1, 2), 1, 0], // message_type with the wrong wire type
    [...tag(2, 0), 5], // payload with the wrong wire type
    [...tag(3, 0), 5], // attributes with the wrong wire type
    lengthDelimited(3, [...tag(5, 0), 1]), // an unknown field inside an attribute entry
    lengthDelimited(3, [...tag(1, 0), 1]), // an attribute key with the wrong wire type
    lengthDelimited(3, [...tag(1, 2), 2, 0xc3, 0x28]), // invalid UTF-8
    [...tag(7, 3), ...tag(8, 4)], // a group closed by another field's end tag
    [...tag(7, 4)], // an end-group tag with no group
    [0x0e, 0], // wire type 6
    [0x00, 0], // field number 0
    [0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0], // a tag longer than 5 bytes
    [...tag(1, 0), ...Array<number>(10).fill(0x80), 0x01], // an 11-byte enum varint
    [...tag(6, 2), ...varint(2n ** 32n + 3n), 1, 2, 3], // a length that wraps to 3 in 32 bits: accepted by both
  ];
  const k = rng.int(bad.length);
  const at = rng.int(2) === 0 ? 0 : bytes.length;
  return Uint8Array.from(at === 0 ? [...bad[k]!, ...bytes] : [...bytes, ...bad[k]!]);
}

function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  switch (rng.int(6)) {
    case 0:
      for (let n = 1 + rng.int(4); n > 0 && bytes.length > 0; n--) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      break;
    case 1:
      bytes.length = rng.int(bytes.length + 1);
      break;
    case 2:
      bytes.splice(rng.int(bytes.length + 1), 0, ...Array.from({ length: 1 + rng.int(6) }, () => rng.int(256)));
      break;
    case 3:
      bytes.splice(rng.int(bytes.length + 1), 1 + rng.int(6));
      break;
    case 4:
      bytes.splice(rng.int(bytes.length + 1), 0, (rng.int(12) << 3) | rng.int(8), rng.int(256));
      break;
    default: {
      const start = rng.int(bytes.length + 1);
      bytes.splice(rng.int(bytes.length + 1), 0, ...bytes.slice(start, start + 1 + rng.int(16)));
    }
  }
  return Uint8Array.from(bytes);
}

type Verdict = { ok: true; model: Model } | { ok: false; error: unknown };

function oona(bytes: Uint8Array): Verdict {
  try {
    const e = readEnvelope(bytes);
    return { ok: true, model: { messageType: e.messageType, payload: e.payload, attributes: e.attributes } };
  } catch (error) {
    return { ok: false, error };
  }
}

function leyline(bytes: Uint8Array): Verdict {
  try {
    const e = decodeMessage(BusEnvelopeSchema, bytes);
    return { ok: true, model: { messageType: e.messageType, payload: e.payload, attributes: { ...e.attributes } } };
  } catch (error) {
    return { ok: false, error };
  }
}

const same = (a: Model, b: Model): boolean =>
  a.messageType === b.messageType && Buffer.from(a.payload).equals(Buffer.from(b.payload)) && JSON.stringify(Object.entries(a.attributes).sort()) === JSON.stringify(Object.entries(b.attributes).sort());

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('the Oona envelope codec and the Leyline decoder agree (seeded property test, issue 15)', () => {
  it(`${CASES} well-formed envelopes: both decode them to the model, as protobuf-es does`, () => {
    const rng = prng(15_001);
    for (let n = 0; n < CASES; n++) {
      const { bytes, model } = envelope(rng);
      const ours = oona(bytes);
      const theirs = leyline(bytes);
      if (!ours.ok || !theirs.ok) throw new Error(`case ${n} (${hex(bytes)}): oona ${ours.ok ? 'ok' : String(ours.error)}, leyline ${theirs.ok ? 'ok' : String(theirs.error)}`);
      if (!same(ours.model, model) || !same(theirs.model, model)) {
        throw new Error(`case ${n} (${hex(bytes)}): model ${JSON.stringify(model)}, oona ${JSON.stringify(ours.model)}, leyline ${JSON.stringify(theirs.model)}`);
      }
      const es = fromBinary(BusEnvelopeSchema, bytes);
      expect(es.messageType).toBe(model.messageType);
    }
  });

  it(`${CASES} envelopes with a defect or a mutation: both accept or both refuse, and agree on the values`, () => {
    const rng = prng(15_002);
    let refusedBoth = 0;
    for (let n = 0; n < CASES; n++) {
      const bytes = n % 4 === 0 ? refused(rng) : mutate(rng, envelope(rng).bytes);
      const ours = oona(bytes);
      const theirs = leyline(bytes);
      if (ours.ok !== theirs.ok || (ours.ok && theirs.ok && !same(ours.model, theirs.model))) {
        throw new Error(
          `case ${n} (${hex(bytes)}): oona ${ours.ok ? JSON.stringify(ours.model) : String(ours.error)}, leyline ${theirs.ok ? JSON.stringify(theirs.model) : String(theirs.error)}`,
        );
      }
      if (!ours.ok) {
        // Refusals are typed, never a TypeError or RangeError.
        expect(ours.error).toBeInstanceOf(EnvelopeDecodeError);
        refusedBoth++;
      }
    }
    // The generator does reach both sides.
    expect(refusedBoth).toBeGreaterThan(CASES / 10);
    expect(refusedBoth).toBeLessThan(CASES);
  });

  it('input that is not bytes is refused with a typed error, never read as an empty envelope', () => {
    for (const input of [42, {}, new ArrayBuffer(4), null, undefined, 'payload', [8, 1]]) {
      expect(() => readEnvelope(input as unknown as Uint8Array), String(input)).toThrow(EnvelopeDecodeError);
    }
    expect(readEnvelope(Buffer.from([0x08, 0x04])).messageType).toBe(4);
  });
});
