// Shared by the packages' `gen` scripts: runs protoc (from the `protoc` npm package, see
// scripts/protoc.mjs) with protoc-gen-es (@bufbuild/protobuf v2) over one .proto file of a
// package and stamps a "generated, do not edit" header on the output. Needs no system package.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { findProtoc } from './protoc.mjs';

/**
 * Generates TypeScript bindings for `proto/<protoFile>` of the package at `pkgDir` into
 * `--out <dir>` when given on the command line (the staleness tests use it), else `gen/`.
 * Exits 1 with an install hint when the `protoc` npm package is missing.
 *
 * @param {{ pkgDir: string, protoFile: string, header: string, wellKnownTypes?: boolean, label: string }} options
 */
export function generateBindings({ pkgDir, protoFile, header, wellKnownTypes = false, label }) {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  const outDir = resolve(outIdx >= 0 ? args[outIdx + 1] : join(pkgDir, 'gen'));

  let protoc;
  try {
    protoc = findProtoc(pkgDir);
  } catch (error) {
    console.error(`${label}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  const require = createRequire(join(pkgDir, 'package.json'));
  const plugin = join(dirname(require.resolve('@bufbuild/protoc-gen-es/package.json')), 'bin', 'protoc-gen-es');
  if (!existsSync(plugin)) throw new Error(`protoc-gen-es not found at ${plugin}; run pnpm install`);

  mkdirSync(outDir, { recursive: true });
  const includes = ['-I', join(pkgDir, 'proto')];
  // The protoc package ships the well-known types (google/protobuf/*.proto) next to its binaries.
  if (wellKnownTypes) includes.push('-I', protoc.include);
  execFileSync(
    protoc.command,
    [`--plugin=protoc-gen-es=${plugin}`, `--es_out=${outDir}`, '--es_opt=target=ts,import_extension=js', ...includes, join(pkgDir, 'proto', protoFile)],
    { stdio: 'inherit' },
  );

  for (const file of readdirSync(outDir)) {
    if (!file.endsWith('.ts')) continue;
    const path = join(outDir, file);
    const text = readFileSync(path, 'utf8');
    if (!text.startsWith(header)) writeFileSync(path, header + text);
  }
  console.log(`${label} bindings written to ${outDir}`);
}
