#!/usr/bin/env node
// Regenerates the ONNX protobuf bindings from proto/onnx.proto (the official schema of the
// onnx/onnx repository, Apache-2.0) with protoc and protoc-gen-es (@bufbuild/protobuf v2).
// Usage: `pnpm --filter @esper/onnx gen` (writes gen/), or
// `node scripts/gen-onnx.mjs --out <dir>` (used by the staleness test).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const outDir = resolve(outIdx >= 0 ? args[outIdx + 1] : join(pkgDir, 'gen'));

const HEADER =
  '// Generated from proto/onnx.proto (onnx/onnx, Apache-2.0) by protoc + protoc-gen-es. Do not edit by hand.\n' +
  '// Regenerate with `pnpm --filter @esper/onnx gen`; a test fails when this file is stale.\n';

function findPlugin() {
  const require = createRequire(join(pkgDir, 'package.json'));
  const pkgJson = require.resolve('@bufbuild/protoc-gen-es/package.json');
  const bin = join(dirname(pkgJson), 'bin', 'protoc-gen-es');
  if (!existsSync(bin)) throw new Error(`protoc-gen-es not found at ${bin}; run pnpm install`);
  return bin;
}

function protocAvailable() {
  try {
    execFileSync('protoc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!protocAvailable()) {
  console.error('protoc was not found on PATH. Install it (Debian: apt-get install protobuf-compiler) and retry.');
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
execFileSync(
  'protoc',
  [
    `--plugin=protoc-gen-es=${findPlugin()}`,
    `--es_out=${outDir}`,
    '--es_opt=target=ts,import_extension=js',
    '-I',
    join(pkgDir, 'proto'),
    join(pkgDir, 'proto', 'onnx.proto'),
  ],
  { stdio: 'inherit' },
);

for (const file of readdirSync(outDir)) {
  if (!file.endsWith('.ts')) continue;
  const path = join(outDir, file);
  const text = readFileSync(path, 'utf8');
  if (!text.startsWith(HEADER)) writeFileSync(path, HEADER + text);
}
console.log(`onnx bindings written to ${outDir}`);
