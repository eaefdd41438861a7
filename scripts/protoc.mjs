// Finds protoc in the `protoc` npm package (a pinned devDependency of @esper/core and
// @esper/onnx): the official protoc release binaries for Linux, macOS and Windows, plus the
// well-known types (google/protobuf/*.proto), shipped inside the package tarball itself, so
// `pnpm install` brings them with no install script, download or system package.
// Used by `pnpm gen` (scripts/protoc-es.mjs) and by the wire-compatibility tests.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * protoc's executable, its well-known-types include directory and its version, resolved from
 * the `protoc` package that `pkgDir`'s package.json depends on. The binary is run directly,
 * not through the package's node wrapper (one process per call instead of two).
 *
 * @param {string} pkgDir directory of a package.json that lists `protoc` in its dependencies
 * @returns {{ command: string, include: string, version: string }}
 */
export function findProtoc(pkgDir) {
  const require = createRequire(join(resolve(pkgDir), 'package.json'));
  let root;
  try {
    root = dirname(require.resolve('protoc/package.json'));
  } catch {
    throw new Error(`the protoc npm package is not installed for ${pkgDir}: run \`pnpm install\` at the repository root`);
  }
  /** @type {{ platform: string, arch: string, executable: string }[]} */
  const assets = JSON.parse(readFileSync(join(root, 'assets.json'), 'utf8'));
  const asset = assets.find((a) => a.platform === process.platform && a.arch === process.arch);
  if (asset === undefined) {
    const offered = assets.map((a) => `${a.platform}-${a.arch}`).join(', ');
    throw new Error(`the protoc npm package has no binary for ${process.platform}-${process.arch} (it ships ${offered})`);
  }
  const command = join(root, 'bin', asset.executable);
  const include = join(root, 'include');
  if (!existsSync(command)) throw new Error(`protoc binary missing at ${command}: run \`pnpm install\` at the repository root`);
  if (!existsSync(join(include, 'google', 'protobuf', 'timestamp.proto'))) throw new Error(`well-known types missing under ${include}`);
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  return { command, include, version };
}
