import { createServer } from 'node:net';
import { createClient } from 'redis';

/** The shared test server (never restarted by tests). */
export const REDIS_URL = process.env.OONA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * Whether the shared server answers PING within a second. Suites skip when it does not, except
 * where `REQUIRE_REDIS` is set (CI sets it): then an unreachable server is an error, so no Redis
 * suite can pass by being skipped.
 */
export async function redisAvailable(url = REDIS_URL): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    requireOrSkip(`${url} is unreachable`);
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** Throws when `REQUIRE_REDIS` is set: a suite that needs Redis must run, not skip, there. */
export function requireOrSkip(reason: string): void {
  if (process.env.REQUIRE_REDIS) throw new Error(`REQUIRE_REDIS is set but ${reason}`);
}

/** Deletes every key that starts with `prefix` (SCAN, bounded). */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const client = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    let cursor = '0';
    for (let i = 0; i < 1_000; i++) {
      const reply = (await client.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000'])) as [string, string[]];
      if (reply[1].length > 0) await client.sendCommand(['DEL', ...reply[1]]);
      cursor = reply[0];
      if (cursor === '0') break;
    }
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a test's own redis-server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Every Oona stream setting under `prefix`, so a test's keys never collide with another's. */
export function streamsFor(prefix: string) {
  return {
    normalStream: `${prefix}normal`,
    emergencyStream: `${prefix}emergency`,
    telemetryStream: `${prefix}telemetry`,
    policyStream: `${prefix}policy`,
    kernelRequestStream: `${prefix}kr`,
    kernelReadyStream: `${prefix}kready`,
    kernelErrorStream: `${prefix}kerr`,
    deadLetterStream: `${prefix}dlq`,
  };
}
