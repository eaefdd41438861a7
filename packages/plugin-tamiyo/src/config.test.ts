import { ConfigValidationError, CORE_ENV, definePlugin, resolveConfig, secretSettings, settingsEnv, type ConfigIssue, type Env } from '@esper/core';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { tamiyoConfigSchema, type TamiyoConfig, type TamiyoConfigInput } from './config.js';

/** Env names and secrets, derived from the schema's `.meta()`. */
const TAMIYO_ENV = settingsEnv(tamiyoConfigSchema);
const TAMIYO_SECRETS = secretSettings(tamiyoConfigSchema);

const plugin = (factoryOptions?: Partial<TamiyoConfigInput>) =>
  definePlugin({
    name: 'test-tamiyo-config',
    configKey: 'tamiyo',
    configSchema: tamiyoConfigSchema,
    ...(factoryOptions !== undefined ? { factoryOptions } : {}),
    setup() {},
  });

function resolve(section?: TamiyoConfigInput, env: Env = {}, factoryOptions?: Partial<TamiyoConfigInput>) {
  const resolved = resolveConfig({ plugins: [plugin(factoryOptions)], ...(section !== undefined ? { tamiyo: section } : {}) }, { env });
  return { options: resolved.optionsOf('tamiyo') as TamiyoConfig, overrides: resolved.envOverrides };
}

function issuesOf(section: unknown, env: Env = {}): readonly ConfigIssue[] {
  try {
    resolveConfig({ plugins: [plugin()], ...(section !== undefined ? { tamiyo: section } : {}) }, { env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).issues;
  }
  throw new Error('expected the config to be rejected');
}

function at(tree: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], tree);
}

/** Dotted paths of every leaf option of an object schema. */
function leafPaths(schema: z.ZodType): string[] {
  const walk = (node: Record<string, unknown>, prefix: string): string[] =>
    Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>).flatMap(([key, child]) =>
      child.type === 'object' ? walk(child, `${prefix}${key}.`) : [`${prefix}${key}`],
    );
  return walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>, '');
}

/** The env settings of reference tamiyo §2.1, copied from the spec (ESPER_LEYLINE_SECRET is the kernel's). */
const REFERENCE_ENV_NAMES = [
  'TAMIYO_STEP_TIMEOUT_MS',
  'TAMIYO_DEVICE',
  'TAMIYO_ENABLE_COMPILE',
  'TAMIYO_VERIFY_UPDATES',
  'TAMIYO_UPDATE_FRESHNESS_SEC',
  'TAMIYO_FIELD_REPORT_RETENTION_HOURS',
  'TAMIYO_FIELD_REPORT_MAX_RETRIES',
  'TAMIYO_FR_OBS_WINDOW_EPOCHS',
  'TAMIYO_FR_RETRY_BACKOFF_MS',
  'TAMIYO_FR_RETRY_BACKOFF_MULT',
  'TAMIYO_ENABLE_BLEND_MODE_ANN',
  'TAMIYO_BLEND_MODE_DEFAULT',
  'TAMIYO_BLEND_CONF_GATE_K',
  'TAMIYO_BLEND_CONF_GATE_TAU',
  'TAMIYO_BLEND_ALPHA_LO',
  'TAMIYO_BLEND_ALPHA_HI',
  'TAMIYO_BLEND_ALPHA_VEC_MAX',
  'ESPER_LEYLINE_SECRET',
  'URABRASK_SIGNING_ENABLED',
  'TAMIYO_CONSERVATIVE_MODE',
  'TAMIYO_POLICY_DIR',
];

/** Env settings this port adds beside the reference's (policy-update delivery, decision 0064). */
const PORT_ENV_NAMES = ['TAMIYO_CONSUME_POLICY_UPDATES'];

/**
 * Every option with its default and where the reference documents it. `undefined` rows are
 * settings that are unset by default: either unset in the reference too, or (decision 0040) a
 * working-directory path that now defaults to the run directory, or a deprecated, unused setting.
 */
