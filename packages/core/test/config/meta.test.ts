// Setting metadata lives in the config schema (`.meta({ env, secret, reference })`): env names,
// masking and the config tables are derived from it and checked when the plugin is defined.
import { inspect } from 'node:util';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigValidationError,
  createEsper,
  definePlugin,
  describeSettings,
  EsperError,
  isEsperError,
  resolveConfig,
  secretSettings,
  SettingMetaError,
  settingsEnv,
  type AnyPlugin,
  type ConfigIssue,
  type SettingInfo,
} from '../../src/index.js';

const tokenSchema = z.strictObject({
  token: z.string().optional().meta({ env: 'SINK_TOKEN', secret: true }),
  url: z.string().default('https://sink.example').meta({ env: 'SINK_URL' }),
});

function sink(schema: z.ZodType<Record<string, unknown>, Record<string, unknown>> = tokenSchema, name = 'test-sink', configKey = 'sink') {
  return definePlugin({ name, configKey, configSchema: schema, setup() {} });
}

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigValidationError) return [...error.issues];
    throw error;
  }
  throw new Error('expected a ConfigValidationError');
}

function metaProblems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SettingMetaError);
    expect((error as SettingMetaError).code).toBe('ESPER_CONFIG_META_INVALID');
    return (error as SettingMetaError).problems;
  }
  throw new Error('expected a SettingMetaError');
}

describe('env and secrets come from the schema', () => {
  it('reads each variable named in .meta({ env }) and records it as an override', () => {
    const config = resolveConfig({ plugins: [sink()] }, { env: { SINK_URL: 'https://other', SINK_TOKEN: 'tok-123456' } });
    expect(config.optionsOf('sink')).toEqual({ url: 'https://other', token: 'tok-123456' });
    expect(config.envOverrides).toEqual({ 'sink.url': 'SINK_URL', 'sink.token': 'SINK_TOKEN' });
  });

  it('masks every .meta({ secret: true }) option when printed and redacts it from logs', () => {
    const config = resolveConfig({ plugins: [sink()], sink: { token: 'tok-123456' } }, { env: {} });
    expect(config.secretPaths).toContain('sink.token');
    expect(config.secretValues()).toContain('tok-123456');
    for (const text of [JSON.stringify(config), String(config), inspect(config, { depth: 10 })]) {
      expect(text).not.toContain('tok-123456');
    }
    expect(config.masked()).toMatchObject({ sink: { token: '***', url: 'https://sink.example' } });
  });

  it('keeps the meta on nested options, and after .optional()/.default() in the chain', () => {
    const schema = z.strictObject({
      a: z.strictObject({ b: z.number().int().meta({ env: 'X_B' }).default(1) }).prefault({}),
      c: z.boolean().meta({ env: 'X_C' }).optional(),
    });
    expect(settingsEnv(schema)).toEqual({ X_B: 'a.b', X_C: 'c' });
    const config = resolveConfig({ plugins: [sink(schema)] }, { env: { X_B: '4', X_C: 'on' } });
    expect(config.optionsOf('sink')).toEqual({ a: { b: 4 }, c: true });
  });

  it('derives the kernel bindings from its schema too', () => {
    const config = resolveConfig({ plugins: [] }, { env: { ESPER_LEYLINE_SECRET: 'kernel-secret', ESP_LOG_LEVEL: 'debug' } });
    expect(config.envOverrides).toEqual({ 'security.leylineSecret': 'ESPER_LEYLINE_SECRET', 'log.level': 'ESP_LOG_LEVEL' });
    expect(config.secretPaths).toEqual(['security.leylineSecret']);
  });
});

