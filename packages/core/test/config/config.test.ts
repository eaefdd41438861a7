import { inspect } from 'node:util';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConfigValidationError,
  createEsper,
  defineConfig,
  JsonLogger,
  maskValue,
  resolveConfig,
  type ConfigIssue,
} from '../../src/index.js';
import { barePlugin, greeterPlugin } from '../kernel/fixtures.js';

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigValidationError) return [...error.issues];
    throw error;
  }
  throw new Error('expected a ConfigValidationError');
}

const lines = (issues: ConfigIssue[]) =>
  issues.map((i) => `${i.path}${i.envVar ? ` (from ${i.envVar})` : ''}: ${i.message}`);

describe('validation', () => {
  it('applies defaults, factory options, then the section, in that order', () => {
    const config = resolveConfig({ plugins: [greeterPlugin({ greeting: 'hi', stepTimeoutMs: 9 })], greeter: { stepTimeoutMs: 2 } }, { env: {} });
    expect(config.optionsOf('greeter')).toMatchObject({ greeting: 'hi', stepTimeoutMs: 2, enabled: false, nested: { retries: 3 } });
    expect(config.core.run).toEqual({ name: 'esper', dir: './runs', seed: 42, nice: 0 });
    expect(config.core.kernel.hookTimeoutMs).toBe(10_000);
  });

  it('reports a wrong type with the full path and what was expected', () => {
    const issues = issuesOf(() => resolveConfig({ plugins: [greeterPlugin()], greeter: { stepTimeoutMs: 'fast' } }, { env: {} }));
    expect(lines(issues)).toEqual(['greeter.stepTimeoutMs: expected a positive number, got "fast"']);
  });

  it('collects every problem, including nested, enum, range and kernel sections', () => {
    const issues = issuesOf(() =>
      resolveConfig(
        {
          plugins: [greeterPlugin()],
          greeter: { mode: 'reckless', nested: { retries: -1 }, stepTimeoutMs: 0 },
          run: { seed: 1.5 },
        },
        { env: {} },
      ),
    );
    expect(lines(issues).sort()).toEqual(
      [
        'greeter.mode: expected one of "fast", "careful", got "reckless"',
        'greeter.nested.retries: expected a non-negative integer, got -1',
        'greeter.stepTimeoutMs: expected a positive number, got 0',
        'run.seed: expected a non-negative integer, got 1.5',
      ].sort(),
    );
  });

  it('rejects unknown options and unknown sections, with suggestions', () => {
    const issues = issuesOf(() =>
      resolveConfig({ plugins: [greeterPlugin()], greeter: { greting: 'x' }, greetr: {}, kernel: { hookTimeout: 5 } }, { env: {} }),
    );
    const text = lines(issues);
    expect(text).toContainEqual(expect.stringMatching(/^greeter\.greting: unknown option \(did you mean "greeting"\?\)/));
    expect(text).toContainEqual(expect.stringMatching(/^greetr: unknown config section: no composed plugin reads it \(did you mean "greeter"\?\)/));
    expect(text).toContainEqual(expect.stringMatching(/^kernel\.hookTimeout: unknown option \(did you mean "hookTimeoutMs"\?\)/));
  });

  it('rejects bad plugin entries, duplicates and shared sections', () => {
    const issues = issuesOf(() =>
      resolveConfig({ plugins: [greeterPlugin, 42, barePlugin('x'), barePlugin('x'), greeterPlugin(), { ...greeterPlugin(), name: 'other' }] }, { env: {} }),
    );
    expect(lines(issues)).toEqual([
      'plugins[0]: got a plugin factory, not a plugin: call it (e.g. `greeterPlugin()`)',
      'plugins[1]: expected a plugin made by definePlugin() (name, configKey, setup), got 42',
      'plugins[3]: duplicate plugin "x" (also at plugins[2]); list each plugin once',
      'plugins[5]: plugin "other" reads config section "greeter", which plugins[4] already reads; two plugins cannot share a section',
    ]);
  });

  it('rejects options for a plugin that takes none', () => {
    expect(lines(issuesOf(() => resolveConfig({ plugins: [barePlugin('bare')], bare: { x: 1 } }, { env: {} })))).toEqual([
      'bare: plugin "bare" takes no options; remove: x',
    ]);
  });
});

