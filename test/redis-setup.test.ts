// The Redis global setup's probe and the closing skip line (test/setup/*), without a real Redis.
import { createServer, type Server } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestModule } from 'vitest/node';
import { redisSkipLine } from './setup/redis-skips-reporter.js';
import { REDIS_MISSING_VAR, redisAnswers } from './setup/redis.js';

function listen(reply: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.once('data', () => socket.end(reply)));
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address !== null ? address.port : 0 });
    });
  });
}

/** The part of a TestModule the reporter reads. */
function fakeModule(moduleId: string, states: Array<'passed' | 'failed' | 'skipped'>): TestModule {
  const tests = states.map((state) => ({ result: () => ({ state }) }));
  return { moduleId, children: { *allTests() { yield* tests; } } } as unknown as TestModule;
}

describe('redisAnswers', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('is true only for a server that replies +PONG', async () => {
    const pong = await listen('+PONG\r\n');
    const other = await listen('HTTP/1.1 400 Bad Request\r\n\r\n');
    servers.push(pong.server, other.server);
    expect(await redisAnswers(pong.port)).toBe(true);
    expect(await redisAnswers(other.port)).toBe(false);
  });

  it('is false when nothing listens', async () => {
    const { server, port } = await listen('');
    await new Promise((resolve) => server.close(resolve));
    expect(await redisAnswers(port, 500)).toBe(false);
  });
});

describe('redisSkipLine', () => {
  const modules = [
    fakeModule('/repo/packages/plugin-oona-redis/test/contract.test.ts', ['skipped', 'skipped', 'skipped']),
    fakeModule('/repo/packages/plugin-oona-redis/test/plugin.test.ts', ['passed', 'skipped']),
    fakeModule('/repo/packages/core/test/leyline/fuzz.test.ts', ['skipped', 'passed']),
  ];
  // This file's worker inherits the flag when the run itself has no Redis: start from unset.
  const inherited = process.env[REDIS_MISSING_VAR];
  beforeEach(() => {
    delete process.env[REDIS_MISSING_VAR];
  });
  afterEach(() => {
    if (inherited === undefined) delete process.env[REDIS_MISSING_VAR];
    else process.env[REDIS_MISSING_VAR] = inherited;
  });

  it('counts the skipped tests of the Redis test files and says how to run them', () => {
    process.env[REDIS_MISSING_VAR] = '1';
    const line = redisSkipLine(modules);
    expect(line).toMatch(/^Redis: 4 tests skipped /);
    expect(line).toContain('apt-get install redis-server');
    expect(line).toContain('REQUIRE_REDIS=1');
    expect(line).not.toContain('\n');
  });

  it('says nothing when the setup had a Redis, or when no Redis test skipped', () => {
    expect(redisSkipLine(modules)).toBeUndefined();
    process.env[REDIS_MISSING_VAR] = '1';
    expect(redisSkipLine([fakeModule('/repo/packages/plugin-oona-redis/test/contract.test.ts', ['passed'])])).toBeUndefined();
  });
});
