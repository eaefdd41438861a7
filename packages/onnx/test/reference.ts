// Independent, deliberately naive JS reference implementations (float64) that the operator
// tests compare ONNX Runtime's results with. Nothing here is shared with the package code.

export interface Arr {
  dims: number[];
  data: number[];
}

export const arr = (dims: number[], data: ArrayLike<number | bigint>): Arr => ({ dims: [...dims], data: Array.from(data, Number) });

export function size(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

export function unravel(i: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length).fill(0);
  for (let d = dims.length - 1; d >= 0; d--) {
    idx[d] = i % dims[d]!;
    i = Math.floor(i / dims[d]!);
  }
  return idx;
}

export function ravel(idx: readonly number[], dims: readonly number[]): number {
  let o = 0;
  for (let d = 0; d < dims.length; d++) o = o * dims[d]! + idx[d]!;
  return o;
}

export function map(a: Arr, f: (v: number) => number): Arr {
  return { dims: [...a.dims], data: a.data.map(f) };
}

export function broadcast(a: Arr, b: Arr, f: (x: number, y: number) => number): Arr {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pa = [...new Array(rank - a.dims.length).fill(1), ...a.dims];
  const pb = [...new Array(rank - b.dims.length).fill(1), ...b.dims];
  const dims = pa.map((d, i) => Math.max(d, pb[i]!));
  const data: number[] = [];
  for (let i = 0; i < size(dims); i++) {
    const idx = unravel(i, dims);
    const ia = ravel(idx.map((v, k) => (pa[k] === 1 ? 0 : v)), pa);
    const ib = ravel(idx.map((v, k) => (pb[k] === 1 ? 0 : v)), pb);
    data.push(f(a.data[ia]!, b.data[ib]!));
  }
  return { dims, data };
}

export function matmul(a: Arr, b: Arr): Arr {
  // batched over equal leading dims
  const m = a.dims[a.dims.length - 2]!;
  const k = a.dims[a.dims.length - 1]!;
  const n = b.dims[b.dims.length - 1]!;
  const batch = a.dims.slice(0, -2);
  const nb = size(batch);
  const data: number[] = [];
  for (let q = 0; q < nb; q++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a.data[q * m * k + i * k + t]! * b.data[(b.dims.length > 2 ? q * k * n : 0) + t * n + j]!;
        data.push(s);
      }
  return { dims: [...batch, m, n], data };
}

export function transpose(a: Arr, perm: number[]): Arr {
  const dims = perm.map((p) => a.dims[p]!);
  const data: number[] = [];
  for (let i = 0; i < size(dims); i++) {
    const idx = unravel(i, dims);
    const src = new Array<number>(a.dims.length);
    perm.forEach((p, k) => (src[p] = idx[k]!));
    data.push(a.data[ravel(src, a.dims)]!);
  }
  return { dims, data };
}

export function reduce(a: Arr, axes: number[], keep: boolean, kind: 'sum' | 'mean' | 'max'): Arr {
  const set = new Set(axes.map((x) => (x < 0 ? x + a.dims.length : x)));
  const keptDims = a.dims.map((d, i) => (set.has(i) ? 1 : d));
  const acc = new Array<number>(size(keptDims)).fill(kind === 'max' ? -Infinity : 0);
  const count = size(a.dims) / size(keptDims);
  a.data.forEach((v, i) => {
    const idx = unravel(i, a.dims).map((x, d) => (set.has(d) ? 0 : x));
    const o = ravel(idx, keptDims);
    acc[o] = kind === 'max' ? Math.max(acc[o]!, v) : acc[o]! + v;
  });
  const data = kind === 'mean' ? acc.map((v) => v / count) : acc;
  return { dims: keep ? keptDims : a.dims.filter((_, i) => !set.has(i)), data };
}

export function softmax(a: Arr, axis: number, log = false): Arr {
  const ax = axis < 0 ? axis + a.dims.length : axis;
  const mx = reduce(a, [ax], true, 'max');
  const e = broadcast(a, mx, (x, m) => Math.exp(x - m));
  const s = reduce(e, [ax], true, 'sum');
  if (!log) return broadcast(e, s, (x, t) => x / t);
  return broadcast(broadcast(a, mx, (x, m) => x - m), s, (x, t) => x - Math.log(t));
}

// Abramowitz–Stegun 7.1.26 is only 1.5e-7 accurate; use a series/continued-fraction pair instead.
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export function conv2d(x: Arr, w: Arr, b: number[] | null, pads: number[], strides: number[]): Arr {
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [O, , KH, KW] = w.dims as [number, number, number, number];
  const OH = Math.floor((H + pads[0]! + pads[2]! - KH) / strides[0]!) + 1;
  const OW = Math.floor((W + pads[1]! + pads[3]! - KW) / strides[1]!) + 1;
  const data: number[] = [];
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = b ? b[o]! : 0;
          for (let c = 0; c < C; c++)
            for (let p = 0; p < KH; p++)
              for (let q = 0; q < KW; q++) {
                const y = i * strides[0]! - pads[0]! + p;
                const z = j * strides[1]! - pads[1]! + q;
                if (y < 0 || y >= H || z < 0 || z >= W) continue;
                s += x.data[((n * C + c) * H + y) * W + z]! * w.data[((o * C + c) * KH + p) * KW + q]!;
              }
          data.push(s);
        }
  return { dims: [N, O, OH, OW], data };
}

export function pool2d(x: Arr, k: number[], strides: number[], pads: number[], kind: 'max' | 'avg'): Arr {
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const OH = Math.floor((H + pads[0]! + pads[2]! - k[0]!) / strides[0]!) + 1;
  const OW = Math.floor((W + pads[1]! + pads[3]! - k[1]!) / strides[1]!) + 1;
  const data: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let m = -Infinity;
          let s = 0;
          let cnt = 0;
          for (let p = 0; p < k[0]!; p++)
            for (let q = 0; q < k[1]!; q++) {
              const y = i * strides[0]! - pads[0]! + p;
              const z = j * strides[1]! - pads[1]! + q;
              if (y < 0 || y >= H || z < 0 || z >= W) continue;
              const v = x.data[((n * C + c) * H + y) * W + z]!;
              m = Math.max(m, v);
              s += v;
              cnt++;
            }
          data.push(kind === 'max' ? m : s / cnt);
        }
  return { dims: [N, C, OH, OW], data };
}
