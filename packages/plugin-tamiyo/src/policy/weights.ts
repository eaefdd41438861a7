import { readFile } from 'node:fs/promises';
import { isEsperError } from '@esper/core';
import { loadCheckpoint, ParameterSet, saveCheckpoint, tensor } from '@esper/onnx';
import { encodeSafetensors as encodeSafetensorsFile, parseSafetensors, type WeightFile, type WeightTensor } from '../policy-updates/formats.js';
import { ARCHITECTURE_VERSION, REFERENCE_DIMS, policyWeightSpecs, type PolicyDims } from './architecture.js';
import { PolicyWeightsError } from './errors.js';

/** Checkpoint metadata key naming the architecture. */
export const WEIGHTS_ARCHITECTURE_KEY = 'tamiyo.architecture';
/** Checkpoint metadata key holding the dims as JSON. */
export const WEIGHTS_DIMS_KEY = 'tamiyo.dims';

/** Checks that `params` holds every weight of the architecture at its shape (extra tensors are refused too). */
export function checkPolicyWeights(params: ParameterSet, dims: PolicyDims = REFERENCE_DIMS): void {
  const specs = policyWeightSpecs(dims);
  const expected = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    if (!params.has(spec.name)) throw new PolicyWeightsError(`"${spec.name}" is missing`);
    const got = params.get(spec.name).dims;
    if (got.length !== spec.dims.length || got.some((d, i) => d !== spec.dims[i])) {
      throw new PolicyWeightsError(`"${spec.name}" has shape [${got.join(', ')}], expected [${spec.dims.join(', ')}]`);
    }
  }
  for (const [name] of params) if (!expected.has(name)) throw new PolicyWeightsError(`"${name}" is not a weight of ${ARCHITECTURE_VERSION}`);
}

/**
 * Writes policy weights as an `@esper/onnx` checkpoint (crc32 per tensor, atomic rename),
 * under their PyTorch names, with the architecture and dims in its metadata.
 */
export async function savePolicyWeights(path: string, params: ParameterSet, dims: PolicyDims = REFERENCE_DIMS): Promise<void> {
  checkPolicyWeights(params, dims);
  await saveCheckpoint(path, params, { [WEIGHTS_ARCHITECTURE_KEY]: ARCHITECTURE_VERSION, [WEIGHTS_DIMS_KEY]: JSON.stringify(dims) });
}

/** Metadata keys of a safetensors file that name the architecture (ours, then the reference's checkpoint key). */
const SAFETENSORS_ARCHITECTURE_KEYS = [WEIGHTS_ARCHITECTURE_KEY, 'architecture_version'] as const;

/** Wrapper prefixes PyTorch adds to state-dict keys: `DataParallel` (`module.`) and `torch.compile` (`_orig_mod.`). */
const WRAPPER_PREFIX = /^(?:module\.|_orig_mod\.)+/;
/** `<prefix>.convs.<relation>.<parameter>` of a HeteroConv layer; the relation part may hold dots only inside brackets. */
const HETERO_KEY = /^(.*?\.convs\.)(.+?)\.((?:lin(?:_[a-z]+)?\.(?:weight|bias))|att_[a-z]+|bias)$/;

/**
 * The policy's name for a PyTorch (Geometric) state-dict key. PyG spells a HeteroConv relation
 * `<src___rel___dst>` (≥ 2.4), `src__rel__dst` (older releases) or, when a dict keyed by edge
 * type tuples is printed, `('src', 'rel', 'dst')` / `['src', 'rel', 'dst']`; all become
 * `src___rel___dst`. `module.` and `_orig_mod.` wrapper prefixes are dropped (a compiled model's
 * checkpoint loads as the plain one, reference §17 item 17). Other keys are returned unchanged.
 */
export function canonicalWeightName(key: string): string {
  const name = key.replace(WRAPPER_PREFIX, '');
  const m = HETERO_KEY.exec(name);
  if (m === null) return name;
  const [, head, relation, tail] = m as unknown as [string, string, string, string];
  let parts: string[];
  const inner = relation.replace(/^[<([]\s*/, '').replace(/\s*[>)\]]$/, '');
  if (inner !== relation && /['"]/.test(inner)) parts = inner.split(',').map((p) => p.trim().replace(/^['"]|['"]$/g, ''));
  else if (inner.includes('___')) parts = inner.split('___');
  else parts = inner.split('__');
  if (parts.length !== 3 || parts.some((p) => p === '')) return name;
  return `${head}${parts.join('___')}.${tail}`;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Float32 values of a safetensors tensor (F32, F64, F16 and BF16 are accepted). */
