import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../scripts/check-shadow-enums.mjs', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

describe('shadow-enum guard', () => {
  it('passes on the workspace', () => {
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('flags hand-written enums and literal unions that mirror Leyline enums', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadow-'));
    writeFileSync(join(dir, 'bad.ts'), [
      'export enum Stage { Dormant, Training }',
      "type Stage2 = 'SEED_STAGE_DORMANT' | 'SEED_STAGE_TRAINING';",
      "const fine = 'SEED_STAGE_DORMANT';",
    ].join('\n'));
    const r = run(dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('bad.ts:1: TypeScript enum declaration');
    expect(r.stderr).toContain('bad.ts:2: string literals mirroring a Leyline enum (SEED_STAGE_DORMANT, SEED_STAGE_TRAINING)');
    expect(r.stderr).not.toContain('bad.ts:3');
  });
});
