// The policy-update delivery scenarios on a real redis-server: the one the vitest global setup
// found or started (test/setup/redis.ts), else skipped (REQUIRE_REDIS makes that an error).
import { RedisStreamBackend } from '@esper/plugin-oona-redis';
import { describeDeliveryScenarios } from './policy-update-scenarios.js';

const url = process.env.OONA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

async function connect(): Promise<RedisStreamBackend> {
  const backend = new RedisStreamBackend({ url, connectTimeoutMs: 1_000, startTimeoutMs: 2_000 });
  await backend.connect();
  return backend;
}

async function available(): Promise<boolean> {
  try {
    await (await connect()).close();
    return true;
  } catch (error) {
    if (process.env.REQUIRE_REDIS) throw new Error(`REQUIRE_REDIS is set but ${url} is unreachable`, { cause: error });
    return false;
  }
}

const skip = !(await available());
let n = 0;
describeDeliveryScenarios(
  'redis',
  {
    prefix: () => `tamiyo-policy-${process.pid}-${Date.now()}-${n++}:`,
    backend: connect,
    cleanup: async (prefix) => {
      const backend = await connect();
      try {
        for (const s of ['normal', 'emergency', 'telemetry', 'policy', 'kr', 'kready', 'kerr', 'deadletter']) await backend.deleteStream(`${prefix}oona.${s}`);
        // The replica scenario's service streams.
        for (const s of [`${prefix}tamiyo.requests`, `tamiyo.replies.${prefix}r1`]) await backend.deleteStream(s);
      } finally {
        await backend.close();
      }
    },
  },
  skip,
);
