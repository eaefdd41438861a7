import { ConfigValidationError, definePlugin, resolveConfig, secretSettings, settingsEnv, type ConfigIssue, type Env } from '@esper/core';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { kasminaConfigSchema, type KasminaConfig, type KasminaConfigInput } from './config.js';

/** Env names and secrets, derived from the schema's `.meta()`. */
const KASMINA_ENV = settingsEnv(kasminaConfigSchema);
const KASMINA_SECRETS = secretSettings(kasminaConfigSchema);

const plugin = definePlugin({
  name: 'test-kasmina-config',
  configKey: 'kasmina',
  configSchema: kasminaConfigSchema,
  setup() {},
});

function resolve(section?: KasminaConfigInput, env: Env = {}) {
  const resolved = resolveConfig({ plugins: [plugin], ...(section !== undefined ? { kasmina: section } : {}) }, { env });
  return { options: resolved.optionsOf('kasmina') as KasminaConfig, overrides: resolved.envOverrides, core: resolved.core };
}

function issuesOf(section: unknown, env: Env = {}): readonly ConfigIssue[] {
  try {
    resolveConfig({ plugins: [plugin], ...(section !== undefined ? { kasmina: section } : {}) }, { env });
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

/**
 * Every option with its default and where the reference documents it (kasmina §3.1 constructor
 * options, §3.2 fixed constants). Units are converted to ms where the reference uses seconds.
 */
const DEFAULTS: ReadonlyArray<readonly [path: string, value: unknown, reference: string]> = [
  ['latencyBudgetMs', 10, '§3.1 latency_budget_ms 10.0'],
  ['fallbackBlueprintId', 'BP001', '§3.1 fallback_blueprint_id "BP001"'],
  ['embargoMs', 30_000, '§3.1 embargo_seconds 30.0'],
  ['security.nonceTtlMs', undefined, '§3.1 nonce_ttl_seconds 300: the kernel security.nonceWindowMs (decision 0040)'],
  ['security.freshnessWindowMs', undefined, '§3.1 freshness_window_seconds 60: the kernel security.freshnessWindowMs (decision 0040)'],
  ['security.maxFutureSkewMs', undefined, '§3.2 future skew 5 s: the kernel security.maxFutureSkewMs (decision 0040)'],
  ['alphaSchedule.totalSteps', 20, '§3.2 total_steps 20'],
  ['alphaSchedule.temperature', 2, '§3.2 temperature 2.0'],
  ['confidenceGate.gateK', 4, '§3.2 gate_k 4.0'],
  ['confidenceGate.gateTau', 0.2, '§3.2 gate_tau 0.2'],
  ['confidenceGate.alphaLo', 0, '§3.2 alpha_lo 0.0'],
  ['confidenceGate.alphaHi', 1, '§3.2 alpha_hi 1.0'],
  ['kernelFetchBreaker.failureThreshold', 3, '§3.2 kernel-fetch breaker threshold 3'],
  ['kernelFetchBreaker.openTimeoutMs', 60_000, '§3.2 kernel-fetch breaker timeout 60 000 ms'],
  ['kernelFetchBreaker.successThreshold', 2, '§3.2 kernel-fetch breaker success threshold 2'],
  ['isolationBreaker.failureThreshold', 3, '§3.2 isolation breaker threshold 3'],
  ['isolationBreaker.openTimeoutMs', 30_000, '§3.2 isolation breaker timeout 30 000 ms'],
  ['isolationBreaker.successThreshold', 2, '§3.2 isolation breaker success threshold 2'],
  ['isolation.dotThreshold', 1e-6, '§3.2 dot-product threshold 1e-6'],
  ['isolation.projectionSamples', 256, '§3.2 projection samples 256'],
  ['memory.kernelCacheCapacity', 32, '§3.1 gpu_cache_capacity 32'],
  ['memory.ttlCacheMs', 300_000, '§3.2 TTL caches 300 s'],
  ['memory.gcEveryEpochs', 10, '§3.2 periodic GC every 10 epochs'],
  ['memory.teacherBudgetGiB', 7, '§3.2 teacher memory budget 7.0 GB'],
  ['coverage.warnBelow', 0.3, '§3.2 coverage WARNING below 0.3'],
  ['coverage.criticalBelow', 0.1, '§3.2 coverage CRITICAL below 0.1'],
  ['telemetry.maxPendingEventsPerSeed', 64, '§3.2 max pending telemetry events per seed 64'],
];

/** One valid raw value per env name, and what it must become. */
const ENV_SAMPLES: ReadonlyArray<readonly [name: string, raw: string, value: unknown]> = [
  ['KASMINA_LATENCY_BUDGET_MS', '25.5', 25.5],
  ['KASMINA_FALLBACK_BLUEPRINT_ID', 'BP042', 'BP042'],
  ['KASMINA_EMBARGO_MS', '0', 0],
  ['KASMINA_KERNEL_CACHE_CAPACITY', '8', 8],
];

describe('kasminaConfigSchema defaults', () => {
  const { options, core } = resolve();

  test.each(DEFAULTS)('%s = %j (reference %s)', (path, value) => {
    expect(at(options, path)).toStrictEqual(value);
  });

  test('the defaults table covers every option', () => {
    expect(DEFAULTS.map(([path]) => path).sort()).toStrictEqual(leafPaths(kasminaConfigSchema).sort());
  });

  test("unset security windows fall back to the kernel's, whose defaults are the reference's Kasmina defaults", () => {
    expect(core.security).toMatchObject({ nonceWindowMs: 300_000, freshnessWindowMs: 60_000, maxFutureSkewMs: 5_000 });
  });
});

describe('KASMINA_ENV', () => {
  test('the reference has no KASMINA_* settings; the port adds these four', () => {
    expect(Object.keys(KASMINA_ENV).sort()).toStrictEqual(ENV_SAMPLES.map(([name]) => name).sort());
  });

  test.each(ENV_SAMPLES)('%s=%s sets its option', (name, raw, value) => {
    const path = KASMINA_ENV[name]!;
    const { options, overrides } = resolve(undefined, { [name]: raw });
    expect(at(options, path)).toStrictEqual(value);
    expect(overrides[`kasmina.${path}`]).toBe(name);
  });

  test('has no secrets', () => {
    expect(KASMINA_SECRETS).toStrictEqual([]);
  });
});

describe('kasminaConfigSchema validation', () => {
  test('a non-numeric latency budget from the env names the option and the variable', () => {
    expect(issuesOf(undefined, { KASMINA_LATENCY_BUDGET_MS: 'soon' })).toMatchObject([
      { path: 'kasmina.latencyBudgetMs', envVar: 'KASMINA_LATENCY_BUDGET_MS', message: expect.stringContaining('"soon"') as unknown },
    ]);
  });

  test('null fallback blueprint means the identity kernel', () => {
    expect(resolve({ fallbackBlueprintId: null }).options.fallbackBlueprintId).toBeNull();
  });

  test('confidence-gate alphaLo above alphaHi is rejected (the reference swaps them)', () => {
    const issues = issuesOf({ confidenceGate: { alphaLo: 0.9, alphaHi: 0.1 } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'kasmina.confidenceGate.alphaLo' });
    expect(issues[0]!.message).toContain('alphaLo must be <= confidenceGate.alphaHi');
  });

  test('the critical coverage threshold may not exceed the warning one', () => {
    const issues = issuesOf({ coverage: { warnBelow: 0.1, criticalBelow: 0.3 } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'kasmina.coverage.criticalBelow' });
    expect(issues[0]!.message).toContain('criticalBelow must be <= coverage.warnBelow');
  });

  test('a nonce window shorter than freshness + skew is rejected (decision 0011)', () => {
    const issues = issuesOf({ security: { nonceTtlMs: 60_000, freshnessWindowMs: 60_000, maxFutureSkewMs: 5_000 } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'kasmina.security.nonceTtlMs' });
    expect(issues[0]!.message).toContain('freshnessWindowMs + security.maxFutureSkewMs');
    expect(resolve({ security: { nonceTtlMs: 65_000, freshnessWindowMs: 60_000, maxFutureSkewMs: 5_000 } }).options.security.nonceTtlMs).toBe(65_000);
  });

  test.each([
    ['embargoMs', { embargoMs: -1 }],
    ['memory.kernelCacheCapacity', { memory: { kernelCacheCapacity: -1 } }],
    ['kernelFetchBreaker.failureThreshold', { kernelFetchBreaker: { failureThreshold: 0 } }],
    ['isolationBreaker.successThreshold', { isolationBreaker: { successThreshold: 0 } }],
    ['alphaSchedule.temperature', { alphaSchedule: { temperature: 0 } }],
    ['confidenceGate.alphaHi', { confidenceGate: { alphaHi: 2 } }],
    ['security.nonceTtlMs', { security: { nonceTtlMs: 0 } }],
    ['fallbackBlueprintId', { fallbackBlueprintId: '' }],
  ] as const)('rejects an out-of-range %s', (path, section) => {
    expect(issuesOf(section).map((i) => i.path)).toStrictEqual([`kasmina.${path}`]);
  });

  test('0 disables the kernel cache, the embargo and the periodic GC', () => {
    const { options } = resolve({ embargoMs: 0, memory: { kernelCacheCapacity: 0, gcEveryEpochs: 0 } });
    expect([options.embargoMs, options.memory.kernelCacheCapacity, options.memory.gcEveryEpochs]).toStrictEqual([0, 0, 0]);
  });

  test('unknown options are errors', () => {
    expect(issuesOf({ gpuCacheCapacity: 4 }).map((i) => i.path)).toStrictEqual(['kasmina.gpuCacheCapacity']);
  });
});