const DEFAULTS: ReadonlyArray<readonly [path: string, value: unknown, reference: string]> = [
  ['stepTimeoutMs', 5, '§2.1 TAMIYO_STEP_TIMEOUT_MS 5.0'],
  ['metadataTimeoutMs', 10, '§2.2 metadata_timeout_ms 10.0'],
  ['metadataCacheTtlMs', 300_000, '§2.2 metadata_cache_ttl 5 min'],
  ['verifyBsdsSignatures', false, '§2.1 URABRASK_SIGNING_ENABLED false'],
  ['policyDir', undefined, '§2.1 TAMIYO_POLICY_DIR ./var/tamiyo/policies, unused (deprecated, decision 0040)'],
  ['policy.device', undefined, '§2.1 TAMIYO_DEVICE unset'],
  ['policy.enableCompile', undefined, '§2.1 TAMIYO_ENABLE_COMPILE unset'],
  ['policy.registryDir', undefined, '§2.4 var/tamiyo (now <run.dir>/tamiyo, decision 0040)'],
  ['policy.normaliserPath', undefined, '§2.4 var/tamiyo/gnn_norms.json (now in registryDir, decision 0040)'],
  ['breaker.failureThreshold', 3, '§9.1 failure threshold 3'],
  ['breaker.cooldownMs', 100, '§9.1 cool-down 100 ms'],
  ['risk.maxLossSpike', 0.15, '§2.3 max_loss_spike 0.15'],
  ['risk.conservativeMode', false, '§2.3 conservative_mode false; §2.1 TAMIYO_CONSERVATIVE_MODE false'],
  ['risk.stepLatencyHighMs', 120, '§2.3 step_latency_high_ms 120.0'],
  ['risk.kasminaApplySlowMs', 30, '§2.3 kasmina_apply_slow_ms 30.0'],
  ['risk.kasminaFinalizeSlowMs', 30, '§2.3 kasmina_finalize_slow_ms 30.0'],
  ['risk.hookBudgetMs', 50, '§2.3 hook_budget_ms 50.0'],
  ['risk.conservativeExitAfter', 3, '§9.3 rule M exits in the entering step (§17 item 2); 3 stable decisions here (decision 0059)'],
  ['policyUpdates.verify', true, '§2.1 TAMIYO_VERIFY_UPDATES true'],
  ['policyUpdates.maxAgeSec', 0, '§2.1 TAMIYO_UPDATE_FRESHNESS_SEC 0'],
  ['policyUpdates.consume', undefined, '§1 Weatherlight runs consume_policy_updates (on with an Oona and a GNN controller, decision 0064)'],
  ['policyUpdates.stream', undefined, "§1 consume_policy_updates' stream: the bus's policy stream"],
  ['policyUpdates.batchSize', 10, '§1 consume_policy_updates count=10'],
  ['policyUpdates.blockMs', 1000, '§1 consume_policy_updates block_ms=1000'],
  ['fieldReports.walPath', undefined, '§2.2 var/tamiyo/field_reports.log (now <run.dir>/tamiyo/field_reports.log, decision 0040)'],
  ['fieldReports.retentionHours', 24, '§2.1 TAMIYO_FIELD_REPORT_RETENTION_HOURS 24'],
  ['fieldReports.maxRetries', 3, '§2.1 TAMIYO_FIELD_REPORT_MAX_RETRIES 3'],
  ['fieldReports.observationWindowEpochs', 3, '§2.1 TAMIYO_FR_OBS_WINDOW_EPOCHS 3'],
  ['fieldReports.retryBackoffMs', 1000, '§2.1 TAMIYO_FR_RETRY_BACKOFF_MS 1000'],
  ['fieldReports.retryBackoffMultiplier', 2, '§2.1 TAMIYO_FR_RETRY_BACKOFF_MULT 2.0'],
  ['blendAnnotations.enabled', false, '§2.1 TAMIYO_ENABLE_BLEND_MODE_ANN false'],
  ['blendAnnotations.mode', 'CONVEX', '§2.1 TAMIYO_BLEND_MODE_DEFAULT CONVEX'],
  ['blendAnnotations.confidenceGateK', 1, '§2.1 TAMIYO_BLEND_CONF_GATE_K 1.0'],
  ['blendAnnotations.confidenceGateTau', 1, '§2.1 TAMIYO_BLEND_CONF_GATE_TAU 1.0'],
  ['blendAnnotations.alphaLo', 0, '§2.1 TAMIYO_BLEND_ALPHA_LO 0.0'],
  ['blendAnnotations.alphaHi', 1, '§2.1 TAMIYO_BLEND_ALPHA_HI 1.0'],
  ['blendAnnotations.alphaVecMax', 64, '§2.1 TAMIYO_BLEND_ALPHA_VEC_MAX 64'],
];

