import { OnnxShapeError } from '../errors.js';
import type { Dim, Shape } from './graph.js';

/** Renders a shape for messages: `[batch, 784]`, `[?]`, or `unknown`. */
export function formatShape(shape: Shape | null): string {
  if (shape === null) return 'unknown';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** True when two dims are provably different (two different fixed sizes). */
function conflict(a: Dim, b: Dim): boolean {
  return typeof a === 'number' && typeof b === 'number' && a !== b;
}

/** The more informative of two dims that must be equal (throws when provably different). */
export function unifyDim(a: Dim, b: Dim, what: string): Dim {
  if (conflict(a, b)) throw new OnnxShapeError(`${what}: dimension ${String(a)} does not match ${String(b)}`);
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  if (a === b) return a;
  return a ?? b;
}

/** Numpy-style broadcast of two shapes; throws {@link OnnxShapeError} when fixed dims clash. */
export function broadcastShapes(a: Shape | null, b: Shape | null, what: string): Shape | null {
  if (a === null || b === null) return null;
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : (a[i - (rank - a.length)] as Dim);
    const db = i < rank - b.length ? 1 : (b[i - (rank - b.length)] as Dim);
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') {
      if (da !== db) throw new OnnxShapeError(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (dim ${i}: ${da} vs ${db})`);
      out.push(da);
    } else if (typeof da === 'number') out.push(da);
    else if (typeof db === 'number') out.push(db);
    else out.push(da === db ? da : null);
  }
  return out;
}

/** Normalises a possibly negative axis against a rank; throws when out of range. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new OnnxShapeError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Product of dims when all are fixed, else null. */
export function knownNumel(shape: Shape | null): number | null {
  if (shape === null) return null;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}
