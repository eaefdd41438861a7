import type { EntryFields, StreamEntry } from './backend.js';

/** Entries per chunk: small enough that a quiet stream costs little (24 KiB), large enough that chunks are rare. */
const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

interface Chunk {
  readonly ms: Float64Array;
  readonly seq: Float64Array;
  readonly fields: Array<EntryFields | undefined>;
}

/**
 * The entries of one in-memory stream, ordered by id: entry `i` has id `${ms(i)}-${seq(i)}` and
 * `fields(i)`. A stream keeps every entry until it is trimmed, so whatever is stored per entry
 * is promoted by the garbage collector, and one growing array of entries is copied on every
 * growth and re-scanned for young pointers: entry objects, their id strings and the growth of
 * one large array cost more than the rest of the publish→handler path. Here entries live in
 * fixed chunks — ids as two typed arrays (not traced by the GC), fields in a preallocated
 * array — and id strings and `{ id, fields }` objects are made when read, and die young.
 * Trimming drops whole chunks.
 */
export class EntryLog {
  private readonly chunks: Chunk[] = [];
  /** Offset of entry 0 in the first chunk. */
  private head = 0;
  private size = 0;

  /** Number of entries. */
  get length(): number {
    return this.size;
  }

  /** Appends an entry; the caller keeps ids increasing. */
  push(ms: number, seq: number, fields: EntryFields): void {
    const j = this.head + this.size;
    let chunk = this.chunks[j >>> CHUNK_BITS];
    if (chunk === undefined) {
      chunk = { ms: new Float64Array(CHUNK), seq: new Float64Array(CHUNK), fields: new Array<EntryFields | undefined>(CHUNK) };
      this.chunks.push(chunk);
    }
    const k = j & MASK;
    chunk.ms[k] = ms;
    chunk.seq[k] = seq;
    chunk.fields[k] = fields;
    this.size++;
  }

  ms(i: number): number {
    const j = this.head + i;
    return this.chunks[j >>> CHUNK_BITS]!.ms[j & MASK]!;
  }

  seq(i: number): number {
    const j = this.head + i;
    return this.chunks[j >>> CHUNK_BITS]!.seq[j & MASK]!;
  }

  id(i: number): string {
    const j = this.head + i;
    const chunk = this.chunks[j >>> CHUNK_BITS]!;
    return `${chunk.ms[j & MASK]!}-${chunk.seq[j & MASK]!}`;
  }

  fields(i: number): EntryFields {
    const j = this.head + i;
    return this.chunks[j >>> CHUNK_BITS]!.fields[j & MASK]!;
  }

  /** A new `{ id, fields }` for entry `i`. */
  entry(i: number): StreamEntry {
    const j = this.head + i;
    const chunk = this.chunks[j >>> CHUNK_BITS]!;
    const k = j & MASK;
    return { id: `${chunk.ms[k]!}-${chunk.seq[k]!}`, fields: chunk.fields[k]! };
  }

  /** Entries `from` (inclusive) to `to` (exclusive) as new `{ id, fields }` objects. */
  entries(from: number, to: number): StreamEntry[] {
    const out = new Array<StreamEntry>(Math.max(0, to - from));
    for (let i = from; i < to; i++) out[i - from] = this.entry(i);
    return out;
  }

  /** Index of the first entry with id > (ms, seq). */
  upperBound(ms: number, seq: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.ms(mid);
      if (m < ms || (m === ms && this.seq(mid) <= seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first entry with id ≥ (ms, seq). */
  lowerBound(ms: number, seq: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.ms(mid);
      if (m < ms || (m === ms && this.seq(mid) < seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the entry with exactly this id, or -1. */
  indexOf(ms: number, seq: number): number {
    const i = this.lowerBound(ms, seq);
    return i < this.size && this.ms(i) === ms && this.seq(i) === seq ? i : -1;
  }

  /** Removes the first `n` entries (and lets their fields go). */
  removeFirst(n: number): void {
    n = Math.min(n, this.size);
    if (n <= 0) return;
    const end = this.head + n;
    const whole = end >>> CHUNK_BITS;
    // Entries removed from the chunk that stays must not keep their fields alive.
    const kept = this.chunks[whole];
    if (kept !== undefined) kept.fields.fill(undefined, whole === 0 ? this.head : 0, end & MASK);
    this.chunks.splice(0, whole);
    this.head = end & MASK;
    this.size -= n;
    if (this.size === 0 && this.chunks.length > 0) {
      // Empty: start over at the beginning of the one chunk left.
      this.chunks.splice(1);
      this.chunks[0]!.fields.fill(undefined);
      this.head = 0;
    }
  }
}
