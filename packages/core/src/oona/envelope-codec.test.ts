import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { BusEnvelopeSchema, BusMessageType } from '../leyline/index.js';
import { readEnvelope, readEnvelopeInto, writeEnvelope, EnvelopeDecodeError, type EnvelopeTarget } from './envelope-codec.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('BusEnvelope codec', () => {
  it('is byte-identical to protobuf-es and decodes what protobuf-es writes (seeded random cases)', () => {
    const random = prng(1234);
    const types = [0, 1, 4, 10, 22, 127, 128, 300, -1];
    for (let n = 0; n < 300; n++) {
      const type = types[Math.floor(random() * types.length)]! as BusMessageType;
      const payload = Uint8Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256));
      const attributes: Record<string, string> = {};
      for (let i = Math.floor(random() * 4); i > 0; i--) attributes[`k${Math.floor(random() * 50)}-é`] = `v${random().toString(36)}✓`;
      const ours = writeEnvelope(type, payload, attributes);
      const theirs = toBinary(BusEnvelopeSchema, create(BusEnvelopeSchema, { messageType: type, payload, attributes }));
      expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
      const decoded = readEnvelope(theirs);
      expect(decoded.messageType).toBe(type);
      expect(Buffer.from(decoded.payload).equals(Buffer.from(payload))).toBe(true);
      expect(decoded.attributes).toEqual(attributes);
      expect(fromBinary(BusEnvelopeSchema, ours).attributes).toEqual(attributes);
    }
  });

  it('reads the message type as protobuf-es reads an enum: the low 32 bits of the varint, signed', () => {
    const varint = (v: bigint): number[] => {
      const out: number[] = [];
      for (;;) {
        const b = Number(v & 0x7fn);
        v >>= 7n;
        if (v === 0n) return [...out, b];
        out.push(b | 0x80);
      }
    };
    for (const v of [0n, 127n, 128n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n + 7n, 2n ** 48n + 2n ** 31n + 5n, 2n ** 63n + 9n, 2n ** 64n - 1n]) {
      const bytes = new Uint8Array([0x08, ...varint(v)]);
      expect(readEnvelope(bytes).messageType).toBe(fromBinary(BusEnvelopeSchema, bytes).messageType);
    }
    expect(() => readEnvelope(new Uint8Array([0x08, ...Array<number>(10).fill(0x80), 0x01]))).toThrow(EnvelopeDecodeError);
  });

  it('skips unknown fields and rejects malformed input', () => {
    const env = writeEnvelope(BusMessageType.TELEMETRY, new Uint8Array([1, 2]), { a: 'b' });
    const withUnknown = new Uint8Array([...env, 0x20, 0x05, 0x2d, 1, 2, 3, 4, 0x31, 1, 2, 3, 4, 5, 6, 7, 8, 0x3a, 0x01, 0x00]);
    expect(readEnvelope(withUnknown)).toEqual({ messageType: BusMessageType.TELEMETRY, payload: new Uint8Array([1, 2]), attributes: { a: 'b' } });
    expect(() => readEnvelope(new TextEncoder().encode('old'))).toThrow(EnvelopeDecodeError);
    expect(() => readEnvelope(new Uint8Array([0x12, 0x05, 1]))).toThrow(EnvelopeDecodeError);
    expect(() => readEnvelope(new Uint8Array([0x08]))).toThrow(EnvelopeDecodeError);
    expect(readEnvelope(new Uint8Array())).toEqual({ messageType: 0, payload: new Uint8Array(), attributes: {} });
  });

  it('readEnvelopeInto fills a caller\'s object like readEnvelope; no attributes is one shared frozen object', () => {
    const target: EnvelopeTarget = { messageType: BusMessageType.UNSPECIFIED, payload: new Uint8Array(), attributes: {} };
    const env = writeEnvelope(BusMessageType.TELEMETRY, new Uint8Array([7, 8, 9]), { attempt: '2', origin: 'ü' });
    readEnvelopeInto(env, target);
    expect(target).toEqual(readEnvelope(env));
    const bare = writeEnvelope(BusMessageType.SYSTEM_STATE, new Uint8Array([1]));
    readEnvelopeInto(bare, target);
    expect(target.messageType).toBe(BusMessageType.SYSTEM_STATE);
    expect(Object.isFrozen(target.attributes)).toBe(true);
    const second: EnvelopeTarget = { ...target, attributes: {} };
    readEnvelopeInto(bare, second);
    expect(second.attributes).toBe(target.attributes);
    // readEnvelope still hands out an object of the caller's own.
    const own = readEnvelope(bare).attributes;
    own.x = 'y';
    expect(readEnvelope(bare).attributes).toEqual({});
    // A malformed map entry inside an otherwise fine envelope fails, and the next decode starts clean.
    expect(() => readEnvelopeInto(new Uint8Array([...bare, 0x1a, 0x04, 0x0a, 0x05, 0x61, 0x62]), target)).toThrow(EnvelopeDecodeError);
    readEnvelopeInto(env, target);
    expect(target.attributes).toEqual({ attempt: '2', origin: 'ü' });
  });
});
