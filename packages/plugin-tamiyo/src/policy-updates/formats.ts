import { PolicyValidationError } from './errors.js';

/** Element types of a safetensors file and their byte sizes. */
export const SAFETENSORS_DTYPES = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const);

/** One of {@link SAFETENSORS_DTYPES}. */
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

/** One tensor of a weights file: its type, shape and raw little-endian bytes. */
export interface WeightTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** A parsed weights file: tensors by name and the file's string metadata. */
export interface WeightFile {
  readonly tensors: ReadonlyMap<string, WeightTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Largest safetensors header accepted (the format's own limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Parses a safetensors file (`u64 LE header length`, JSON header, raw data): plain tensors, no
 * code. Checks every offset, that each tensor's byte range matches its dtype and shape, that the
 * ranges tile the data without gaps or overlap, and that the metadata is a string map.
 *
 * @throws {@link PolicyValidationError} (`invalid_payload`) for anything else.
 */
export function parseSafetensors(bytes: Uint8Array): WeightFile {
  const bad = (why: string): never => {
    throw new PolicyValidationError('invalid_payload', `not a valid safetensors weights file: ${why}`);
  };
  if (bytes.byteLength < 8) bad('shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.byteLength) bad(`header length ${headerLength} is out of range`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    bad('the header is not UTF-8 JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad('the header is not a JSON object');
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, WeightTensor>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number][] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('__metadata__ is not an object');
      for (const v of Object.values(value as object)) if (typeof v !== 'string') bad('__metadata__ values must be strings');
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (t === null || typeof t !== 'object') bad(`tensor "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = t!;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPES)) bad(`tensor "${name}" has an unknown dtype ${String(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) bad(`tensor "${name}" has an invalid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      bad(`tensor "${name}" has invalid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const elements = (shape as number[]).reduce((n, d) => n * d, 1);
    const size = SAFETENSORS_DTYPES[dtype as SafetensorsDtype];
    if (end < begin || end > data.byteLength) bad(`tensor "${name}" lies outside the data`);
    if (end - begin !== elements * size) bad(`tensor "${name}" has ${end - begin} bytes for ${elements} × ${dtype}`);
    ranges.push([begin, end]);
    tensors.set(name, { dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], bytes: data.subarray(begin, end) });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end] of ranges) {
    if (begin !== at) bad('tensor data ranges overlap or leave gaps');
    at = end;
  }
  if (at !== data.byteLength) bad('bytes after the last tensor');
  return { tensors, metadata };
}

/** Writes a safetensors file (for producers of updates, and tests). Tensors are laid out in the given order. */
export function encodeSafetensors(tensors: ReadonlyMap<string, WeightTensor> | Readonly<Record<string, WeightTensor>>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let at = 0;
  for (const [name, t] of entries) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.bytes.byteLength] };
    at += t.bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8; // the format pads the header with spaces to 8 bytes
  if (padded !== json.byteLength) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(padded - json.byteLength));
  const out = new Uint8Array(8 + json.byteLength + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let offset = 8 + json.byteLength;
  for (const [, t] of entries) {
    out.set(t.bytes, offset);
    offset += t.bytes.byteLength;
  }
  return out;
}

/**
 * Checks that `bytes` are an ONNX `ModelProto` in protobuf wire format: every field parses to the
 * end, `ir_version` (field 1) is a positive varint and a `graph` (field 7) is present. An ONNX
 * model is data for the runtime (operators from a fixed set), not code; the policy owner still
 * validates its inputs and outputs when it loads it.
 *
 * @throws {@link PolicyValidationError} (`invalid_payload`) otherwise.
 */
export function checkOnnxModel(bytes: Uint8Array): void {
  const bad = (why: string): never => {
    throw new PolicyValidationError('invalid_payload', `not an ONNX model: ${why}`);
  };
  let at = 0;
  let irVersion = 0n;
  let graph = false;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= bytes.byteLength) bad('truncated varint');
      const b = bytes[at++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    return bad('varint too long');
  };
  while (at < bytes.byteLength) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) bad('field number 0');
    switch (wire) {
      case 0: {
        const v = varint();
        if (field === 1) irVersion = v;
        break;
      }
      case 1:
        at += 8;
        break;
      case 2: {
        const length = Number(varint());
        if (field === 7) graph = true;
        at += length;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        bad(`unsupported wire type ${wire}`);
    }
    if (at > bytes.byteLength) bad('a field runs past the end');
  }
  if (irVersion <= 0n) bad('no ir_version');
  if (!graph) bad('no graph');
}
