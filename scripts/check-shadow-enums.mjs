#!/usr/bin/env node
// The TypeScript counterpart of the reference's shadow-enum guard: Leyline enums exist only in
// generated code. Fails when hand-written code declares a TS enum, or a string-literal union /
// const array that spells the values of a Leyline enum (e.g. 'SEED_STAGE_TRAINING').
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const proto = readFileSync(join(root, 'packages/core/proto/leyline.proto'), 'utf8');
const enumValues = new Set([...proto.matchAll(/^\s+([A-Z][A-Z0-9_]+)\s*=\s*\d+;/gm)].map((m) => m[1]));

const SKIP = new Set(['node_modules', 'dist', 'gen', '.git', 'coverage']);
const offenders = [];

function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) check(path);
  }
}

function check(path) {
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (/^\s*(export\s+)?(declare\s+)?(const\s+)?enum\s+\w+/.test(line)) {
      offenders.push(`${relative(root, path)}:${i + 1}: TypeScript enum declaration`);
    }
    // A type alias or const tuple listing Leyline enum names as string literals.
    if (/\btype\s+\w+\s*=|as const/.test(line)) {
      const literals = [...line.matchAll(/['"]([A-Z][A-Z0-9_]+)['"]/g)].map((m) => m[1]).filter((v) => enumValues.has(v));
      if (literals.length >= 2) offenders.push(`${relative(root, path)}:${i + 1}: string literals mirroring a Leyline enum (${literals.join(', ')})`);
    }
  });
}

// Directories to scan: arguments, or the workspace's packages/ and examples/.
const targets = process.argv.length > 2 ? process.argv.slice(2) : ['packages', 'examples'].map((d) => join(root, d));
for (const target of targets) walk(target);
if (offenders.length > 0) {
  console.error('Shadow enums found (use the generated Leyline enums from @esper/core/leyline instead):');
  for (const o of offenders) console.error(`  ${o}`);
  process.exit(1);
}
console.log(`shadow-enum guard: ok (${enumValues.size} Leyline enum values checked)`);