describe('environment overrides', () => {
  it('maps reference-style variables onto typed options', () => {
    const config = resolveConfig(
      { plugins: [greeterPlugin()], greeter: { stepTimeoutMs: 2 } },
      {
        env: {
          TEST_STEP_TIMEOUT_MS: '7.5',
          TEST_ENABLED: 'yes',
          TEST_MODE: 'FAST',
          TEST_RETRIES: '9',
          TEST_GREETING: 'hey',
          ESP_LOG_LEVEL: 'WARNING',
        },
      },
    );
    expect(config.optionsOf('greeter')).toMatchObject({ stepTimeoutMs: 7.5, enabled: true, mode: 'fast', greeting: 'hey', nested: { retries: 9 } });
    expect(config.core.log.level).toBe('warn');
    expect(config.envOverrides).toMatchObject({ 'greeter.stepTimeoutMs': 'TEST_STEP_TIMEOUT_MS', 'log.level': 'ESP_LOG_LEVEL' });
  });

  it('names the variable when its value is invalid', () => {
    const issues = issuesOf(() =>
      resolveConfig({ plugins: [greeterPlugin()] }, { env: { TEST_STEP_TIMEOUT_MS: 'fast', TEST_ENABLED: 'maybe', TEST_RETRIES: '2.5' } }),
    );
    expect(lines(issues).sort()).toEqual(
      [
        'greeter.enabled (from TEST_ENABLED): expected a boolean (true/false, 1/0, yes/no, on/off), got "maybe"',
        'greeter.nested.retries (from TEST_RETRIES): expected a non-negative integer, got 2.5',
        'greeter.stepTimeoutMs (from TEST_STEP_TIMEOUT_MS): expected a positive number, got "fast"',
      ].sort(),
    );
  });

  it('ignores variables that are not set, and keeps empty strings as given', () => {
    const config = resolveConfig({ plugins: [greeterPlugin()] }, { env: { TEST_GREETING: '' } });
    expect(config.optionsOf('greeter')?.greeting).toBe('');
  });
});

describe('secrets', () => {
  const secret = 'correct-horse-battery-staple';
  const env = { ESPER_LEYLINE_SECRET: secret, TEST_PASSWORD: 'p@ss"word\\x' };

  it('never prints a secret: JSON, toString, inspect, masked()', () => {
    const config = resolveConfig({ plugins: [greeterPlugin()] }, { env });
    expect(config.core.security.leylineSecret).toBe(secret);
    for (const text of [JSON.stringify(config), String(config), inspect(config, { depth: 10 }), JSON.stringify(config.masked())]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('p@ss');
      expect(text).toContain('***');
    }
  });

  it('masks only the credentials of URLs', () => {
    expect(maskValue('redis://user:hunter2@cache.internal:6380/0')).toBe('redis://***:***@cache.internal:6380/0');
    expect(maskValue('rediss://:hunter2@cache:6379')).toBe('rediss://:***@cache:6379');
    expect(maskValue('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(maskValue('plain')).toBe('***');
  });

  it('does not echo a secret in validation errors', () => {
    const issues = issuesOf(() => resolveConfig({ plugins: [greeterPlugin()], greeter: { password: 1234567 } }, { env: {} }));
    expect(lines(issues)).toEqual(['greeter.password: expected a string, got <redacted>']);
  });

  it('redacts secrets from kernel logs, even inside fields', async () => {
    const out: string[] = [];
    const logger = new JsonLogger({ secrets: [secret, 'p@ss"word\\x'], write: (l) => out.push(l) });
    logger.info(`connecting with ${secret}`, { nested: { key: secret }, pw: 'p@ss"word\\x' });
    expect(out.join('')).not.toContain(secret);
    expect(out.join('')).not.toContain('p@ss');
    expect(out.join('')).toContain('***');

    // And through a whole run: the kernel logger is built with the config's secrets.
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const leaky = barePlugin('leaky', {
        hooks: { start: (ctx) => ctx.logger.warn(`careless log of ${secret}`, { key: secret }) },
      });
      const run = await createEsper({ plugins: [greeterPlugin(), leaky], log: { level: 'debug' } }, { env }).start();
      await run.stop();
    } finally {
      process.stderr.write = original;
    }
    expect(writes.join('')).toContain('run started');
    expect(writes.join('')).toContain('careless log of ***');
    expect(writes.join('')).not.toContain(secret);
  });
});


describe('defineConfig typing', () => {
  it('types each section by its plugin', () => {
    const config = defineConfig({
      plugins: [greeterPlugin()],
      greeter: { stepTimeoutMs: 3, mode: 'fast' },
      run: { name: 'typed' },
    });
    expectTypeOf(config.greeter).toEqualTypeOf<
      | Partial<{
          greeting?: string | undefined;
          stepTimeoutMs?: number | undefined;
          enabled?: boolean | undefined;
          mode?: 'fast' | 'careful' | undefined;
          nested?: { retries?: number | undefined } | undefined;
          password?: string | undefined;
        }>
      | undefined
    >();

    defineConfig({
      plugins: [greeterPlugin()],
      // @ts-expect-error -- a string where the plugin's schema wants a number
      greeter: { stepTimeoutMs: 'fast' },
    });
    defineConfig({
      plugins: [greeterPlugin()],
      // @ts-expect-error -- no plugin reads this section
      greetr: {},
    });
    // @ts-expect-error -- factory options are typed too
    greeterPlugin({ mode: 'reckless' });
  });
});
