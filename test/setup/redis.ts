// Vitest global setup for the Redis-backed suites (@esper/plugin-oona-redis). Runs once in the
// main vitest process before any worker starts; the workers inherit the environment it sets.
//
// - OONA_TEST_REDIS_URL already set: used as is (the suites connect to it, nothing is started).
// - something answers PING on 127.0.0.1:6379: the suites use it (OONA_TEST_REDIS_URL is set to it).
// - else, redis-server on PATH: a throwaway server starts on a free loopback port (no
//   persistence, its own temp dir) for this run, and the teardown stops it.
// - else: with REQUIRE_REDIS set (.ci/run sets it) the run fails here; without it the suites
//   skip, and RedisSkipsReporter (./redis-skips-reporter.ts) closes the run with one line that
//   says how many tests were skipped and how to run them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The variable the Redis suites read their server's URL from (see plugin-oona-redis/test/redis-env.ts). */
export const REDIS_URL_VAR = 'OONA_TEST_REDIS_URL';
/** Set to `1` by this setup when no Redis can be had, for the reporter. */
export const REDIS_MISSING_VAR = 'ESPER_TEST_REDIS_MISSING';
/** Test files whose skipped tests the reporter counts as Redis skips. */
export const REDIS_TEST_PATH = /[\\/]packages[\\/]plugin-oona-redis[\\/]/;

const DEFAULT_PORT = 6379;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether a Redis server answers `PING` with `+PONG` on 127.0.0.1:`port` within `timeoutMs`. */
export function redisAnswers(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString('latin1').startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts redis-server on a free loopback port and waits until it answers; returns how to stop it. */
async function startOwnServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'esper-test-redis-'));
  let lastError: unknown;
  // A port found free can be taken before redis-server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeLoopbackPort();
    const child: ChildProcess = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log')],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', (error) => (lastError = error));
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      if (await redisAnswers(port, 200)) {
        const stop = async () => {
          if (child.exitCode === null) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
            await exited;
            clearTimeout(timer);
          }
          rmSync(dir, { recursive: true, force: true });
        };
        return { url: `redis://127.0.0.1:${port}/0`, stop };
      }
      await sleep(50);
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    lastError ??= new Error(`redis-server on port ${port} did not answer within 5 s (log: ${join(dir, 'redis.log')})`);
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** Vitest `globalSetup`: makes a Redis server available to the Redis suites, or marks it missing. */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env[REDIS_URL_VAR]) return undefined;
  if (await redisAnswers(DEFAULT_PORT)) {
    process.env[REDIS_URL_VAR] = `redis://127.0.0.1:${DEFAULT_PORT}/0`;
    return undefined;
  }
  if (hasRedisServer()) {
    const own = await startOwnServer();
    process.env[REDIS_URL_VAR] = own.url;
    return own.stop;
  }
  if (process.env.REQUIRE_REDIS) {
    throw new Error(
      `REQUIRE_REDIS is set, but nothing answers on 127.0.0.1:${DEFAULT_PORT} and redis-server is not on PATH: ` +
        'install it (Debian: apt-get install redis-server) so that the test setup can start one.',
    );
  }
  process.env[REDIS_MISSING_VAR] = '1';
  return undefined;
}
