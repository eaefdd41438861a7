#!/usr/bin/env node
// Runs every benchmark script (packages/*/bench/*.bench.ts) one after another, each in its own
// process on the workspace sources. Benchmarks print figures and ratios; they never fail on times.
// Usage: pnpm bench [filter] [-- args…]   (filter: a substring of the file path; args after the
// filter go to every selected benchmark, e.g. `pnpm bench train --threads 4`)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv[2] ?? '';
const passArgs = process.argv.slice(3).filter((a) => a !== '--');
const files = [];
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir).sort()) if (name.endsWith('.bench.ts')) files.push(join(dir, name));
}
const selected = files.filter((f) => f.includes(filter));
if (selected.length === 0) {
  console.error(`no benchmark matches "${filter}" (found: ${files.map((f) => relative(root, f)).join(', ') || 'none'})`);
  process.exit(1);
}
let failed = 0;
for (const file of selected) {
  console.log(`\n=== ${relative(root, file)} ===`);
  const result = spawnSync(process.execPath, ['--conditions=@esper/source', '--import', 'tsx', file, ...passArgs], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
