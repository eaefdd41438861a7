// The committed bindings in gen/ must be what `pnpm gen` produces from proto/leyline.proto.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const genDir = join(pkgDir, 'gen');
const outDir = mkdtempSync(join(tmpdir(), 'esper-leyline-gen-'));

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('generated Leyline bindings', () => {
  it('are up to date with proto/leyline.proto', () => {
    execFileSync(process.execPath, [join(pkgDir, 'scripts', 'gen-leyline.mjs'), '--out', outDir], { stdio: 'pipe' });
    const fresh = readdirSync(outDir).filter((f) => f.endsWith('.ts')).sort();
    const committed = readdirSync(genDir).filter((f) => f.endsWith('.ts')).sort();
    expect(committed, 'gen/ holds other files than `pnpm gen` writes: run `pnpm gen` and commit gen/').toEqual(fresh);
    for (const file of fresh) {
      const same = readFileSync(join(outDir, file)).equals(readFileSync(join(genDir, file)));
      expect(same, `packages/core/gen/${file} is stale: run \`pnpm gen\` at the repository root and commit the result`).toBe(true);
    }
  });
});
