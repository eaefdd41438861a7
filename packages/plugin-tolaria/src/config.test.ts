import { ConfigValidationError, definePlugin, resolveConfig, secretSettings, settingsEnv, type ConfigIssue, type Env } from '@esper/core';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  parseRebuildFence,
  tolariaConfigSchema,
  type TolariaConfig,
  type TolariaConfigInput,
} from './config.js';

/** Env names and secrets, derived from the schema's `.meta()`. */
const TOLARIA_ENV = settingsEnv(tolariaConfigSchema);
const TOLARIA_SECRETS = secretSettings(tolariaConfigSchema);

const plugin = definePlugin({
  name: 'test-tolaria-config',
  configKey: 'tolaria',
  configSchema: tolariaConfigSchema,
  setup() {},
});

/** The one required option; every test section starts from it. */
const BASE = { maxEpochs: 5 } as const;

function resolve(section: Omit<TolariaConfigInput, 'maxEpochs'> = {}, env: Env = {}) {
  const resolved = resolveConfig({ plugins: [plugin], tolaria: { ...BASE, ...section } }, { env });
  return { options: resolved.optionsOf('tolaria') as TolariaConfig, overrides: resolved.envOverrides };
}

function issuesOf(section: unknown, env: Env = {}): readonly ConfigIssue[] {
  try {
    resolveConfig({ plugins: [plugin], ...(section !== undefined ? { tolaria: section } : {}) }, { env });
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

/** The env settings of reference tolaria §2.2 (and oona §3.2) named `TOLARIA_*`, copied from the spec. */
const REFERENCE_ENV_NAMES = [
  'TOLARIA_LR_POLICY',
  'TOLARIA_LR_WARMUP_STEPS',
  'TOLARIA_OPT_REBUILD_ENABLED',
  'TOLARIA_OPT_REBUILD_FENCE',
  'TOLARIA_OPT_REBUILD_BACKOFF_MS',
  'TOLARIA_OPT_REBUILD_MIN_INTERVAL_STEPS',
  'TOLARIA_ROLLBACK_ENABLED',
  'TOLARIA_ROLLBACK_FAST_CAP_MB',
  'TOLARIA_ROLLBACK_DEADLINE_MS',
  'TOLARIA_ROLLBACK_SNAPSHOT_STEPS',
  'TOLARIA_ROLLBACK_SIGNAL_NAME',
  'TOLARIA_EMERGENCY_ENABLED',
  'TOLARIA_EMERGENCY_BYPASS_MAX_PER_MIN',
  'TOLARIA_EMERGENCY_L4_ON_ROLLBACK_DEADLINE',
  'TOLARIA_EMERGENCY_L4_FAILED_EPOCHS',
  'TOLARIA_EMERGENCY_SIGNAL_NAME',
  'TOLARIA_AGGREGATION_MODE',
  'TOLARIA_AGGREGATION_ATTRIBUTION',
  'TOLARIA_PCGRAD_ENABLED',
  'TOLARIA_AGGREGATION_CONFLICT_WARN',
  'TOLARIA_AGGREGATION_SCHEME',
  'TOLARIA_AGG_PER_LAYER_ENABLED',
  'TOLARIA_AGG_PER_LAYER_TOPK',
  'TOLARIA_SEED_SHARE_JUMP_WARN',
  'TOLARIA_SEED_CONFLICT_RATIO_WARN',
  'TOLARIA_SEED_HEALTH_COMPACT',
  'TOLARIA_PROFILER_ENABLED',
  'TOLARIA_PROFILER_DIR',
  'TOLARIA_PROFILER_ACTIVE_STEPS',
];

/**
 * Every option with its default and where the reference documents it. `undefined` rows are unset
 * by default: unset in the reference too, a working-directory path that now defaults to the run
 * directory, or a deprecated, unused setting (decision 0040).
 */
const DEFAULTS: ReadonlyArray<readonly [path: string, value: unknown, reference: string]> = [
  ['maxEpochs', 5, '§2.1 max_epochs required (given by the test)'],
  ['device', undefined, '§2.1 device: accelerator if available, else CPU'],
  ['gradientAccumulationSteps', 1, '§2.1 gradient_accumulation_steps 1'],
  ['epochBudgetMs', 250, '§2.1 epoch_budget_ms 250'],
  ['hookBudgetMs', 50, '§2.1 hook_budget_ms 50'],
  ['tamiyoTimeoutMs', 2_000, '§2.1 tamiyo_timeout_s 2.0'],
  ['checkpointDir', undefined, '§3.11.4 var/tolaria (now <run.dir>/tolaria, decision 0040)'],
  ['breaker.failureThreshold', 3, '§2.1 breaker_failure_threshold 3'],
  ['breaker.successThreshold', 1, '§2.1 breaker_success_threshold 1'],
  ['breaker.timeoutMs', 30_000, '§2.1 breaker_timeout_s 30'],
  ['speed.enableCompile', true, '§2.1 enable_compile true'],
  ['speed.enableAmp', true, '§2.1 enable_amp true'],
  ['speed.enableTf32', true, '§2.1 enable_tf32 true'],
  ['speed.enableForeachOptim', true, '§2.1 enable_foreach_optim true'],
  ['lr.policy', 'off', '§2.2 TOLARIA_LR_POLICY unset (off)'],
  ['lr.warmupSteps', 0, '§2.2 TOLARIA_LR_WARMUP_STEPS 0'],
  ['lr.cosineTMaxSteps', 10_000, '§3.7 t_max 10000'],
  ['lr.stepSizeEpochs', 10, '§3.7 step_size 10'],
  ['lr.stepGamma', 0.5, '§3.7 gamma 0.5'],
  ['optimizerRebuild.enabled', false, '§2.2 TOLARIA_OPT_REBUILD_ENABLED false'],
  ['optimizerRebuild.fence', 'epoch', '§2.2 TOLARIA_OPT_REBUILD_FENCE epoch'],
  ['optimizerRebuild.backoffMs', 10_000, '§2.2 TOLARIA_OPT_REBUILD_BACKOFF_MS 10000'],
  ['optimizerRebuild.minIntervalSteps', 0, '§2.2 TOLARIA_OPT_REBUILD_MIN_INTERVAL_STEPS 0'],
  ['rollback.enabled', false, '§2.2 TOLARIA_ROLLBACK_ENABLED false'],
  ['rollback.fastCacheMiB', 32, '§2.2 TOLARIA_ROLLBACK_FAST_CAP_MB 32'],
  ['rollback.deadlineMs', 250, '§2.2 TOLARIA_ROLLBACK_DEADLINE_MS 250'],
  ['rollback.snapshotSteps', 1, '§2.2 TOLARIA_ROLLBACK_SNAPSHOT_STEPS 1'],
  ['rollback.signalName', undefined, '§2.2 TOLARIA_ROLLBACK_SIGNAL_NAME unset'],
  ['emergency.enabled', false, '§2.2 TOLARIA_EMERGENCY_ENABLED false'],
  ['emergency.maxSignalsPerFlush', 60, '§2.2 TOLARIA_EMERGENCY_BYPASS_MAX_PER_MIN 60'],
  ['emergency.haltOnRollbackDeadline', true, '§2.2 TOLARIA_EMERGENCY_L4_ON_ROLLBACK_DEADLINE true'],
  ['emergency.haltAfterFailedEpochs', 3, '§2.2 TOLARIA_EMERGENCY_L4_FAILED_EPOCHS 3'],
  ['emergency.signalName', undefined, '§2.2 TOLARIA_EMERGENCY_SIGNAL_NAME unset'],
  ['aggregation.mode', 'seed', '§2.2 TOLARIA_AGGREGATION_MODE seed'],
  ['aggregation.attribution', 'approx', '§2.2 TOLARIA_AGGREGATION_ATTRIBUTION approx'],
  ['aggregation.pcgrad', false, '§2.2 TOLARIA_PCGRAD_ENABLED false'],
  ['aggregation.conflictWarn', 0.75, '§2.2 TOLARIA_AGGREGATION_CONFLICT_WARN 0.75'],
  ['aggregation.scheme', undefined, '§2.2 TOLARIA_AGGREGATION_SCHEME mean, never read (deprecated, decision 0040)'],
  ['aggregation.perLayerEnabled', false, '§2.2 TOLARIA_AGG_PER_LAYER_ENABLED false'],
  ['aggregation.perLayerTopK', 5, '§2.2 TOLARIA_AGG_PER_LAYER_TOPK 5'],
  ['aggregation.seedShareJumpWarn', 0.3, '§2.2 TOLARIA_SEED_SHARE_JUMP_WARN 0.3'],
  ['aggregation.seedConflictRatioWarn', 0.5, '§2.2 TOLARIA_SEED_CONFLICT_RATIO_WARN 0.5'],
  ['aggregation.seedHealthCompact', false, '§2.2 TOLARIA_SEED_HEALTH_COMPACT false'],
  ['profiler.enabled', false, '§2.2 TOLARIA_PROFILER_ENABLED false'],
  ['profiler.dir', undefined, '§2.2 TOLARIA_PROFILER_DIR ./var/profiler (now <run.dir>/profiler, decision 0040)'],
  ['profiler.activeSteps', undefined, '§2.2 TOLARIA_PROFILER_ACTIVE_STEPS 50, never used (deprecated, decision 0040)'],
];

/** One valid raw value per env name, and what it must become. */
const ENV_SAMPLES: ReadonlyArray<readonly [name: string, raw: string, value: unknown]> = [
  ['TOLARIA_LR_POLICY', 'cosine', 'cosine'],
  ['TOLARIA_LR_WARMUP_STEPS', '100', 100],
  ['TOLARIA_OPT_REBUILD_ENABLED', 'on', true],
  ['TOLARIA_OPT_REBUILD_FENCE', 'n_steps:4', 'n_steps:4'],
  ['TOLARIA_OPT_REBUILD_BACKOFF_MS', '500', 500],
  ['TOLARIA_OPT_REBUILD_MIN_INTERVAL_STEPS', '2', 2],
  ['TOLARIA_ROLLBACK_ENABLED', '1', true],
  ['TOLARIA_ROLLBACK_FAST_CAP_MB', '64', 64],
  ['TOLARIA_ROLLBACK_DEADLINE_MS', '1000', 1000],
  ['TOLARIA_ROLLBACK_SNAPSHOT_STEPS', '2', 2],
  ['TOLARIA_ROLLBACK_SIGNAL_NAME', 'esper-rollback', 'esper-rollback'],
  ['TOLARIA_EMERGENCY_ENABLED', 'yes', true],
  ['TOLARIA_EMERGENCY_BYPASS_MAX_PER_MIN', '10', 10],
  ['TOLARIA_EMERGENCY_L4_ON_ROLLBACK_DEADLINE', 'false', false],
  ['TOLARIA_EMERGENCY_L4_FAILED_EPOCHS', '5', 5],
  ['TOLARIA_EMERGENCY_SIGNAL_NAME', 'esper-emergency', 'esper-emergency'],
  ['TOLARIA_AGGREGATION_MODE', 'MICROBATCH', 'microbatch'],
  ['TOLARIA_AGGREGATION_ATTRIBUTION', 'dataloader', 'dataloader'],
  ['TOLARIA_PCGRAD_ENABLED', 'true', true],
  ['TOLARIA_AGGREGATION_CONFLICT_WARN', '0.6', 0.6],
  ['TOLARIA_AGGREGATION_SCHEME', 'sum', 'sum'],
  ['TOLARIA_AGG_PER_LAYER_ENABLED', '1', true],
  ['TOLARIA_AGG_PER_LAYER_TOPK', '3', 3],
  ['TOLARIA_SEED_SHARE_JUMP_WARN', '0.25', 0.25],
  ['TOLARIA_SEED_CONFLICT_RATIO_WARN', '0.4', 0.4],
  ['TOLARIA_SEED_HEALTH_COMPACT', 'on', true],
  ['TOLARIA_PROFILER_ENABLED', 'true', true],
  ['TOLARIA_PROFILER_DIR', '/tmp/traces', '/tmp/traces'],
  ['TOLARIA_PROFILER_ACTIVE_STEPS', '50', 50],
];

describe('tolariaConfigSchema defaults', () => {
  const { options } = resolve();

  test.each(DEFAULTS)('%s = %j (reference %s)', (path, value) => {
    expect(at(options, path)).toStrictEqual(value);
  });

  test('the defaults table covers every option', () => {
    expect(DEFAULTS.map(([path]) => path).sort()).toStrictEqual(leafPaths(tolariaConfigSchema).sort());
  });

  test('maxEpochs is required, as in the reference loop config', () => {
    expect(issuesOf(undefined)).toMatchObject([{ path: 'tolaria.maxEpochs', message: expect.stringContaining('required') as unknown }]);
    expect(issuesOf({ maxEpochs: 0 }).map((i) => i.path)).toStrictEqual(['tolaria.maxEpochs']);
  });
});

describe('TOLARIA_ENV', () => {
  test('maps every TOLARIA_* setting of the reference', () => {
    expect(Object.keys(TOLARIA_ENV).sort()).toStrictEqual([...REFERENCE_ENV_NAMES].sort());
  });

  test('every env name has a coercion sample', () => {
    expect(ENV_SAMPLES.map(([name]) => name).sort()).toStrictEqual(Object.keys(TOLARIA_ENV).sort());
  });

  test.each(ENV_SAMPLES)('%s=%s sets its option', (name, raw, value) => {
    const path = TOLARIA_ENV[name]!;
    const { options, overrides } = resolve({}, { [name]: raw });
    expect(at(options, path)).toStrictEqual(value);
    expect(overrides[`tolaria.${path}`]).toBe(name);
  });

  test('has no secrets', () => {
    expect(TOLARIA_SECRETS).toStrictEqual([]);
  });
});

describe('tolariaConfigSchema validation', () => {
  test('an unknown optimizer-rebuild fence is rejected with the accepted forms', () => {
    expect(issuesOf(BASE, { TOLARIA_OPT_REBUILD_FENCE: 'weekly' })).toMatchObject([
      {
        path: 'tolaria.optimizerRebuild.fence',
        envVar: 'TOLARIA_OPT_REBUILD_FENCE',
        message: expect.stringContaining('"n_steps:N" or "steps:N"') as unknown,
      },
    ]);
  });

  test.each(['n_steps:0', 'steps:', 'steps:x', 'n_steps:-2', 'epochs'])('fence %j is rejected', (fence) => {
    expect(issuesOf({ ...BASE, optimizerRebuild: { fence } }).map((i) => i.path)).toStrictEqual(['tolaria.optimizerRebuild.fence']);
  });

  test('parseRebuildFence reads the accepted forms', () => {
    expect(parseRebuildFence('epoch')).toStrictEqual({ kind: 'epoch' });
    expect(parseRebuildFence('n_steps:3')).toStrictEqual({ kind: 'steps', everySteps: 3 });
    expect(parseRebuildFence(' steps:12 ')).toStrictEqual({ kind: 'steps', everySteps: 12 });
    expect(parseRebuildFence('weekly')).toBeUndefined();
    expect(parseRebuildFence(resolve({ optimizerRebuild: { fence: ' steps:2 ' } }).options.optimizerRebuild.fence)).toStrictEqual({
      kind: 'steps',
      everySteps: 2,
    });
  });

  test.each([
    ['COSINE', 'cosine'],
    ['Step', 'step'],
    ['constant', 'constant'],
    ['off', 'off'],
    ['none', 'off'],
    ['', 'off'],
  ])('TOLARIA_LR_POLICY=%j means %j', (raw, policy) => {
    expect(resolve({}, { TOLARIA_LR_POLICY: raw }).options.lr.policy).toBe(policy);
  });

  test('an unknown LR policy is rejected, not silently off', () => {
    expect(issuesOf(BASE, { TOLARIA_LR_POLICY: 'exponential' })).toMatchObject([
      { path: 'tolaria.lr.policy', envVar: 'TOLARIA_LR_POLICY', message: expect.stringContaining('"cosine"') as unknown },
    ]);
  });

  test.each([
    ['TOLARIA_AGGREGATION_MODE', 'layer', 'aggregation.mode'],
    ['TOLARIA_AGGREGATION_ATTRIBUTION', 'exact', 'aggregation.attribution'],
    ['TOLARIA_AGGREGATION_SCHEME', 'median', 'aggregation.scheme'],
    ['TOLARIA_ROLLBACK_SNAPSHOT_STEPS', '0', 'rollback.snapshotSteps'],
    ['TOLARIA_ROLLBACK_FAST_CAP_MB', '0', 'rollback.fastCacheMiB'],
    ['TOLARIA_EMERGENCY_L4_FAILED_EPOCHS', '0', 'emergency.haltAfterFailedEpochs'],
    ['TOLARIA_EMERGENCY_BYPASS_MAX_PER_MIN', '0', 'emergency.maxSignalsPerFlush'],
    ['TOLARIA_AGG_PER_LAYER_TOPK', '0', 'aggregation.perLayerTopK'],
    ['TOLARIA_LR_WARMUP_STEPS', '2.5', 'lr.warmupSteps'],
    ['TOLARIA_AGGREGATION_CONFLICT_WARN', '1.5', 'aggregation.conflictWarn'],
    ['TOLARIA_PCGRAD_ENABLED', 'sometimes', 'aggregation.pcgrad'],
    ['TOLARIA_ROLLBACK_SIGNAL_NAME', '', 'rollback.signalName'],
  ])('%s=%j is rejected', (name, raw, path) => {
    expect(issuesOf(BASE, { [name]: raw })).toMatchObject([{ path: `tolaria.${path}`, envVar: name }]);
  });

  test('gradient accumulation below 1 is rejected (the reference counts it as 1)', () => {
    expect(issuesOf({ ...BASE, gradientAccumulationSteps: 0 }).map((i) => i.path)).toStrictEqual(['tolaria.gradientAccumulationSteps']);
  });

  test('unknown options are errors with a suggestion', () => {
    const issues = issuesOf({ ...BASE, rollback: { snapshotStep: 2 } });
    expect(issues.map((i) => i.path)).toStrictEqual(['tolaria.rollback.snapshotStep']);
    expect(issues[0]!.message).toContain('did you mean "snapshotSteps"');
  });
});
