// `esper validate` on files that are not configs (issue 15, finding 6): each is refused with
// its ESPER_CONFIG_* code, exit 1 and no stack trace; and the JSON form of docs/configuration.md
// (a plugin package named alone) validates as written. Run in process through runCli.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const packages = fileURLToPath(new URL('../../../', import.meta.url));

async function cli(args: string[], cwd = fixtures) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {}, cwd });
  return { code, stdout, stderr };
}

/** Exit 1, one `[CODE]` line, and nothing that looks like a stack or an internal error. */
function expectRefused(r: { code: number; stdout: string; stderr: string }, code: string): void {
  expect(r.stdout).toBe('');
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^✗ /);
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toContain('Require stack');
  expect(r.stderr).not.toContain('unexpected error');
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'esper-cli-load-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('esper validate on files that are not configs', () => {
  it('an empty .ts file is ESPER_CONFIG_NO_DEFAULT_EXPORT, not "valid: 0 plugins"', async () => {
    const r = await cli(['validate', 'empty.config.ts']);
    expectRefused(r, 'ESPER_CONFIG_NO_DEFAULT_EXPORT');
    expect(r.stderr).toContain('empty.config.ts exports nothing (is it empty?). End it with `export default defineConfig({...})`.');
  });

  it('a .ts file with only named exports is ESPER_CONFIG_NO_DEFAULT_EXPORT and names them', async () => {
    const r = await cli(['validate', 'named-only.config.ts']);
    expectRefused(r, 'ESPER_CONFIG_NO_DEFAULT_EXPORT');
    expect(r.stderr).toContain('has no default export (it exports only `config`). End it with `export default config`');
  });

  it('a .mjs file without a default export is ESPER_CONFIG_NO_DEFAULT_EXPORT', async () => {
    const r = await cli(['validate', 'no-default.config.mjs']);
    expectRefused(r, 'ESPER_CONFIG_NO_DEFAULT_EXPORT');
    expect(r.stderr).toContain('has no default export (it exports only `plugins`)');
  });

  it('a missing file is ESPER_CONFIG_NOT_FOUND', async () => {
    const r = await cli(['validate', 'nope.config.json']);
    expectRefused(r, 'ESPER_CONFIG_NOT_FOUND');
    expect(r.stderr).toContain(`Config file not found: ${join(fixtures, 'nope.config.json')}.`);
  });

  it('a directory named x.json is ESPER_CONFIG_NOT_A_FILE, not "invalid JSON"', async () => {
    mkdirSync(join(scratch, 'x.json'));
    const r = await cli(['validate', 'x.json'], scratch);
    expectRefused(r, 'ESPER_CONFIG_NOT_A_FILE');
    expect(r.stderr).toContain(`Config path ${join(scratch, 'x.json')} is a directory, not a config file.`);
    expect(r.stderr).not.toContain('JSON');
  });

  it('a directory named x.ts is ESPER_CONFIG_NOT_A_FILE, without a require stack, and names the config inside', async () => {
    mkdirSync(join(scratch, 'x.ts'));
    writeFileSync(join(scratch, 'x.ts', 'esper.config.ts'), 'export default {};\n');
    const r = await cli(['validate', 'x.ts'], scratch);
    expectRefused(r, 'ESPER_CONFIG_NOT_A_FILE');
    expect(r.stderr).toContain(`It holds "${join(scratch, 'x.ts', 'esper.config.ts')}": pass that file instead.`);
  });

  it('a JSON config whose plugin factory throws is ESPER_CONFIG_PLUGIN_FACTORY, not "unexpected error"', async () => {
    const r = await cli(['validate', 'factory-throws.config.json']);
    expectRefused(r, 'ESPER_CONFIG_PLUGIN_FACTORY');
    expect(r.stderr).toContain('plugins[0]: the plugin factory "./throwing-plugin.mjs" threw: needsKey: options.apiKey is required.');
    // The factory's own message is quoted once, not repeated as a "caused by" line.
    expect(r.stderr).not.toContain('caused by');
  });

  it('a JSON plugin module that cannot be loaded is ESPER_CONFIG_PLUGIN_MODULE', async () => {
    const r = await cli(['validate', 'bad-module.config.json']);
    expectRefused(r, 'ESPER_CONFIG_PLUGIN_MODULE');
    expect(r.stderr).toContain('plugins[0]: cannot load plugin module "./does-not-exist.mjs"');
  });

  it('every inspect command reports load errors the same way', async () => {
    for (const command of ['config', 'plugins']) expectRefused(await cli([command, 'empty.config.ts']), 'ESPER_CONFIG_NO_DEFAULT_EXPORT');
  });
});

describe('esper validate on the JSON form of docs/configuration.md', () => {
  it('names a plugin package alone (its default export) and a named export of @esper/core', async () => {
    // A project with the two packages installed.
    const project = join(scratch, 'project');
    mkdirSync(join(project, 'node_modules', '@esper'), { recursive: true });
    for (const [name, dir] of [['core', 'core'], ['plugin-oona-memory', 'plugin-oona-memory']]) {
      symlinkSync(join(packages, dir!), join(project, 'node_modules', '@esper', name!), 'dir');
    }
    writeFileSync(
      join(project, 'esper.config.json'),
      JSON.stringify({ plugins: ['@esper/plugin-oona-memory', '@esper/core#telemetryFile'], run: { name: 'my-run', seed: 7 }, oona: { group: 'my-run' } }),
    );
    const r = await cli(['validate', 'esper.config.json'], project);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✓ esper\.config\.json is valid: 2 plugins \(/);
    expect(r.stdout).toContain('@esper/plugin-oona-memory');
  });
});
