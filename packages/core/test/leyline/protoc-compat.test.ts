// Wire compatibility with protoc: for every Leyline message type, a fully populated vector is
// printed in text format, encoded by protoc, and compared byte for byte with protobuf-es.
import { readFileSync } from 'node:fs';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { AdaptationCommandSchema, CommandType, file_leyline, SystemStatePacketSchema } from '../../src/leyline/index.js';
import { toDeterministicBinary } from '../../src/leyline/deterministic.js';
import { fullVectors, statePacketFixture, type Vector } from './fixtures.js';
import { hex, protocDecode, protocEncode } from './protoc.js';
import { printText } from './text-format.js';

const vectors = fullVectors();

function typeOf(v: Vector): string {
  return v.schema.typeName;
}

/** The vector's message with every float field rounded to float32 (what a round trip yields). */
function withFloat32Rounding(v: Vector): unknown {
  return fromBinary(v.schema, toBinary(v.schema, v.message));
}

describe('Leyline vectors cover the contract', () => {
  it('has a vector for every message type in leyline.proto', () => {
    const covered = new Set(vectors.map(typeOf));
    const missing = file_leyline.messages.map((m) => m.typeName).filter((t) => !covered.has(t));
    expect(missing, 'add a fully populated vector to test/leyline/fixtures.ts').toEqual([]);
    expect(file_leyline.messages.length).toBe(33);
  });

  it('nested types are only map entries (covered through their parents)', () => {
    // protobuf-es lists no map-entry types in nestedMessages; any other nested message would
    // need its own vector.
    expect(file_leyline.messages.flatMap((m) => m.nestedMessages).map((m) => m.typeName)).toEqual([]);
  });

  it.each(file_leyline.messages.map((m) => [m.typeName, m] as const))('%s: every field is set in some vector', (_name, desc: DescMessage) => {
    const set = new Set<string>();
    for (const v of vectors.filter((x) => typeOf(x) === desc.typeName)) {
      const r = reflect(v.schema, v.message);
      for (const f of r.fields) if (r.isSet(f)) set.add(f.name);
    }
    expect(desc.fields.map((f) => f.name).filter((n) => !set.has(n))).toEqual([]);
  });
});

describe('protoc --encode agrees with protobuf-es', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const type = typeOf(v);
    const text = printText(v.schema, v.message);
    const theirs = protocEncode(type, text);
    const ours = toBinary(v.schema, v.message);
    expect(hex(ours), `toBinary differs from protoc for:\n${text}`).toBe(hex(theirs));

    // protobuf-es parses protoc's bytes back to the same message (deep equality that treats
    // NaN as NaN and -0 as distinct from 0), and re-encodes them to the same bytes. The §2.5
    // fixtures hold plain decimals in float fields, which come back as Math.fround(x).
    const parsed = fromBinary(v.schema, theirs);
    expect(parsed).toEqual(v.name.includes('§2.5') ? withFloat32Rounding(v) : v.message);
    expect(hex(toBinary(v.schema, parsed))).toBe(hex(theirs));

    // Deterministic encoding equals protoc --deterministic_output.
    const deterministic = toDeterministicBinary(v.schema, v.message);
    expect(hex(deterministic)).toBe(hex(protocEncode(type, text, true)));

    // protoc decodes our bytes; its text (which lists map entries sorted by key) re-encodes to
    // our deterministic bytes.
    expect(hex(protocEncode(type, protocDecode(type, ours)))).toBe(hex(deterministic));
  });
});

describe('hand-written text vectors', () => {
  const read = (name: string) => readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8');

  it('system-state-packet.txtpb encodes to the §2.5 fixture', () => {
    const fixture = statePacketFixture();
    const theirs = protocEncode('SystemStatePacket', read('system-state-packet.txtpb'));
    expect(hex(toBinary(SystemStatePacketSchema, fixture))).toBe(hex(theirs));
    expect(fromBinary(SystemStatePacketSchema, theirs).validationAccuracy).toBe(Math.fround(0.91));
    // …and the printer writes text protoc reads as the same bytes.
    expect(hex(protocEncode('SystemStatePacket', printText(SystemStatePacketSchema, fixture)))).toBe(hex(theirs));
  });

  it('adaptation-command-rollback.txtpb: Struct payload with nested values, null and bools', () => {
    const command = create(AdaptationCommandSchema, {
      version: 1,
      commandId: 'cmd-rollback',
      commandType: CommandType.COMMAND_ROLLBACK,
      issuedAt: timestampFromMs(1_760_000_000_123),
      payload: {
        case: 'rollbackPayload',
        value: { checkpoint: 'epoch-3', dry_run: false, layers: ['conv1', 2, null, { x: true }], note: null },
      },
      annotations: { risk: 'low', signature: 'c2ln' },
    });
    const text = read('adaptation-command-rollback.txtpb');
    const theirs = protocEncode('AdaptationCommand', text);
    expect(hex(toBinary(AdaptationCommandSchema, command))).toBe(hex(theirs));
    expect(hex(toDeterministicBinary(AdaptationCommandSchema, command))).toBe(hex(protocEncode('AdaptationCommand', text, true)));
    expect(fromBinary(AdaptationCommandSchema, theirs)).toEqual(command);
  });
});
