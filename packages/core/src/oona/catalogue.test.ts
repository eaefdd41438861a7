import { create, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  BUS_PAYLOAD_SCHEMAS,
  busMessageTypeOf,
  BusMessageType,
  encodeEnvelope,
  FieldReportSchema,
  SystemStatePacketSchema,
  TelemetryPacketSchema,
  type BusPayloadType,
} from '../leyline/index.js';
import { MESSAGE_ROUTES } from './catalogue.js';
import * as oona from './index.js';
import { writeEnvelope } from './envelope-codec.js';

describe('one schema → type map, one public envelope codec (issue 12, finding 5)', () => {
  it('busMessageTypeOf maps every payload schema (and its type name) back to its bus type', () => {
    for (const [type, schema] of Object.entries(BUS_PAYLOAD_SCHEMAS) as Array<[string, DescMessage]>) {
      expect(busMessageTypeOf(schema)).toBe(Number(type));
      expect(busMessageTypeOf(schema.typeName)).toBe(Number(type));
    }
    expect(busMessageTypeOf('esper.leyline.v1.BusEnvelope')).toBeUndefined();
    expect(busMessageTypeOf(SystemStatePacketSchema)).toBe(BusMessageType.SYSTEM_STATE);
    // Typed: a schema gives its own enum member (expect-type cannot compare enum members, hence assignments).
    const state: BusMessageType.SYSTEM_STATE = busMessageTypeOf(SystemStatePacketSchema);
    const telemetry: BusMessageType.TELEMETRY = busMessageTypeOf(TelemetryPacketSchema);
    // @ts-expect-error a SystemStatePacket schema is not carried as TELEMETRY
    const wrong: BusMessageType.TELEMETRY = busMessageTypeOf(SystemStatePacketSchema);
    expect([state, telemetry, wrong]).toEqual([BusMessageType.SYSTEM_STATE, BusMessageType.TELEMETRY, BusMessageType.SYSTEM_STATE]);
    const byName: BusPayloadType | undefined = busMessageTypeOf('esper.leyline.v1.TelemetryPacket');
    expect(byName).toBe(BusMessageType.TELEMETRY);
  });

  it('Oona routes by the same table: every route carries the schema Leyline registers for its type', () => {
    expect([...MESSAGE_ROUTES.keys()].sort((a, b) => a - b)).toEqual(Object.keys(BUS_PAYLOAD_SCHEMAS).map(Number).sort((a, b) => a - b));
    for (const [type, route] of MESSAGE_ROUTES) expect(busMessageTypeOf(route.schema)).toBe(type);
  });

  it('the Oona entry point has no second map and no second envelope codec', () => {
    expect(oona).not.toHaveProperty('messageTypeOf');
    expect(oona).not.toHaveProperty('encodeEnvelope');
    expect(oona).not.toHaveProperty('decodeEnvelope');
    expect(oona).not.toHaveProperty('decodeEnvelopeInto');
  });

  it("the client's internal codec writes the bytes of the public one", () => {
    const report = create(FieldReportSchema, { reportId: 'r-1', seedId: 'seed-3' });
    const typed = encodeEnvelope(BusMessageType.FIELD_REPORT, report, { origin: 'tamiyo' });
    const fromBytes = writeEnvelope(BusMessageType.FIELD_REPORT, toBinary(FieldReportSchema, report), { origin: 'tamiyo' });
    expect(Buffer.from(fromBytes).equals(Buffer.from(typed))).toBe(true);
  });
});
