// The inspect commands (validate, config, plugins) and the command line's usage handling,
// run in process through runCli. Fixture configs import '@esper/core' as a user's would, so
// they load the built package (`pnpm test` builds first).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env,
    cwd: fixtures,
  });
  return { code, stdout, stderr };
}

describe('esper validate', () => {
  it('accepts a valid TypeScript config without a build step', async () => {
    const r = await cli(['validate', 'valid.config.ts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✓ valid.config.ts is valid: 2 plugins (test-greeter, consumer)');
  });

  it('exits 1 with path-precise errors for a bad config', async () => {
    const r = await cli(['validate', 'invalid.config.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('✗ invalid.config.ts is invalid (2 problems)');
    expect(r.stderr).toContain('greeter.stepTimeoutMs: expected a positive number, got "fast"');
    expect(r.stderr).toContain('greeter.colour: unknown option');
    expect(r.stderr).toContain('[ESPER_CONFIG_INVALID]');
  });

  it('reports bad environment overrides with the variable name', async () => {
    const r = await cli(['validate', 'valid.config.ts'], { TEST_STEP_TIMEOUT_MS: 'fast' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('greeter.stepTimeoutMs (from TEST_STEP_TIMEOUT_MS): expected a positive number, got "fast"');
  });

  it('lists the environment overrides it applied', async () => {
    const r = await cli(['validate', 'valid.config.ts'], { TEST_STEP_TIMEOUT_MS: '8' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('TEST_STEP_TIMEOUT_MS → greeter.stepTimeoutMs');
  });

  it('names a missing port provider', async () => {
    const r = await cli(['validate', 'missing-provider.config.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"consumer" requires port test.Greeter, but nothing provides it');
    expect(r.stderr).toContain('[ESPER_KERNEL_MISSING_PROVIDER]');
  });

  it('reports a config that throws or is missing, without a stack trace', async () => {
    const thrown = await cli(['validate', 'throws.config.ts']);
    expect(thrown.code).toBe(1);
    expect(thrown.stderr).toContain('config exploded');
    expect(thrown.stderr).toContain('[ESPER_CONFIG_LOAD]');
    expect(thrown.stderr).not.toMatch(/\n\s+at /);
    const missing = await cli(['validate', 'nope.config.ts']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Config file not found: .*nope\.config\.ts/);
  });

  it('loads function configs and JSON configs with plugin specifiers', async () => {
    expect((await cli(['validate', 'factory.config.mjs'])).code).toBe(0);
    const json = await cli(['plugins', 'valid.config.json', '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as Array<{ name: string }>).map((p) => p.name)).toEqual(['json-plugin', 'named-plugin']);
    const bad = await cli(['validate', 'bad-module.config.json']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('plugins[0]: cannot load plugin module "./does-not-exist.mjs"');
    const broken = await cli(['validate', 'broken.config.json']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('is not valid JSON');
  });
});

describe('esper config and esper plugins', () => {
  it('prints the resolved config with secrets masked and port providers', async () => {
    const secret = 'do-not-print-this-secret';
    const r = await cli(['config', 'valid.config.ts'], { ESPER_LEYLINE_SECRET: secret, TEST_PASSWORD: 'hunter2-hunter2' });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(secret);
    expect(r.stdout).not.toContain('hunter2');
    expect(r.stdout).toContain('"leylineSecret": "***"');
    expect(r.stdout).toContain('security.leylineSecret ← ESPER_LEYLINE_SECRET');
    expect(r.stdout).toMatch(/test\.Greeter\s+test-greeter/);

    const json = await cli(['config', 'valid.config.ts', '--json'], { ESPER_LEYLINE_SECRET: secret });
    const parsed = JSON.parse(json.stdout) as { config: { greeter: { stepTimeoutMs: number } }; ports: Record<string, string> };
    expect(parsed.config.greeter.stepTimeoutMs).toBe(3);
    expect(parsed.ports['test.Greeter']).toBe('test-greeter');
    expect(json.stdout).not.toContain(secret);
  });

  it('a typo in an old plugin-level secrets list fails when the plugin is defined, instead of printing the secret', async () => {
    const defined = await cli(['config', 'secret-typo.config.ts']);
    expect(defined.code).toBe(1);
    expect(defined.stdout).not.toContain('tok-do-not-print');
    expect(defined.stderr).toContain('Setting metadata of plugin "legacy-sink" is invalid');
    expect(defined.stderr).toContain('plugin-level `secrets` is no longer read ("tokn" but the schema has no option "tokn")');

    const plain = await cli(['config', 'secret-typo-plain.config.mjs']);
    expect(plain.code).toBe(1);
    expect(plain.stdout).not.toContain('tok-do-not-print');
    expect(plain.stderr).toContain('[ESPER_CONFIG_INVALID]');
    expect(plain.stderr).toContain('plugin "legacy-sink" has invalid setting metadata: plugin-level `secrets` is no longer read');
  });

  it('lists plugins in boot order', async () => {
    const r = await cli(['plugins', 'valid.config.ts']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim());
    expect(lines[1]).toMatch(/^1\s+test-greeter\s+greeter\s+test\.Greeter\s+-$/);
    expect(lines[2]).toMatch(/^2\s+consumer\s+consumer\s+-\s+test\.Greeter$/);
  });
});

describe('usage', () => {
  it('prints help (with the exit codes) and the version', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: esper [options] [command]');
    expect(help.stdout).toMatch(/run \[options\] <config>/);
    expect(help.stdout).toContain('Exit codes:');
    const runHelp = await cli(['run', '--help']);
    expect(runHelp.code).toBe(0);
    for (const flag of ['--epochs <n>', '--seed <n>', '--out <dir>', '--json']) expect(runHelp.stdout).toContain(flag);
    expect((await cli(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('exits 2 with ESPER_CLI_USAGE on usage errors, without a stack trace', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: esper');

    const unknown = await cli(['launch', 'x.ts']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'launch'");
    expect(unknown.stderr).toContain('[ESPER_CLI_USAGE]');

    const missing = await cli(['validate']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'config'");

    const flag = await cli(['validate', 'a.ts', '--colour']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--colour'");

    const extra = await cli(['validate', 'a.ts', 'b.ts']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('too many arguments');
    for (const r of [unknown, missing, flag, extra]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the built esper binary on the shipped example', () => {
  const bin = `${repoRoot}packages/esper/bin/esper.mjs`;
  const built = `${repoRoot}packages/esper/dist/src/cli/bin.js`;

  it('validates examples/quickstart (ts and json) end to end', () => {
    expect(existsSync(built), `${built} is missing: run pnpm build (pnpm test builds first)`).toBe(true);
    for (const file of ['examples/quickstart/esper.config.ts', 'examples/quickstart/esper.config.json']) {
      const r = spawnSync(process.execPath, [bin, 'validate', file], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`✓ ${file} is valid`);
    }
  });

  it('exits 1 on an invalid config', () => {
    const r = spawnSync(process.execPath, [bin, 'validate', 'examples/quickstart/esper.config.ts'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ESP_LOG_LEVEL: 'loud' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('log.level (from ESP_LOG_LEVEL): expected one of "debug", "info", "warn", "error", got "loud"');
  });
});
