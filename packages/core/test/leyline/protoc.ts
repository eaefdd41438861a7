// Runs protoc (Google's C++ implementation, from the pinned `protoc` devDependency: see
// scripts/protoc.mjs and docs/decisions/0050) on leyline.proto as an independent reference
// encoder/decoder. The well-known types come from the same package.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findProtoc } from '../../../../scripts/protoc.mjs';

const protoDir = fileURLToPath(new URL('../../proto', import.meta.url));
const protoc = findProtoc(fileURLToPath(new URL('../..', import.meta.url)));
const includes = ['-I', protoDir, '-I', protoc.include, 'leyline.proto'];

/** Fully qualified Leyline type name (`esper.leyline.v1.<Type>`). */
export function leylineType(typeName: string): string {
  return typeName.includes('.') ? typeName : `esper.leyline.v1.${typeName}`;
}

/** `protoc --encode`: text format in, binary out. `deterministic` adds `--deterministic_output`. */
export function protocEncode(typeName: string, text: string, deterministic = false): Uint8Array {
  const args = [`--encode=${leylineType(typeName)}`, ...(deterministic ? ['--deterministic_output'] : []), ...includes];
  const out = execFileSync(protoc.command, args, { input: Buffer.from(text, 'utf8'), stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** `protoc --decode`: binary in, text format out (throws when protoc rejects the bytes). */
export function protocDecode(typeName: string, bytes: Uint8Array): string {
  const out = execFileSync(protoc.command, [`--decode=${leylineType(typeName)}`, ...includes], {
    input: Buffer.from(bytes),
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 1 << 24,
  });
  return out.toString('utf8');
}

/** Lowercase hex, for readable byte diffs in assertion messages. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