describe('checked when the plugin is defined', () => {
  it('rejects an invalid env name', () => {
    const schema = z.strictObject({ a: z.number().default(1).meta({ env: 'sink-a' }) });
    expect(metaProblems(() => sink(schema))).toEqual([
      'a: env "sink-a" is not a valid variable name; use upper-case letters, digits and _ (e.g. TAMIYO_STEP_TIMEOUT_MS)',
    ]);
  });

  it('rejects a variable bound to two options', () => {
    const schema = z.strictObject({
      a: z.number().default(1).meta({ env: 'SINK_N' }),
      nested: z.strictObject({ b: z.number().default(1).meta({ env: 'SINK_N' }) }).prefault({}),
    });
    expect(metaProblems(() => sink(schema))).toEqual(['nested.b: env SINK_N is already bound to "a"; each variable sets one option']);
  });

  it('rejects env or secret where no option path reads it', () => {
    const schema = z.strictObject({
      group: z.strictObject({ x: z.string().optional() }).meta({ env: 'SINK_GROUP' }),
      list: z.array(z.string().meta({ secret: true })).default([]),
      either: z.union([z.string(), z.strictObject({ y: z.number().meta({ env: 'SINK_Y' }) })]).optional(),
    });
    expect(metaProblems(() => sink(schema))).toEqual([
      'group: env/secret on an object group; put them on the options inside it',
      'list[]: env/secret inside a list, union or record is never read; only options reached through objects can have them',
      'either.y: env/secret inside a list, union or record is never read; only options reached through objects can have them',
    ]);
  });

  it('rejects env on an option an environment string cannot become, and secret on a non-string', () => {
    const schema = z.strictObject({
      weights: z.record(z.string(), z.number()).default({}).meta({ env: 'SINK_WEIGHTS' }),
      pin: z.number().int().optional().meta({ secret: true }),
    });
    expect(metaProblems(() => sink(schema))).toEqual([
      'weights: env SINK_WEIGHTS on a record option; an environment string converts only to a number, boolean, string, enum or list of strings',
      'pin: secret on a number option; only string options can be masked and redacted from logs',
    ]);
  });

  it('a typo in the removed `secrets` list fails at definition instead of leaving the secret unmasked', () => {
    const typo = { name: 'typo-sink', configKey: 'sink', configSchema: tokenSchema, secrets: ['tokn'], setup() {} };
    const problems = metaProblems(() => definePlugin(typo as unknown as AnyPlugin));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('plugin-level `secrets` is no longer read ("tokn" but the schema has no option "tokn")');
    expect(problems[0]).toContain('.meta({ secret: true })');
  });

  it('a leftover `env` map fails at definition, naming a path the schema does not have', () => {
    const old = { name: 'old-sink', configKey: 'sink', configSchema: tokenSchema, env: { SINK_URL: 'ur1' }, setup() {} };
    expect(metaProblems(() => definePlugin(old as unknown as AnyPlugin))[0]).toContain(
      'plugin-level `env` is no longer read: SINK_URL → but the schema has no option "ur1"',
    );
  });

  it('`env` and `secrets` are not part of the plugin type', () => {
    // @ts-expect-error -- env names live in the schema's .meta({ env })
    expect(() => definePlugin({ name: 'p', configKey: 'p', env: { P_X: 'x' }, setup() {} })).toThrow(SettingMetaError);
  });

  it('types the .meta() keys', () => {
    // @ts-expect-error -- env is a variable name
    z.number().meta({ env: 42 });
    // @ts-expect-error -- secret is a flag
    z.string().meta({ secret: 'yes' });
    expectTypeOf(z.string().meta({ env: 'OK', secret: true, reference: 'tamiyo §2.1', unset: 'x' })).toEqualTypeOf<z.ZodString>();
  });
});

describe('checked when the config is resolved', () => {
  it('a plugin object not made by definePlugin still cannot carry a typo’d secrets list', () => {
    const plain = { name: 'plain-sink', configKey: 'sink', configSchema: tokenSchema, secrets: ['tokn'], setup() {} };
    const issues = issuesOf(() => resolveConfig({ plugins: [plain], sink: { token: 'tok-123456' } }, { env: {} }));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('sink');
    expect(issues[0]!.message).toContain('plugin "plain-sink" has invalid setting metadata: plugin-level `secrets` is no longer read');
    expect(() => createEsper({ plugins: [plain], sink: { token: 'tok-123456' } }, { env: {} })).toThrow(ConfigValidationError);
  });

  it('two plugins cannot bind the same variable, nor a plugin one of the kernel’s', () => {
    const other = sink(z.strictObject({ url: z.string().optional().meta({ env: 'SINK_URL' }) }), 'other-sink', 'other');
    const hijack = sink(z.strictObject({ key: z.string().optional().meta({ env: 'ESPER_LEYLINE_SECRET' }) }), 'hijack', 'hijack');
    const issues = issuesOf(() => resolveConfig({ plugins: [sink(), other, hijack] }, { env: {} }));
    expect(issues.map((i) => `${i.path} (${i.envVar}): ${i.message}`)).toEqual([
      'other.url (SINK_URL): plugin "other-sink" binds SINK_URL, which already sets sink.url; a variable can set only one option',
      'hijack.key (ESPER_LEYLINE_SECRET): plugin "hijack" binds ESPER_LEYLINE_SECRET, which already sets security.leylineSecret; a variable can set only one option',
    ]);
  });

  it('keeps function-valued factory options as given (no structuredClone)', () => {
    const onFlush = (): void => undefined;
    const schema = z.strictObject({ onFlush: z.custom<() => void>((v) => typeof v === 'function').optional() });
    const plugin = definePlugin({ name: 'fn-sink', configKey: 'sink', configSchema: schema, factoryOptions: { onFlush }, setup() {} });
    expect(resolveConfig({ plugins: [plugin] }, { env: {} }).optionsOf('sink')?.onFlush).toBe(onFlush);
  });
});

