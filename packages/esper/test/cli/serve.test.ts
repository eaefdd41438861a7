// `esper serve`: boots a config's plugins, keeps them until the signal (SIGINT/SIGTERM in the
// binary), then stops them. In process through runCli, and once as the real binary under SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/esper.mjs', import.meta.url));
// `pnpm test` builds first, so this is only false for a bare `vitest run` on an unbuilt tree.
const built = existsSync(fileURLToPath(new URL('../../dist/src/serve/serve.js', import.meta.url)));

describe('esper serve', () => {
  it('serves until the signal aborts, then stops the plugins and exits 0', async () => {
    let stdout = '';
    let stderr = '';
    const controller = new AbortController();
    const done = runCli(['serve', 'serve.config.ts'], {
      stdout: (t) => {
        stdout += t;
        if (t.startsWith('serving')) controller.abort();
      },
      stderr: (t) => (stderr += t),
      env: {},
      cwd: fixtures,
      signal: controller.signal,
    });
    expect(await done).toBe(0);
    expect(stdout).toBe('serving serve.config.ts (test-server); Ctrl-C drains and stops\nstopped\n');
    const logged = stderr.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(logged).toEqual(['test-server: serving', 'run started', 'test-server: drained', 'run stopped']);
  });

  it('exits 1 for a config that does not exist, serving nothing', async () => {
    let stderr = '';
    const code = await runCli(['serve', 'nope.config.ts'], { stdout: () => undefined, stderr: (t) => (stderr += t), env: {}, cwd: fixtures, signal: new AbortController().signal });
    expect(code).toBe(1);
    expect(stderr).toContain('nope.config.ts');
  });

  it.skipIf(!built)('the binary drains and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'serve', 'serve.config.ts'], { cwd: fixtures, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('serving')) resolve();
      }),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('stopped');
    expect(stderr).toContain('SIGTERM: draining and stopping');
    expect(stderr).toContain('test-server: drained');
  });
});