/** One valid raw value per env name, and what it must become. */
const ENV_SAMPLES: ReadonlyArray<readonly [name: string, raw: string, value: unknown]> = [
  ['TAMIYO_STEP_TIMEOUT_MS', '12.5', 12.5],
  ['TAMIYO_DEVICE', 'cuda:1', 'cuda:1'],
  ['TAMIYO_ENABLE_COMPILE', 'off', false],
  ['TAMIYO_VERIFY_UPDATES', 'no', false],
  ['TAMIYO_UPDATE_FRESHNESS_SEC', '30', 30],
  ['TAMIYO_CONSUME_POLICY_UPDATES', 'false', false],
  ['TAMIYO_FIELD_REPORT_RETENTION_HOURS', '48', 48],
  ['TAMIYO_FIELD_REPORT_MAX_RETRIES', '0', 0],
  ['TAMIYO_FR_OBS_WINDOW_EPOCHS', '2', 2],
  ['TAMIYO_FR_RETRY_BACKOFF_MS', '0', 0],
  ['TAMIYO_FR_RETRY_BACKOFF_MULT', '1.5', 1.5],
  ['TAMIYO_ENABLE_BLEND_MODE_ANN', 'YES', true],
  ['TAMIYO_BLEND_MODE_DEFAULT', 'confidence', 'CONFIDENCE'],
  ['TAMIYO_BLEND_CONF_GATE_K', '4', 4],
  ['TAMIYO_BLEND_CONF_GATE_TAU', '0.2', 0.2],
  ['TAMIYO_BLEND_ALPHA_LO', '0.1', 0.1],
  ['TAMIYO_BLEND_ALPHA_HI', '0.9', 0.9],
  ['TAMIYO_BLEND_ALPHA_VEC_MAX', '8', 8],
  ['URABRASK_SIGNING_ENABLED', '1', true],
  ['TAMIYO_CONSERVATIVE_MODE', 'true', true],
  ['TAMIYO_POLICY_DIR', './var/tamiyo/policies', './var/tamiyo/policies'],
];

describe('tamiyoConfigSchema defaults', () => {
  const { options } = resolve();

  test.each(DEFAULTS)('%s = %j (reference %s)', (path, value) => {
    expect(at(options, path)).toStrictEqual(value);
  });

  test('the defaults table covers every option', () => {
    expect(DEFAULTS.map(([path]) => path).sort()).toStrictEqual(leafPaths(tamiyoConfigSchema).sort());
  });

  test('an empty section and no section give the same options', () => {
    expect(resolve({}).options).toStrictEqual(options);
    expect(tamiyoConfigSchema.parse({})).toStrictEqual(options);
  });
});

describe('TAMIYO_ENV', () => {
  test('maps every Tamiyo setting of the reference; the signing secret stays with the kernel', () => {
    const own = [...REFERENCE_ENV_NAMES.filter((name) => name !== 'ESPER_LEYLINE_SECRET'), ...PORT_ENV_NAMES];
    expect(Object.keys(TAMIYO_ENV).sort()).toStrictEqual([...own].sort());
    expect(CORE_ENV.ESPER_LEYLINE_SECRET).toBe('security.leylineSecret');
  });

  test('every env name has a coercion sample', () => {
    expect(ENV_SAMPLES.map(([name]) => name).sort()).toStrictEqual(Object.keys(TAMIYO_ENV).sort());
  });

  test.each(ENV_SAMPLES)('%s=%s sets its option', (name, raw, value) => {
    const path = TAMIYO_ENV[name]!;
    const { options, overrides } = resolve(undefined, { [name]: raw });
    expect(at(options, path)).toStrictEqual(value);
    expect(overrides[`tamiyo.${path}`]).toBe(name);
  });

  test('has no secrets', () => {
    expect(TAMIYO_SECRETS).toStrictEqual([]);
  });
});

