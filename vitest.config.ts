import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

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
    // CI also writes a JSON summary that .ci/run turns into a closing 'N passed, N failed' line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    ...(process.env.CI ? { outputFile: { json: 'test-results.json' } } : {}),
    pool: 'forks',
  },
});
