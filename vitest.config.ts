import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests run against workspace sources, not built output: the `@esper/source` export
// condition in every package points at `src/`.
const conditions = ['@esper/source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ['default'],
    pool: 'forks',
  },
});
