import { createHash } from 'node:crypto';

/**
 * A persistent string → positive index map (reference tamiyo §6.2): the empty key is 0, a known
 * key keeps its index, a new key gets `size + 1` while that is below the cap. Past the cap a key
 * is not stored and gets a stable FNV-1a hash modulo the cap (the reference used a per-process
 * random hash, §17 item 15). Lookups allocate nothing; persistence (`toJSON`) is the caller's.
 */
export class Registry {
  private readonly map = new Map<string, number>();
  private changed = false;

  constructor(
    /** Name of the registry file without `.json` (e.g. `seed_registry`). */
    readonly name: string,
    /** Capacity: indices stay below it. */
    readonly cap: number,
    /** Keys registered first, in order (e.g. the blending methods, so `linear` is 1). */
    preseed: readonly string[] = [],
  ) {
    for (const key of preseed) this.index(key);
    this.changed = false;
  }

  /** Index of `key`, registering it if new. */
  index(key: string): number {
    if (key === '') return 0;
    const known = this.map.get(key);
    if (known !== undefined) return known;
    const next = this.map.size + 1;
    if (next >= this.cap) return fnv1a(key) % this.cap;
    this.map.set(key, next);
    this.changed = true;
    return next;
  }

  /** Number of stored keys. */
  get size(): number {
    return this.map.size;
  }

  /** Whether a key was added since the last {@link markSaved}. */
  get dirty(): boolean {
    return this.changed;
  }

  /** Records that the current table was persisted. */
  markSaved(): void {
    this.changed = false;
  }

  /** Loads a persisted table (`{ key: index }`); invalid entries are skipped. */
  load(table: Readonly<Record<string, unknown>>): void {
    for (const [key, value] of Object.entries(table)) {
      if (key !== '' && typeof value === 'number' && Number.isInteger(value) && value > 0 && value < this.cap) this.map.set(key, value);
    }
    this.changed = false;
  }

  /** The table as persisted: `{ key: index }`. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.map);
  }

  /**
   * SHA-256 hex of the compact JSON array of `[key, index]` pairs sorted by key, with non-ASCII
   * escaped as `\uXXXX` (the reference's checkpoint digest).
   */
  digest(): string {
    const pairs = [...this.map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const json = JSON.stringify(pairs).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    return createHash('sha256').update(json).digest('hex');
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Blending methods of the policy, in order (tamiyo §2.4). */
export const BLENDING_METHODS = ['linear', 'cosine', 'warmup_hold'] as const;

/** The policy's registries (tamiyo §5.1), each with its cap and vocabulary divisor. */
export interface GraphRegistries {
  readonly seed: Registry;
  readonly blueprint: Registry;
  readonly schedule: Registry;
  readonly layerType: Registry;
  readonly activationType: Registry;
  readonly optimizerFamily: Registry;
  readonly hazardClass: Registry;
}

/** Fresh registries with the reference's caps and pre-seeded keys. */
export function createRegistries(): GraphRegistries {
  return {
    seed: new Registry('seed_registry', 1024),
    blueprint: new Registry('blueprint_registry', 1024),
    schedule: new Registry('schedule_registry', Math.max(64, BLENDING_METHODS.length + 16), BLENDING_METHODS),
    layerType: new Registry('layer_type_registry', 1024),
    activationType: new Registry('activation_type_registry', 1024),
    optimizerFamily: new Registry('optimizer_family_registry', 256, ['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad']),
    hazardClass: new Registry('hazard_class_registry', 256),
  };
}
