// Issue 15, finding 5: Leyline's decoders check their input's type and nesting and fail with
// their typed error — never a TypeError from reading a field of null, an empty envelope made of
// a number, or a RangeError from their own error path.
import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  BusEnvelopeSchema,
  BusMessageType,
  fromLeylineJson,
  LeylineDecodeError,
  SystemStatePacketSchema,
  TelemetryPacketSchema,
  unwrapAs,
  unwrapEnvelope,
  wrapEnvelope,
} from '../../src/leyline/index.js';

const NOT_ENVELOPES: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ['a number', 42],
  ['a string', 'payload'],
  ['a plain object', {}],
  ['an ArrayBuffer', new ArrayBuffer(8)],
  ['an array of bytes', [8, 1]],
  ['an envelope-looking object of another type', { $typeName: 'esper.leyline.v1.TelemetryPacket', messageType: 1, payload: new Uint8Array(), attributes: {} }],
  ['a BusEnvelope whose payload is not bytes', { $typeName: BusEnvelopeSchema.typeName, messageType: 1, payload: 'x', attributes: {} }],
  ['a BusEnvelope with a non-string attribute', { $typeName: BusEnvelopeSchema.typeName, messageType: 1, payload: new Uint8Array(), attributes: { a: 1 } }],
];

describe('Leyline decoders on untrusted input', () => {
  it.each(NOT_ENVELOPES)('unwrapEnvelope and unwrapAs refuse %s with LeylineDecodeError', (_, input) => {
    expect(() => unwrapEnvelope(input as Uint8Array)).toThrow(LeylineDecodeError);
    expect(() => unwrapAs(BusMessageType.SYSTEM_STATE, input as Uint8Array)).toThrow(LeylineDecodeError);
  });

  it('an ArrayBuffer gets a hint; real envelopes (bytes or decoded) still unwrap', () => {
    expect(() => unwrapEnvelope(new ArrayBuffer(2) as unknown as Uint8Array)).toThrow(/wrap an ArrayBuffer in a Uint8Array/);
    const envelope = wrapEnvelope(BusMessageType.SYSTEM_STATE, create(SystemStatePacketSchema, { version: 1, currentEpoch: 3 }), { origin: 'test' });
    const bytes = toBinary(BusEnvelopeSchema, envelope);
    for (const input of [bytes, envelope, create(BusEnvelopeSchema, envelope)]) {
      const unwrapped = unwrapEnvelope(input);
      expect(unwrapped.messageType).toBe(BusMessageType.SYSTEM_STATE);
      expect(unwrapped.attributes).toEqual({ origin: 'test' });
    }
  });

  it('fromLeylineJson refuses 5 000-deep nesting and cycles with LeylineDecodeError (no RangeError of its own)', () => {
    let deep: unknown = {};
    for (let i = 0; i < 5_000; i++) deep = { metrics: [deep] };
    expect(() => fromLeylineJson(TelemetryPacketSchema, deep)).toThrow(LeylineDecodeError);
    expect(() => fromLeylineJson(TelemetryPacketSchema, deep)).toThrow(/nesting deeper than 100 levels/);
    let array: unknown = [];
    for (let i = 0; i < 100_000; i++) array = [array];
    expect(() => fromLeylineJson(TelemetryPacketSchema, array)).toThrow(LeylineDecodeError);
    const cyclic: Record<string, unknown> = { packet_id: 'p' };
    cyclic.self = cyclic;
    expect(() => fromLeylineJson(TelemetryPacketSchema, cyclic)).toThrow(/cycle/);
    // A value shared by two branches is not a cycle: protobuf-es reports what is wrong with it.
    const shared = { name: 'm', value: 1 };
    const error = (() => {
      try {
        fromLeylineJson(TelemetryPacketSchema, { metrics: [shared, shared], bogus: 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(LeylineDecodeError);
    expect(String(error)).not.toMatch(/cycle/);
    // Within the limit, documents decode as before; the limit can be raised.
    expect(fromLeylineJson(TelemetryPacketSchema, { packet_id: 'p', metrics: [shared, shared] }).metrics).toHaveLength(2);
    expect(() => fromLeylineJson(TelemetryPacketSchema, { packet_id: 'p' }, { recursionLimit: 0 })).toThrow(LeylineDecodeError);
  });
});
