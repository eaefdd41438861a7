import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');


describe('generated ONNX bindings', () => {
  it('gen/ matches what scripts/gen-onnx.mjs produces from proto/onnx.proto', () => {
    const out = mkdtempSync(join(tmpdir(), 'esper-onnx-gen-'));
    try {
      execFileSync(process.execPath, [join(pkgDir, 'scripts', 'gen-onnx.mjs'), '--out', out], { stdio: 'pipe' });
      const files = readdirSync(join(pkgDir, 'gen')).filter((f) => f.endsWith('.ts')).sort();
      expect(readdirSync(out).filter((f) => f.endsWith('.ts')).sort()).toEqual(files);
      for (const f of files) {
        expect(readFileSync(join(out, f), 'utf8'), `gen/${f} is stale: run pnpm --filter @esper/onnx gen`).toBe(readFileSync(join(pkgDir, 'gen', f), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('keeps the licence header of the official schema', () => {
    expect(readFileSync(join(pkgDir, 'proto', 'onnx.proto'), 'utf8')).toMatch(/SPDX-License-Identifier: Apache-2\.0/);
  });
});
