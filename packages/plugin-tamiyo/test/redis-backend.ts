// The real redis-server of the Tamiyo tests: the one the vitest global setup found or started
// (test/setup/redis.ts), reached at OONA_TEST_REDIS_URL. Without one the caller skips, unless
// REQUIRE_REDIS is set (CI), which makes an unreachable server an error.
import { RedisStreamBackend } from '@esper/plugin-oona-redis';

/** The server's URL. */
export const redisUrl = process.env.OONA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A connected backend on {@link redisUrl} (the caller closes it). */
export async function connectRedis(): Promise<RedisStreamBackend> {
  const backend = new RedisStreamBackend({ url: redisUrl, connectTimeoutMs: 1_000, startTimeoutMs: 2_000 });
  await backend.connect();
  return backend;
}

/** True when the server answers; false (skip) when it does not and REQUIRE_REDIS is unset. */
export async function redisAvailable(): Promise<boolean> {
  try {
    await (await connectRedis()).close();
    return true;
  } catch (error) {
    if (process.env.REQUIRE_REDIS) throw new Error(`REQUIRE_REDIS is set but ${redisUrl} is unreachable`, { cause: error });
    return false;
  }
}

/** Deletes `streams` on the server (cleanup after a scenario). */
export async function deleteRedisStreams(streams: readonly string[]): Promise<void> {
  const backend = await connectRedis();
  try {
    for (const stream of streams) await backend.deleteStream(stream);
  } finally {
    await backend.close();
  }
}