describe('tamiyoConfigSchema validation', () => {
  test('a non-numeric step timeout from the env names the option and the variable', () => {
    const issues = issuesOf(undefined, { TAMIYO_STEP_TIMEOUT_MS: 'fast' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'tamiyo.stepTimeoutMs', envVar: 'TAMIYO_STEP_TIMEOUT_MS' });
    expect(issues[0]!.message).toContain('"fast"');
  });

  test('an unknown blend mode is rejected, not mapped to CONVEX', () => {
    expect(issuesOf(undefined, { TAMIYO_BLEND_MODE_DEFAULT: 'spline' })[0]).toMatchObject({
      path: 'tamiyo.blendAnnotations.mode',
      envVar: 'TAMIYO_BLEND_MODE_DEFAULT',
      message: expect.stringContaining('"CONFIDENCE"') as unknown,
    });
  });

  test('booleans accept only the documented spellings', () => {
    expect(issuesOf(undefined, { TAMIYO_VERIFY_UPDATES: 'maybe' })[0]).toMatchObject({
      path: 'tamiyo.policyUpdates.verify',
      envVar: 'TAMIYO_VERIFY_UPDATES',
      message: expect.stringContaining('true/false, 1/0, yes/no, on/off') as unknown,
    });
  });

  test('alphaLo above alphaHi is rejected with both names in the message (P8)', () => {
    const issues = issuesOf(undefined, { TAMIYO_BLEND_ALPHA_LO: '0.8', TAMIYO_BLEND_ALPHA_HI: '0.2' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'tamiyo.blendAnnotations.alphaLo', envVar: 'TAMIYO_BLEND_ALPHA_LO' });
    expect(issues[0]!.message).toContain('alphaLo must be <= alphaHi');
    expect(resolve({ blendAnnotations: { alphaLo: 0.5, alphaHi: 0.5 } }).options.blendAnnotations.alphaLo).toBe(0.5);
  });

  test.each([
    ['blendAnnotations.alphaHi', { blendAnnotations: { alphaHi: 1.5 } }],
    ['blendAnnotations.alphaLo', { blendAnnotations: { alphaLo: -0.1 } }],
    ['blendAnnotations.alphaVecMax', { blendAnnotations: { alphaVecMax: 0 } }],
    ['fieldReports.observationWindowEpochs', { fieldReports: { observationWindowEpochs: 0 } }],
    ['fieldReports.retryBackoffMs', { fieldReports: { retryBackoffMs: -1 } }],
    ['fieldReports.retryBackoffMultiplier', { fieldReports: { retryBackoffMultiplier: 0.5 } }],
    ['fieldReports.maxRetries', { fieldReports: { maxRetries: 1.5 } }],
    ['stepTimeoutMs', { stepTimeoutMs: -1 }],
    ['breaker.failureThreshold', { breaker: { failureThreshold: 0 } }],
  ] as const)('rejects an out-of-range %s', (path, section) => {
    expect(issuesOf(section).map((i) => i.path)).toStrictEqual([`tamiyo.${path}`]);
  });

  test('0 disables the step and metadata deadlines', () => {
    const { options } = resolve({ stepTimeoutMs: 0, metadataTimeoutMs: 0 });
    expect([options.stepTimeoutMs, options.metadataTimeoutMs]).toStrictEqual([0, 0]);
  });

  test('unknown options are errors with a suggestion', () => {
    const issues = issuesOf({ stepTimeoutMS: 5, risk: { maxLossSpik: 0.2 } });
    expect(issues.map((i) => i.path).sort()).toStrictEqual(['tamiyo.risk.maxLossSpik', 'tamiyo.stepTimeoutMS']);
    expect(issues.find((i) => i.path === 'tamiyo.stepTimeoutMS')!.message).toContain('did you mean "stepTimeoutMs"');
  });

  test('precedence: defaults < factory options < config section < env', () => {
    expect(resolve(undefined, {}, { stepTimeoutMs: 20 }).options.stepTimeoutMs).toBe(20);
    expect(resolve({ stepTimeoutMs: 30 }, {}, { stepTimeoutMs: 20 }).options.stepTimeoutMs).toBe(30);
    expect(resolve({ stepTimeoutMs: 30 }, { TAMIYO_STEP_TIMEOUT_MS: '40' }, { stepTimeoutMs: 20 }).options.stepTimeoutMs).toBe(40);
  });
});
