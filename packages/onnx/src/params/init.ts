import { createHash } from 'node:crypto';
import { OnnxParameterError } from '../errors.js';
import { numel, tensor } from '../ir/tensor-data.js';
import { ParameterSet, type ParameterTensor } from './parameter-set.js';
import { Prng } from './prng.js';

/**
 * How a parameter starts.
 *
 * - `kaiming` (He): variance `gain² / fanIn`; default gain √2 (ReLU). Uniform bound
 *   `gain·√(3/fanIn)`, normal std `gain/√fanIn`.
 * - `xavier` (Glorot): variance `gain² · 2 / (fanIn + fanOut)`; default gain 1.
 * - `zeros`, `ones`, `constant`.
 *
 * Fans: a 2-D weight is `[in, out]` (the `x @ W` layout MatMul uses) unless `layout: 'out-in'`
 * (PyTorch's Linear layout); a 4-D conv weight is OIHW (fanIn = I·H·W, fanOut = O·H·W);
 * 1-D tensors use their length for both.
 */
export type Init =
  | { readonly kind: 'kaiming'; readonly distribution?: 'uniform' | 'normal'; readonly gain?: number; readonly layout?: 'in-out' | 'out-in' }
  | { readonly kind: 'xavier'; readonly distribution?: 'uniform' | 'normal'; readonly gain?: number; readonly layout?: 'in-out' | 'out-in' }
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'constant'; readonly value: number };

/** One parameter to initialise. */
export interface ParameterSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly init: Init;
}

/** `[fanIn, fanOut]` of a weight shape (see {@link Init}). */
export function fans(dims: readonly number[], layout: 'in-out' | 'out-in' = 'in-out'): [number, number] {
  if (dims.length === 0) return [1, 1];
  if (dims.length === 1) return [dims[0] as number, dims[0] as number];
  if (dims.length === 2) {
    const [a, b] = dims as [number, number];
    return layout === 'in-out' ? [a, b] : [b, a];
  }
  const receptive = numel(dims.slice(2));
  return [(dims[1] as number) * receptive, (dims[0] as number) * receptive];
}

/**
 * The PRNG seed of one parameter: derived from the run seed and the parameter's name, so adding
 * or reordering parameters does not change the others' values.
 */
export function parameterSeed(seed: number, name: string): number {
  return createHash('sha256').update(`${seed >>> 0}:${name}`).digest().readUInt32LE(0);
}

/** Initialises one tensor from `init` with `prng`. */
export function initTensor(dims: readonly number[], init: Init, prng: Prng): ParameterTensor {
  const n = numel(dims);
  const data = new Float32Array(n);
  switch (init.kind) {
    case 'zeros': break;
    case 'ones': data.fill(1); break;
    case 'constant': data.fill(init.value); break;
    case 'kaiming':
    case 'xavier': {
      const [fanIn, fanOut] = fans(dims, init.layout);
      if (fanIn <= 0 || fanOut <= 0) throw new OnnxParameterError(`cannot compute fans of dims [${dims.join(', ')}]`);
      const gain = init.gain ?? (init.kind === 'kaiming' ? Math.SQRT2 : 1);
      const std = init.kind === 'kaiming' ? gain / Math.sqrt(fanIn) : gain * Math.sqrt(2 / (fanIn + fanOut));
      if ((init.distribution ?? 'uniform') === 'uniform') {
        const bound = std * Math.sqrt(3);
        for (let i = 0; i < n; i++) data[i] = prng.uniform(-bound, bound);
      } else {
        for (let i = 0; i < n; i++) data[i] = std * prng.normal();
      }
      break;
    }
  }
  return tensor('float32', dims, data);
}

/** Initialises a parameter set from specs, deterministically for a given `seed`. */
export function initParameters(specs: readonly ParameterSpec[], seed: number): ParameterSet {
  const set = new ParameterSet();
  for (const s of specs) set.add(s.name, initTensor(s.dims, s.init, new Prng(parameterSeed(seed, s.name))));
  return set;
}
