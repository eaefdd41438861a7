import type { EntryFields, StreamEntry } from '@esper/core/oona';

/** Entries per chunk: small enough that a quiet stream costs little, large enough that chunks are rare. */
const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;
/** Byte blocks of a chunk start small and double up to this size; a larger entry gets a block of its own. */
const FIRST_BLOCK_BYTES = 16 * 1024;
const MAX_BLOCK_BYTES = 64 * 1024;

interface Chunk {
  /** Each id part as two unsigned 32-bit halves: ids are pairs of 64-bit integers. */
  readonly msHi: Uint32Array;
  readonly msLo: Uint32Array;
  readonly seqHi: Uint32Array;
  readonly seqLo: Uint32Array;
  /** Index into `blocks` and byte offset there of each entry's record. */
  readonly block: Uint32Array;
  readonly offset: Uint32Array;
  /** Index into the log's shapes (field names, in order). */
  readonly shape: Uint16Array;
  readonly blocks: Uint8Array[];
  /** Bytes used in the last block. */
  used: number;
}

/** Bytes of a chunk's id and record arrays, allocated as one buffer (one allocation, not five). */
const CHUNK_INDEX_BYTES = CHUNK * (4 * 4 + 4 + 4 + 2);

function newChunk(): Chunk {
  const buffer = new ArrayBuffer(CHUNK_INDEX_BYTES);
  return {
    msHi: new Uint32Array(buffer, 0, CHUNK),
    msLo: new Uint32Array(buffer, CHUNK * 4, CHUNK),
    seqHi: new Uint32Array(buffer, CHUNK * 8, CHUNK),
    seqLo: new Uint32Array(buffer, CHUNK * 12, CHUNK),
    block: new Uint32Array(buffer, CHUNK * 16, CHUNK),
    offset: new Uint32Array(buffer, CHUNK * 20, CHUNK),
    shape: new Uint16Array(buffer, CHUNK * 24, CHUNK),
    blocks: [],
    used: 0,
  };
}

const TWO_32 = 4_294_967_296;
/** Above this high half a part no longer fits a double exactly (2^53 = 2^21 · 2^32). */
const SAFE_HI = 1 << 21;

/** The decimal text of the unsigned 64-bit integer `hi · 2^32 + lo`. */
export function partText(hi: number, lo: number): string {
  if (hi === 0) return String(lo);
  if (hi < SAFE_HI) return String(hi * TWO_32 + lo);
  return String((BigInt(hi) << 32n) | BigInt(lo));
}

/** Compares two ids given as 32-bit halves (ms high, ms low, seq high, seq low). */
export function compareHalves(a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number): number {
  if (a0 !== b0) return a0 - b0;
  if (a1 !== b1) return a1 - b1;
  if (a2 !== b2) return a2 - b2;
  return a3 - b3;
}

/**
 * The entries of one in-memory stream, ordered by id: entry `i` has id `<ms>-<seq>` (each part
 * an unsigned 64-bit integer, stored as two 32-bit halves) and its fields. A stream keeps every entry until it is trimmed, so anything kept per entry as
 * a JavaScript object (the entry, its id string, its fields object and byte arrays) is promoted
 * and traced by the garbage collector, which cost more than the rest of the publish→handler
 * path. Here nothing per entry is an object: ids live in typed arrays, field bytes are copied
 * into the chunk's byte blocks (a record per entry: for each field of its shape a 32-bit
 * length, then the bytes), and `{ id, fields }` objects with views on those bytes are made
 * when read, and die young. Copying also makes an entry independent of the caller's buffers,
 * as a store should be. Chunks of 1 024 entries are dropped whole by trimming.
 *
 * Views handed out share their block: a reader must not write to them, and a view kept alive
 * keeps its block (at most 64 KiB, or the one entry it holds) alive.
 */
export class EntryLog {
  private readonly chunks: Chunk[] = [];
  /** Offset of entry 0 in the first chunk. */
  private head = 0;
  private size = 0;
  /** Field-name lists seen, by index; the last one pushed is checked first. */
  private readonly shapes: Array<readonly string[]> = [];
  private readonly shapeIndex = new Map<string, number>();
  private lastShape = -1;

  /** Number of entries. */
  get length(): number {
    return this.size;
  }

  /** Appends an entry (copying its field bytes); the caller keeps ids increasing. Id parts are given as 32-bit halves. */
  push(msHi: number, msLo: number, seqHi: number, seqLo: number, fields: EntryFields): void {
    const shape = this.shapeOf(fields);
    const names = this.shapes[shape]!;
    let bytes = 0;
    for (let f = 0; f < names.length; f++) bytes += 4 + fields[names[f]!]!.byteLength;
    const j = this.head + this.size;
    let chunk = this.chunks[j >>> CHUNK_BITS];
    if (chunk === undefined) {
      chunk = newChunk();
      this.chunks.push(chunk);
    }
    let blockIndex = chunk.blocks.length - 1;
    let block = chunk.blocks[blockIndex];
    if (block === undefined || chunk.used + bytes > block.byteLength) {
      const grown = block === undefined ? FIRST_BLOCK_BYTES : Math.min(MAX_BLOCK_BYTES, block.byteLength * 2);
      block = new Uint8Array(Math.max(grown, bytes));
      blockIndex = chunk.blocks.push(block) - 1;
      chunk.used = 0;
    }
    const k = j & MASK;
    chunk.msHi[k] = msHi;
    chunk.msLo[k] = msLo;
    chunk.seqHi[k] = seqHi;
    chunk.seqLo[k] = seqLo;
    chunk.block[k] = blockIndex;
    chunk.offset[k] = chunk.used;
    chunk.shape[k] = shape;
    let o = chunk.used;
    for (let f = 0; f < names.length; f++) {
      const value = fields[names[f]!]!;
      const n = value.byteLength;
      block[o] = n & 0xff;
      block[o + 1] = (n >>> 8) & 0xff;
      block[o + 2] = (n >>> 16) & 0xff;
      block[o + 3] = n >>> 24;
      block.set(value, o + 4);
      o += 4 + n;
    }
    chunk.used = o;
    this.size++;
  }

