import { open, rename, readFile, unlink } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { OnnxCheckpointCorruptError } from '../errors.js';
import { numel, tensor, tensorBytes } from '../ir/tensor-data.js';
import { ParameterSet } from './parameter-set.js';

/**
 * Checkpoint layout (all integers little-endian):
 *
 *     magic "ESPRCKPT" (8 bytes) | version u32 = 1 | header length u32 | header crc32 u32
 *     | header (UTF-8 JSON) | padding to 8 bytes | tensor data, each 8-byte aligned
 *
 * The header lists every tensor with dims, byte offset (from the start of the data section),
 * byte length and the crc32 of its bytes, plus free-form string metadata. Every checksum and
 * length is checked on load; any mismatch throws {@link OnnxCheckpointCorruptError}.
 */
export const CHECKPOINT_MAGIC = 'ESPRCKPT';
/** Format version written by this package. */
export const CHECKPOINT_VERSION = 1;

interface HeaderEntry {
  name: string;
  dtype: 'float32';
  dims: number[];
  offset: number;
  byteLength: number;
  crc32: number;
}
interface Header {
  format: 'esper-onnx-checkpoint';
  tensors: HeaderEntry[];
  metadata: Record<string, string>;
}

/** A decoded checkpoint. */
export interface Checkpoint {
  readonly parameters: ParameterSet;
  readonly metadata: Readonly<Record<string, string>>;
}

const PREFIX = 8 + 4 + 4 + 4;
const align8 = (n: number): number => (n + 7) & ~7;

/** Encodes parameters (and string metadata) as checkpoint bytes. */
export function encodeCheckpoint(parameters: ParameterSet, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const tensors: HeaderEntry[] = [];
  let offset = 0;
  for (const [name, t] of parameters) {
    const bytes = tensorBytes(t);
    tensors.push({ name, dtype: 'float32', dims: [...t.dims], offset, byteLength: bytes.byteLength, crc32: crc32(bytes) });
    offset = align8(offset + bytes.byteLength);
  }
  const header: Header = { format: 'esper-onnx-checkpoint', tensors, metadata: { ...metadata } };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(PREFIX + headerBytes.byteLength);
  const out = new Uint8Array(dataStart + offset);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, headerBytes.byteLength, true);
  view.setUint32(16, crc32(headerBytes), true);
  out.set(headerBytes, PREFIX);
  let i = 0;
  for (const [, t] of parameters) out.set(tensorBytes(t), dataStart + (tensors[i++] as HeaderEntry).offset);
  return out;
}

/**
 * Decodes checkpoint bytes. Throws {@link OnnxCheckpointCorruptError} naming what is wrong: not
 * a checkpoint, unsupported version, truncated, header checksum, or which tensor's checksum
 * failed. `source` names the file in messages.
 */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const fail = (what: string): never => {
    throw new OnnxCheckpointCorruptError(`${source} is corrupt: ${what}. Restore it from another checkpoint; it was not loaded.`);
  };
  if (bytes.byteLength < PREFIX) fail(`only ${bytes.byteLength} bytes, shorter than the fixed prefix`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== CHECKPOINT_MAGIC) fail(`it does not start with "${CHECKPOINT_MAGIC}" (not an @esper/onnx checkpoint)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) fail(`format version ${version} is not supported (this build reads version ${CHECKPOINT_VERSION})`);
  const headerLength = view.getUint32(12, true);
  if (PREFIX + headerLength > bytes.byteLength) fail(`header of ${headerLength} bytes runs past the end of the file (truncated)`);
  const headerBytes = bytes.subarray(PREFIX, PREFIX + headerLength);
  if (crc32(headerBytes) !== view.getUint32(16, true)) fail('header checksum mismatch');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes)) as Header;
  } catch {
    return fail('header is not valid JSON');
  }
  if (header.format !== 'esper-onnx-checkpoint' || !Array.isArray(header.tensors)) fail('header does not describe a checkpoint');
  const dataStart = align8(PREFIX + headerLength);
  const parameters = new ParameterSet();
  for (const e of header.tensors) {
    const start = dataStart + e.offset;
    if (e.byteLength !== numel(e.dims) * 4) fail(`tensor "${e.name}" has ${e.byteLength} bytes for dims [${e.dims.join(', ')}]`);
    if (start + e.byteLength > bytes.byteLength) fail(`tensor "${e.name}" runs past the end of the file (truncated)`);
    const slice = bytes.subarray(start, start + e.byteLength);
    const actual = crc32(slice);
    if (actual !== e.crc32) fail(`tensor "${e.name}" checksum mismatch (stored ${e.crc32.toString(16)}, computed ${actual.toString(16)})`);
    const data = new Float32Array(numel(e.dims));
    new Uint8Array(data.buffer).set(slice);
    parameters.add(e.name, tensor('float32', e.dims, data));
  }
  return { parameters, metadata: header.metadata ?? {} };
}

/**
 * Writes a checkpoint file atomically: to `path.tmp`, fsync, then rename over `path`, so a
 * crash leaves the previous file or the new one, never a torn mix.
 */
export async function saveCheckpoint(path: string, parameters: ParameterSet, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
  const bytes = encodeCheckpoint(parameters, metadata);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

/** Reads and verifies a checkpoint file (see {@link decodeCheckpoint}). */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(new Uint8Array(await readFile(path)), path);
}