describe('describeSettings', () => {
  const schema = z.strictObject({
    stepTimeoutMs: z
      .number()
      .nonnegative()
      .default(5)
      .meta({ env: 'X_STEP_TIMEOUT_MS', reference: 'x §2.1', description: 'Budget per step; 0 disables.' }),
    mode: z.enum(['A', 'B']).default('A'),
    alpha: z.number().min(0).max(1).default(0.5),
    dir: z.string().optional().meta({ unset: '`<run.dir>/x`' }),
    old: z.string().optional().meta({ deprecated: true }),
    limit: z.number().int().positive().nullable().default(null),
    required: z.number().int().min(1),
    key: z.string().optional().meta({ secret: true }),
  });

  it('lists every option with type, default and metadata, in declaration order', () => {
    const rows = describeSettings(schema);
    const byPath = Object.fromEntries(rows.map((r) => [r.path, r])) as Record<string, SettingInfo>;
    expect(rows.map((r) => r.path)).toEqual(['stepTimeoutMs', 'mode', 'alpha', 'dir', 'old', 'limit', 'required', 'key']);
    expect(byPath.stepTimeoutMs).toEqual({
      path: 'stepTimeoutMs',
      type: 'number ≥ 0',
      required: false,
      hasDefault: true,
      default: 5,
      env: 'X_STEP_TIMEOUT_MS',
      secret: false,
      reference: 'x §2.1',
      description: 'Budget per step; 0 disables.',
      deprecated: false,
    });
    expect(byPath.mode).toMatchObject({ type: '`A` | `B`', default: 'A' });
    expect(byPath.alpha).toMatchObject({ type: 'number in [0, 1]', default: 0.5 });
    expect(byPath.dir).toMatchObject({ type: 'string', hasDefault: false, required: false, unset: '`<run.dir>/x`' });
    expect(byPath.old).toMatchObject({ deprecated: true });
    expect(byPath.limit).toMatchObject({ type: 'integer > 0 or `null`', default: null });
    expect(byPath.required).toMatchObject({ type: 'integer ≥ 1', required: true, hasDefault: false });
    expect(secretSettings(schema)).toEqual(['key']);
  });

  it('throws the same typed error as definePlugin', () => {
    const bad = z.strictObject({ a: z.number().meta({ env: 'bad name' }) });
    expect(() => describeSettings(bad, 'plugin "bad"')).toThrow(/Setting metadata of plugin "bad" is invalid \(1 problem\)/);
  });
});

describe('error codes are literal types', () => {
  it('narrows the code of each class', () => {
    expectTypeOf(new SettingMetaError('x', []).code).toEqualTypeOf<'ESPER_CONFIG_META_INVALID'>();
    expectTypeOf(new ConfigValidationError([]).code).toEqualTypeOf<'ESPER_CONFIG_INVALID'>();
    const e: unknown = new SettingMetaError('x', []);
    if (isEsperError(e, 'ESPER_CONFIG_META_INVALID')) expectTypeOf(e.code).toEqualTypeOf<'ESPER_CONFIG_META_INVALID'>();
    expectTypeOf(new EsperError('ESPER_X_Y', 'm').code).toEqualTypeOf<'ESPER_X_Y'>();
  });
});