  private shapeOf(fields: EntryFields): number {
    const last = this.shapes[this.lastShape];
    if (last !== undefined) {
      let f = 0;
      let same = true;
      for (const name in fields) {
        if (last[f++] !== name) {
          same = false;
          break;
        }
      }
      if (same && f === last.length) return this.lastShape;
    }
    const names = Object.keys(fields);
    const key = names.join('\0');
    let shape = this.shapeIndex.get(key);
    if (shape === undefined) {
      if (this.shapes.length > 0xffff) throw new RangeError('more than 65 536 distinct field-name lists in one stream');
      shape = this.shapes.push(names) - 1;
      this.shapeIndex.set(key, shape);
    }
    this.lastShape = shape;
    return shape;
  }

  /** Id part of entry `i`: 0 ms high half, 1 ms low half, 2 seq high half, 3 seq low half. */
  half(i: number, which: 0 | 1 | 2 | 3): number {
    const j = this.head + i;
    const chunk = this.chunks[j >>> CHUNK_BITS]!;
    const k = j & MASK;
    return which === 0 ? chunk.msHi[k]! : which === 1 ? chunk.msLo[k]! : which === 2 ? chunk.seqHi[k]! : chunk.seqLo[k]!;
  }

  id(i: number): string {
    const j = this.head + i;
    const chunk = this.chunks[j >>> CHUNK_BITS]!;
    const k = j & MASK;
    const msHi = chunk.msHi[k]!;
    const seqHi = chunk.seqHi[k]!;
    // The common case (a clock-made id) formats two numbers, as before ids could be 64-bit.
    if (msHi < SAFE_HI && seqHi === 0) return `${msHi * TWO_32 + chunk.msLo[k]!}-${chunk.seqLo[k]!}`;
    return `${partText(msHi, chunk.msLo[k]!)}-${partText(seqHi, chunk.seqLo[k]!)}`;
  }

  /** A new fields object for entry `i`, its values views on the stored bytes. */
  fields(i: number): EntryFields {
    const j = this.head + i;
    const chunk = this.chunks[j >>> CHUNK_BITS]!;
    const k = j & MASK;
    const block = chunk.blocks[chunk.block[k]!]!;
    const names = this.shapes[chunk.shape[k]!]!;
    let o = chunk.offset[k]!;
    const out: Record<string, Uint8Array> = {};
    for (let f = 0; f < names.length; f++) {
      const n = (block[o]! | (block[o + 1]! << 8) | (block[o + 2]! << 16) | (block[o + 3]! << 24)) >>> 0;
      out[names[f]!] = new Uint8Array(block.buffer, block.byteOffset + o + 4, n);
      o += 4 + n;
    }
    return out;
  }

  /** A new `{ id, fields }` for entry `i`. */
  entry(i: number): StreamEntry {
    return { id: this.id(i), fields: this.fields(i) };
  }

  /** Entries `from` (inclusive) to `to` (exclusive) as new `{ id, fields }` objects. */
  entries(from: number, to: number): StreamEntry[] {
    const out = new Array<StreamEntry>(Math.max(0, to - from));
    for (let i = from; i < to; i++) out[i - from] = this.entry(i);
    return out;
  }

  /** Index of the first entry with id > the given one (id parts as 32-bit halves). */
  upperBound(msHi: number, msLo: number, seqHi: number, seqLo: number): number {
    return this.firstAfter(msHi, msLo, seqHi, seqLo, true);
  }

  /** Index of the first entry with id ≥ the given one. */
  lowerBound(msHi: number, msLo: number, seqHi: number, seqLo: number): number {
    return this.firstAfter(msHi, msLo, seqHi, seqLo, false);
  }

  /** Binary search: the first entry past the id, counting an equal id as before it when `inclusive`. */
  private firstAfter(msHi: number, msLo: number, seqHi: number, seqLo: number, inclusive: boolean): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const j = this.head + mid;
      const chunk = this.chunks[j >>> CHUNK_BITS]!;
      const k = j & MASK;
      const c = compareHalves(chunk.msHi[k]!, chunk.msLo[k]!, chunk.seqHi[k]!, chunk.seqLo[k]!, msHi, msLo, seqHi, seqLo);
      if (c < 0 || (inclusive && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the entry with exactly this id, or -1. */
  indexOf(msHi: number, msLo: number, seqHi: number, seqLo: number): number {
    const i = this.lowerBound(msHi, msLo, seqHi, seqLo);
    if (i >= this.size) return -1;
    const j = this.head + i;
    const chunk = this.chunks[j >>> CHUNK_BITS]!;
    const k = j & MASK;
    return compareHalves(chunk.msHi[k]!, chunk.msLo[k]!, chunk.seqHi[k]!, chunk.seqLo[k]!, msHi, msLo, seqHi, seqLo) === 0 ? i : -1;
  }

  /**
   * Removes the first `n` entries. Whole chunks go at once; the bytes of entries removed from
   * the chunk that stays are released with that chunk.
   */
  removeFirst(n: number): void {
    n = Math.min(n, this.size);
    if (n <= 0) return;
    const end = this.head + n;
    this.chunks.splice(0, end >>> CHUNK_BITS);
    this.head = end & MASK;
    this.size -= n;
    if (this.size === 0) {
      // Empty: start over with no chunk.
      this.chunks.length = 0;
      this.head = 0;
    }
  }
}