function floatValues(name: string, t: WeightTensor): Float32Array {
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F32':
      // A copy of the bytes is aligned; safetensors data is little-endian like every host we run on.
      // (`new Uint8Array(view)` copies; a Node Buffer's `slice` would not.)
      if (LITTLE_ENDIAN) return new Float32Array(new Uint8Array(t.bytes).buffer, 0, n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'BF16': {
      const bits = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        bits.setUint32(0, view.getUint16(i * 2, true) << 16);
        out[i] = bits.getFloat32(0);
      }
      return out;
    }
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    default:
      throw new PolicyWeightsError(`"${name}" is ${t.dtype}; policy weights must be F32, F64, F16 or BF16`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * Policy weights from a parsed safetensors file (a PyTorch `state_dict()` saved with
 * `safetensors.torch.save_file`): keys are mapped by {@link canonicalWeightName}, values become
 * float32, and the result is checked against the architecture at `dims`. The file's metadata may
 * name the architecture (`tamiyo.architecture` or `architecture_version`); another one is refused.
 *
 * @throws {@link PolicyWeightsError} for another architecture, a non-float tensor, two keys that
 *   map to one name with different values, or a missing, extra or misshapen weight.
 */
export function policyWeightsFromSafetensors(file: WeightFile, dims: PolicyDims = REFERENCE_DIMS): ParameterSet {
  for (const key of SAFETENSORS_ARCHITECTURE_KEYS) {
    const arch = file.metadata[key];
    if (arch !== undefined && arch !== ARCHITECTURE_VERSION) throw new PolicyWeightsError(`the weights are for architecture "${arch}", this policy is "${ARCHITECTURE_VERSION}"`);
  }
  const params = new ParameterSet();
  const seen = new Map<string, Float32Array>();
  for (const [key, t] of file.tensors) {
    const name = canonicalWeightName(key);
    const values = floatValues(key, t);
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      // A compiled model's checkpoint carries each weight twice (plain and `_orig_mod.`); equal copies are one weight.
      if (earlier.length !== values.length || earlier.some((v, i) => v !== values[i])) throw new PolicyWeightsError(`"${key}" and another key both name "${name}" with different values`);
      continue;
    }
    seen.set(name, values);
    params.add(name, tensor('float32', [...t.shape], values));
  }
  checkPolicyWeights(params, dims);
  return params;
}

/** True when `bytes` start like a safetensors file: a u64 header length, then a JSON object. */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n > 0n && n <= BigInt(bytes.byteLength - 8) && bytes[8] === 0x7b; // '{'
}

/**
 * Reads policy weights from a file and checks them against the architecture: an `@esper/onnx`
 * checkpoint written by {@link savePolicyWeights} (or any with the names of `policyWeightSpecs`),
 * or a safetensors file exported from PyTorch Geometric (`save_file(model.state_dict(), path)`,
 * keys as {@link canonicalWeightName} reads them).
 *
 * @throws {@link PolicyWeightsError} (`ESPER_TAMIYO_POLICY_WEIGHTS`) for a missing, damaged or foreign file, or weights of another architecture.
 */
export async function loadPolicyWeights(path: string, dims: PolicyDims = REFERENCE_DIMS): Promise<ParameterSet> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(path);
  } catch {
    // loadCheckpoint reports the missing file with its own code.
  }
  if (bytes !== undefined && looksLikeSafetensors(bytes)) {
    let file: WeightFile;
    try {
      file = parseSafetensors(bytes);
    } catch (error) {
      throw new PolicyWeightsError(`cannot read ${path} (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    return policyWeightsFromSafetensors(file, dims);
  }
  let checkpoint;
  try {
    checkpoint = await loadCheckpoint(path);
  } catch (error) {
    const detail = isEsperError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    throw new PolicyWeightsError(`cannot read ${path} (${detail})`, { cause: error });
  }
  const arch = checkpoint.metadata[WEIGHTS_ARCHITECTURE_KEY];
  if (arch !== undefined && arch !== ARCHITECTURE_VERSION) throw new PolicyWeightsError(`${path} holds architecture "${arch}", this policy is "${ARCHITECTURE_VERSION}"`);
  checkPolicyWeights(checkpoint.parameters, dims);
  return checkpoint.parameters;
}

/**
 * Policy weights as a safetensors file (F32, PyTorch names and layouts, architecture and dims in
 * its metadata): the body of a `safetensors` policy update, and what `safetensors.torch.load_file`
 * reads on the PyTorch side.
 */
export function encodePolicyWeights(params: ParameterSet, dims: PolicyDims = REFERENCE_DIMS): Uint8Array {
  checkPolicyWeights(params, dims);
  const tensors = new Map<string, WeightTensor>();
  for (const [name, t] of params) {
    const data = t.data as Float32Array;
    const bytes = new Uint8Array(data.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
    tensors.set(name, { dtype: 'F32', shape: [...t.dims], bytes });
  }
  return encodeSafetensorsFile(tensors, { [WEIGHTS_ARCHITECTURE_KEY]: ARCHITECTURE_VERSION, [WEIGHTS_DIMS_KEY]: JSON.stringify(dims) });
}
