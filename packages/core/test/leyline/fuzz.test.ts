// Fuzz: random and mutated byte strings through every Leyline decoder. Each input either
// decodes to a message that re-encodes (and re-decodes) cleanly, or fails with
// LeylineDecodeError; any other exception is a bug.
import { toBinary, type DescMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { decodeMessage, file_leyline, LeylineDecodeError, toDeterministicBinary } from '../../src/leyline/index.js';
import { fullVectors } from './fixtures.js';
import { prng, type Prng } from './prng.js';

const ITERATIONS = 10_000;

const vectors = fullVectors();
const allSeeds: readonly Uint8Array[] = vectors.map((v) => toBinary(v.schema, v.message));
const seedsByType = new Map<string, Uint8Array[]>();
for (const v of vectors) {
  const list = seedsByType.get(v.schema.typeName) ?? [];
  list.push(toBinary(v.schema, v.message));
  seedsByType.set(v.schema.typeName, list);
}

function mutate(rnd: Prng, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  const at = () => rnd.int(bytes.length + 1);
  switch (rnd.int(9)) {
    case 0: // bit flips
      for (let n = 1 + rnd.int(8); n > 0 && bytes.length > 0; n--) {
        const i = rnd.int(bytes.length);
        bytes[i] = (bytes[i] as number) ^ (1 << rnd.int(8));
      }
      break;
    case 1: // truncation
      bytes.length = rnd.int(bytes.length + 1);
      break;
    case 2: // insertion of random bytes
      bytes.splice(at(), 0, ...Array.from({ length: 1 + rnd.int(8) }, () => rnd.int(256)));
      break;
    case 3: // overlong varint (continuation bytes that never end, or pad a value to 11+ bytes)
      bytes.splice(at(), 0, ...Array.from({ length: 10 + rnd.int(4) }, () => 0x80 | rnd.int(128)), rnd.int(2) ? 0x01 : 0x00);
      break;
    case 4: // huge length prefix after a length-delimited tag
      bytes.splice(at(), 0, (1 + rnd.int(15)) * 8 + 2, 0xff, 0xff, 0xff, 0xff, rnd.pick([0x07, 0x0f, 0x7f]));
      break;
    case 5: // deletion of a run
      bytes.splice(rnd.int(bytes.length), 1 + rnd.int(6));
      break;
    case 6: // duplicate a slice (repeated fields, merged messages)
      {
        const start = rnd.int(bytes.length);
        bytes.splice(at(), 0, ...bytes.slice(start, start + 1 + rnd.int(20)));
      }
      break;
    case 7: // random tag with random wire type (incl. groups and invalid 6/7)
      bytes.splice(at(), 0, (rnd.int(40) << 3) | rnd.int(8), rnd.int(256));
      break;
    default: // random bytes
      return new Uint8Array(Array.from({ length: rnd.int(64) }, () => rnd.int(256)));
  }
  return new Uint8Array(bytes);
}

describe('decodeMessage fuzz', () => {
  it(`${ITERATIONS} mutated inputs across all ${file_leyline.messages.length} message types: LeylineDecodeError or a re-encodable message`, () => {
    const rnd = prng(0xf022);
    const schemas: readonly DescMessage[] = file_leyline.messages;
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const schema = schemas[i % schemas.length] as DescMessage;
      // Mostly mutations of the type's own encodings; sometimes another type's bytes.
      let input = rnd.next() < 0.8 ? rnd.pick(seedsByType.get(schema.typeName) ?? allSeeds) : rnd.pick(allSeeds);
      for (let m = rnd.next() < 0.75 ? 1 : 2 + rnd.int(2); m > 0; m--) input = mutate(rnd, input);
      let message;
      try {
        message = decodeMessage(schema, input);
      } catch (e) {
        if (!(e instanceof LeylineDecodeError)) {
          throw new Error(`iteration ${i}: ${schema.typeName} threw ${String(e)} for ${Buffer.from(input).toString('hex')}`, { cause: e });
        }
        expect(e.typeName).toBe(schema.typeName);
        rejected++;
        continue;
      }
      decoded++;
      try {
        const again = toBinary(schema, message);
        toDeterministicBinary(schema, message);
        decodeMessage(schema, again);
      } catch (e) {
        throw new Error(`iteration ${i}: ${schema.typeName} decoded ${Buffer.from(input).toString('hex')} but did not re-encode: ${String(e)}`, { cause: e });
      }
    }
    // Both outcomes must actually be exercised.
    expect(decoded).toBeGreaterThan(ITERATIONS / 20);
    expect(rejected).toBeGreaterThan(ITERATIONS / 20);
    expect(decoded + rejected).toBe(ITERATIONS);
  });
});
