// Closes a run in which the Redis suites skipped (no Redis and no redis-server; see ./redis.ts)
// with one line: how many tests skipped, and how to run them.
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { REDIS_MISSING_VAR, REDIS_TEST_PATH } from './redis.js';

/** Counts the skipped tests of the Redis test files when the global setup found no Redis. */
export function redisSkipLine(testModules: ReadonlyArray<TestModule>): string | undefined {
  if (process.env[REDIS_MISSING_VAR] !== '1') return undefined;
  let skipped = 0;
  for (const module of testModules) {
    if (!REDIS_TEST_PATH.test(module.moduleId)) continue;
    for (const test of module.children.allTests()) if (test.result().state === 'skipped') skipped++;
  }
  if (skipped === 0) return undefined;
  return (
    `Redis: ${skipped} test${skipped === 1 ? '' : 's'} skipped (no redis-server on PATH, nothing on 127.0.0.1:6379). ` +
    'To run them: apt-get install redis-server (the test setup then starts its own), or set REQUIRE_REDIS=1 to fail instead of skip, as CI does.'
  );
}

/** Vitest reporter: prints {@link redisSkipLine} after the summary, when there is one. */
export class RedisSkipsReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const line = redisSkipLine(testModules);
    if (line === undefined) return;
    if (this.vitest) this.vitest.logger.log(line);
    else console.log(line);
  }
}
