import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
import { RedisSkipsReporter } from './test/setup/redis-skips-reporter.js';

// Tests run against workspace sources, not built output: the `@esper/source` export
// condition in every package points at `src/`.
const conditions = ['@esper/source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Redis for the Redis-backed suites: the one on 127.0.0.1:6379, else a throwaway
    // redis-server for the run, else those suites skip and RedisSkipsReporter says so in one line.
    globalSetup: ['./test/setup/redis.ts'],
    // CI also writes a JSON summary that .ci/run turns into a closing 'N passed, N failed' line.
    reporters: process.env.CI ? ['default', new RedisSkipsReporter(), 'json'] : ['default', new RedisSkipsReporter()],
    ...(process.env.CI ? { outputFile: { json: 'test-results.json' } } : {}),
    pool: 'forks',
  },
});
