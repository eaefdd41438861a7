// Leyline helpers: typed decode, envelopes by BusMessageType, contract versions and bundle
// registry, enum name lookups, JSON with proto field names.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { isEsperError } from '../../src/errors.js';
import {
  BUS_PAYLOAD_SCHEMAS,
  BlueprintTierSchema,
  BusEnvelopeSchema,
  BusMessageType,
  BusMessageTypeSchema,
  busMessageTypeOf,
  checkContractVersion,
  checkWireFormat,
  CONTRACT_VERSION,
  ContractRegistry,
  decodeMessage,
  encodeEnvelope,
  enumName,
  enumValue,
  FieldReportSchema,
  file_leyline,
  fromLeylineJson,
  KernelArtifactErrorSchema,
  LEYLINE_BUNDLE_NAME,
  LEYLINE_BUNDLE_VERSION,
  LEYLINE_PACKAGE,
  LeylineDecodeError,
  LeylineEnvelopeTypeError,
  LeylineVersionUnsupportedError,
  MessagePriority,
  MessagePrioritySchema,
  payloadSchemaFor,
  registerDefaultBundle,
  SeedLifecycleStage,
  SeedLifecycleStageSchema,
  SystemStatePacketSchema,
  TelemetryPacketSchema,
  toLeylineJson,
  unwrapAs,
  unwrapEnvelope,
  VERSIONED_MESSAGES,
  wrapEnvelope,
  type TelemetryPacket,
} from '../../src/leyline/index.js';
import { commandFixture, fieldReportFixture, fullVectors, statePacketFixture, telemetryFixture } from './fixtures.js';

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('decodeMessage', () => {
  it('decodes valid bytes of every vector', () => {
    for (const v of fullVectors()) {
      expect(decodeMessage(v.schema, toBinary(v.schema, v.message)), v.name).toEqual(decodeMessage(v.schema, toBinary(v.schema, v.message), { checkWireTypes: false }));
    }
  });

  it('throws LeylineDecodeError naming type and length, with the protobuf-es error as cause', () => {
    const bytes = toBinary(SystemStatePacketSchema, statePacketFixture()).subarray(0, 40);
    const e = catchError(() => decodeMessage(SystemStatePacketSchema, bytes));
    expect(e).toBeInstanceOf(LeylineDecodeError);
    const err = e as LeylineDecodeError;
    expect(err.code).toBe('ESPER_LEYLINE_DECODE');
    expect(isEsperError(err, 'ESPER_LEYLINE_DECODE')).toBe(true);
    expect(err.message).toContain('esper.leyline.v1.SystemStatePacket');
    expect(err.message).toContain('40 bytes');
    expect(err.typeName).toBe('esper.leyline.v1.SystemStatePacket');
    expect(err.byteLength).toBe(40);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('rejects invalid UTF-8 in string fields, map keys and Struct keys', () => {
    // KernelArtifactError.request_id = "\xc3\x28"
    expect(() => decodeMessage(KernelArtifactErrorSchema, new Uint8Array([0x0a, 2, 0xc3, 0x28]))).toThrow(LeylineDecodeError);
    // BusEnvelope.attributes { key: "\xff" value: "" }
    expect(() => decodeMessage(BusEnvelopeSchema, new Uint8Array([0x1a, 5, 0x0a, 1, 0xff, 0x12, 0]))).toThrow(/utf-8|UTF-8/);
    // bytes fields take anything
    expect(decodeMessage(BusEnvelopeSchema, new Uint8Array([0x12, 2, 0xc3, 0x28])).payload).toEqual(new Uint8Array([0xc3, 0x28]));
  });

  it('rejects known fields with the wrong wire type (protobuf-es alone would misread them)', () => {
    // KernelArtifactError.request_id (string, field 1) sent as a varint.
    const bytes = new Uint8Array([0x08, 0x05]);
    expect(() => decodeMessage(KernelArtifactErrorSchema, bytes)).toThrow(/wire type/);
    expect(() => checkWireFormat(KernelArtifactErrorSchema, bytes)).toThrow(/request_id/);
    // Nested: SystemStatePacket.hardware_context.device_type as fixed32.
    const nested = new Uint8Array([0x32, 5, 0x0d, 1, 2, 3, 4]);
    expect(() => decodeMessage(SystemStatePacketSchema, nested)).toThrow(/HardwareContext\.device_type/);
  });

  it('keeps unknown fields and unknown enum numbers (open enums), as protoc does', () => {
    const future = { ...fieldReportFixture(), outcome: 99 };
    // + unknown field 1001 (varint 1)
    const bytes = new Uint8Array([...toBinary(FieldReportSchema, future), 0xc8, 0x3e, 0x01]);
    const report = decodeMessage(FieldReportSchema, bytes);
    expect(report.outcome).toBe(99);
    expect(report.$unknown?.map((u) => u.no)).toEqual([1001]);
    expect(toBinary(FieldReportSchema, report)).toEqual(bytes);
  });

  it('rejects non-Uint8Array input and nesting beyond the recursion limit', () => {
    expect(() => decodeMessage(FieldReportSchema, 'abc' as unknown as Uint8Array)).toThrow(LeylineDecodeError);
    // A Struct nested 200 deep inside AdaptationCommand.rollback_payload.
    let inner = new Uint8Array(0);
    for (let i = 0; i < 200; i++) {
      // Struct.fields entry { key "k", value = Value{ struct_value = inner } }
      const value = new Uint8Array([0x2a, ...varint(inner.length), ...inner]);
      const entry = new Uint8Array([0x0a, 1, 0x6b, 0x12, ...varint(value.length), ...value]);
      inner = new Uint8Array([0x0a, ...varint(entry.length), ...entry]);
    }
    const cmd = new Uint8Array([0x6a, ...varint(inner.length), ...inner]);
    expect(() => decodeMessage(BUS_PAYLOAD_SCHEMAS[BusMessageType.ADAPTATION_COMMAND], cmd)).toThrow(/recursion/);
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

describe('BusEnvelope wrap/unwrap', () => {
  it('registers a payload schema for every BusMessageType except UNSPECIFIED', () => {
    const types = BusMessageTypeSchema.values.map((v) => v.number).filter((n) => n !== BusMessageType.UNSPECIFIED);
    expect(Object.keys(BUS_PAYLOAD_SCHEMAS).map(Number).sort((a, b) => a - b)).toEqual(types);
    expect(payloadSchemaFor(BusMessageType.UNSPECIFIED)).toBeUndefined();
    expect(payloadSchemaFor(BusMessageType.KERNEL_PREFETCH_READY)?.typeName).toBe('esper.leyline.v1.KernelArtifactReady');
    expect(busMessageTypeOf('esper.leyline.v1.BSDSIssued')).toBe(BusMessageType.BSDS_ISSUED);
    expect(busMessageTypeOf('esper.leyline.v1.HardwareContext')).toBeUndefined();
  });

  it('round-trips every registered type through bytes, with attributes', () => {
    const byType = new Map(fullVectors().map((v) => [v.schema.typeName, v.message]));
    for (const [key, schema] of Object.entries(BUS_PAYLOAD_SCHEMAS)) {
      const type = Number(key) as keyof typeof BUS_PAYLOAD_SCHEMAS;
      const message = byType.get(schema.typeName);
      expect(message, schema.typeName).toBeDefined();
      const bytes = encodeEnvelope(type, message as never, { origin: 'test', attempt: '1' });
      const out = unwrapEnvelope(bytes);
      expect(out.messageType).toBe(type);
      expect(out.message.$typeName).toBe(schema.typeName);
      expect(toBinary(schema, out.message)).toEqual(toBinary(schema, message as never));
      expect(out.attributes).toEqual({ origin: 'test', attempt: '1' });
    }
  });

  it('narrows the payload type by messageType', () => {
    const out = unwrapEnvelope(encodeEnvelope(BusMessageType.TELEMETRY, telemetryFixture()));
    switch (out.messageType) {
      case BusMessageType.TELEMETRY:
        expectTypeOf(out.message).toEqualTypeOf<TelemetryPacket>();
        expect(out.message.metrics).toHaveLength(4);
        break;
      default:
        throw new Error('wrong type');
    }
    const packet = unwrapAs(BusMessageType.TELEMETRY, out.envelope);
    expectTypeOf(packet).toEqualTypeOf<TelemetryPacket>();
  });

  it('wrapping a message under the wrong type is a typed error', () => {
    const e = catchError(() => wrapEnvelope(BusMessageType.TELEMETRY, commandFixture() as unknown as TelemetryPacket));
    expect(e).toBeInstanceOf(LeylineEnvelopeTypeError);
    expect((e as LeylineEnvelopeTypeError).code).toBe('ESPER_LEYLINE_ENVELOPE_TYPE');
    expect((e as Error).message).toMatch(/AdaptationCommand.*BUS_MESSAGE_TYPE_TELEMETRY/);
    expect(() => wrapEnvelope(0 as BusMessageType.TELEMETRY, telemetryFixture())).toThrow(LeylineEnvelopeTypeError);
  });

  it('unwrapAs rejects another declared type; unwrapEnvelope rejects types without a schema', () => {
    const bytes = encodeEnvelope(BusMessageType.FIELD_REPORT, fieldReportFixture());
    expect(unwrapAs(BusMessageType.FIELD_REPORT, bytes).reportId).toBe('fr-run-demo-3');
    expect(() => unwrapAs(BusMessageType.TELEMETRY, bytes)).toThrow(/Expected an envelope of BUS_MESSAGE_TYPE_TELEMETRY but got BUS_MESSAGE_TYPE_FIELD_REPORT/);
    for (const messageType of [BusMessageType.UNSPECIFIED, 15, 99]) {
      const env = create(BusEnvelopeSchema, { messageType, payload: new Uint8Array() });
      expect(() => unwrapEnvelope(toBinary(BusEnvelopeSchema, env))).toThrow(LeylineEnvelopeTypeError);
    }
  });

  it('a payload that does not decode as the declared type is a LeylineDecodeError', () => {
    const env = create(BusEnvelopeSchema, { messageType: BusMessageType.SYSTEM_STATE, payload: toBinary(TelemetryPacketSchema, telemetryFixture()) });
    const e = catchError(() => unwrapEnvelope(env));
    expect(e).toBeInstanceOf(LeylineDecodeError);
    expect((e as Error).message).toContain('SystemStatePacket');
  });
});

describe('contract versions and bundle registry', () => {
  it('exposes the identity constants', () => {
    expect(LEYLINE_PACKAGE).toBe('esper.leyline.v1');
    expect(file_leyline.messages.every((m) => m.typeName.startsWith(`${LEYLINE_PACKAGE}.`))).toBe(true);
    expect([LEYLINE_BUNDLE_NAME, LEYLINE_BUNDLE_VERSION, CONTRACT_VERSION]).toEqual(['leyline-core', 'v1alpha1', 1]);
  });

  it('lists the versioned top-level messages', () => {
    expect(VERSIONED_MESSAGES.map((m) => m.name).sort()).toEqual(
      ['AdaptationCommand', 'BSDS', 'BlueprintBenchmark', 'EmergencySignal', 'FieldReport', 'PolicyUpdate', 'SystemStatePacket'].sort(),
    );
  });

  it('accepts 1, reports 0 as unset, rejects anything else with a typed error', () => {
    expect(checkContractVersion(statePacketFixture())).toBe('current');
    expect(checkContractVersion(create(FieldReportSchema))).toBe('unset');
    const e = catchError(() => checkContractVersion({ ...commandFixture(), version: 2 }));
    expect(e).toBeInstanceOf(LeylineVersionUnsupportedError);
    expect((e as LeylineVersionUnsupportedError).code).toBe('ESPER_LEYLINE_VERSION_UNSUPPORTED');
    expect((e as Error).message).toMatch(/AdaptationCommand carries contract version 2.*version 1/);
  });

  it('registers the default bundle pointing at the generated bindings (§2.7 scenario 1)', () => {
    const registry = registerDefaultBundle();
    const bundle = registry.get('leyline-core');
    expect(bundle).toMatchObject({ name: 'leyline-core', version: 'v1alpha1' });
    expect(bundle?.schemaDir).toBe(fileURLToPath(new URL('../../gen', import.meta.url)));
    expect(existsSync(`${bundle?.schemaDir}/leyline_pb.ts`)).toBe(true);
    registry.register({ name: 'leyline-core', version: 'v2', schemaDir: '/tmp' });
    expect(registry.get('leyline-core')?.version).toBe('v2');
    expect(registry.get('nope')).toBeUndefined();
    const all = registry.listAll();
    all.pop();
    expect(registry.listAll()).toHaveLength(1);
    const mine = new ContractRegistry();
    expect(registerDefaultBundle(mine)).toBe(mine);
  });
});

describe('enum lookups', () => {
  it('maps names and numbers through the descriptors', () => {
    expect(enumName(SeedLifecycleStageSchema, 3)).toBe('SEED_STAGE_TRAINING');
    expect(enumName(SeedLifecycleStageSchema, SeedLifecycleStage.SEED_STAGE_TERMINATED)).toBe('SEED_STAGE_TERMINATED');
    expect(enumName(SeedLifecycleStageSchema, 42)).toBeUndefined();
    expect(enumValue(MessagePrioritySchema, 'MESSAGE_PRIORITY_HIGH')).toBe(MessagePriority.HIGH);
    expect(enumValue(MessagePrioritySchema, 'HIGH')).toBeUndefined();
    expect(enumValue(BlueprintTierSchema, 'BLUEPRINT_TIER_SAFE')).toBe(1);
    for (const e of file_leyline.enums) {
      for (const v of e.values) {
        expect(enumValue(e, v.name)).toBe(v.number);
        expect(enumName(e, v.number)).toBe(v.name);
      }
    }
  });

  it('§2.7 scenario 6: basic enum facts', () => {
    expect(SeedLifecycleStage.SEED_STAGE_TRAINING).toBeGreaterThan(0);
    expect(enumValue(file_leyline.enums.find((e) => e.name === 'TelemetryLevel')!, 'TELEMETRY_LEVEL_INFO')).toBeGreaterThanOrEqual(0);
    expect(enumValue(file_leyline.enums.find((e) => e.name === 'FieldReportOutcome')!, 'FIELD_REPORT_OUTCOME_SUCCESS')).toBeGreaterThanOrEqual(0);
  });
});

describe('JSON with proto field names', () => {
  it('writes proto names, enum names, 64-bit as strings, omits defaults; parses back', () => {
    const json = toLeylineJson(SystemStatePacketSchema, statePacketFixture()) as Record<string, unknown>;
    expect(json['current_epoch']).toBe(3);
    expect(json['timestamp_ns']).toBe('1760000000123000000');
    expect(json['seed_states']).toEqual([expect.objectContaining({ seed_id: 'seed-1', stage: 'SEED_STAGE_TRAINING' })]);
    expect(json).not.toHaveProperty('currentEpoch');
    expect(json['hardware_context']).not.toHaveProperty('temperature_celsius');
    const back = fromLeylineJson(SystemStatePacketSchema, json);
    expect(toBinary(SystemStatePacketSchema, back)).toEqual(toBinary(SystemStatePacketSchema, statePacketFixture()));
  });

  it('rejects invalid JSON documents with LeylineDecodeError', () => {
    expect(() => fromLeylineJson(FieldReportSchema, { no_such_field: 1 })).toThrow(LeylineDecodeError);
    expect(() => fromLeylineJson(FieldReportSchema, { outcome: 'NOPE' })).toThrow(/FieldReport/);
  });
});
