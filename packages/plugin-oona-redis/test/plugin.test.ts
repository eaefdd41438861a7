import { create, fromBinary } from '@bufbuild/protobuf';
import { createEsper, ManualClock, Tokens, type Logger, type OonaMessage } from '@esper/core';
import { SystemStatePacketSchema } from '@esper/core/leyline';
import { describe, expect, it } from 'vitest';
import { maskRedisUrl, oonaRedis, oonaRedisSchema, redisClientOptions } from '../src/index.js';
import { deleteKeys, REDIS_URL, redisAvailable, streamsFor } from './redis-env.js';

const available = await redisAvailable();

function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

describe('Redis URLs and client options', () => {
  it('masks user and password', () => {
    expect(maskRedisUrl('redis://alice:s3cret@cache.internal:6380/2')).toBe('redis://***:***@cache.internal:6380/2');
    expect(maskRedisUrl('rediss://:only-pass@h:6379')).toBe('rediss://:***@h:6379');
    expect(maskRedisUrl('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
    expect(maskRedisUrl('not a url with password hunter2')).not.toContain('hunter2');
  });

  it('rediss:// turns TLS on; reconnect delays back off exponentially up to the cap', () => {
    const tls = redisClientOptions({ url: 'rediss://u:p@h:6380', tlsRejectUnauthorized: false });
    expect(tls.socket).toMatchObject({ tls: true, rejectUnauthorized: false });
    const plain = redisClientOptions({ url: 'redis://h:6379', reconnectBaseMs: 10, reconnectMaxMs: 100 });
    expect(plain.disableOfflineQueue).toBe(true);
    const strategy = (plain.socket as { reconnectStrategy: (n: number) => number }).reconnectStrategy;
    expect([0, 1, 2, 3, 4, 10].map((n) => strategy(n))).toEqual([10, 20, 40, 80, 100, 100]);
  });

  it('TLS material: PEM text goes to the socket; a redis:// URL, both forms, or a certificate without its key are errors', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const tls = redisClientOptions({ url: 'rediss://h:6380', tlsCa: pem, tlsCert: pem, tlsKey: 'KEY' });
    expect(tls.socket).toMatchObject({ tls: true, rejectUnauthorized: true, ca: pem, cert: pem, key: 'KEY', noDelay: true });
    expect(() => redisClientOptions({ url: 'redis://h:6379', tlsCa: pem })).toThrow(/rediss:\/\//);
    expect(() => redisClientOptions({ url: 'rediss://h:6380', tlsCert: pem })).toThrow(/needs its key/);
    expect(() => redisClientOptions({ url: 'rediss://h:6380', tlsCaFile: '/nonexistent/ca.pem' })).toThrow(/\/nonexistent\/ca\.pem/);

    const issues = (input: Record<string, unknown>) => oonaRedisSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues({ redisUrl: 'redis://u:secret@h:6379', tlsCaFile: '/ca.pem' })).toEqual(['tlsCaFile: TLS options need a rediss:// URL (redisUrl / REDIS_URL is not rediss://).']);
    expect(issues({ redisUrl: 'rediss://h:6380', tlsCa: pem, tlsCaFile: '/ca.pem' })).toEqual(['tlsCa: set tlsCa or tlsCaFile, not both']);
    expect(issues({ redisUrl: 'rediss://h:6380', tlsKeyFile: '/k.pem' })).toEqual(['tlsCert: a TLS client certificate needs its key (and a key its certificate)']);
    expect(issues({ redisUrl: 'rediss://h:6380', tlsCertFile: '/c.pem', tlsKeyFile: '/k.pem', appendBatchMax: 1 })).toEqual([]);
    expect(issues({ appendBatchMax: 0 })).toHaveLength(1);
  });
});

describe.skipIf(!available)('oonaRedis plugin', () => {
  it('runs end to end; the URL with its password is a secret, masked in config and absent from logs', async () => {
    const prefix = `plugin-${process.pid}-${Date.now()}:`;
    const lines: string[] = [];
    const url = REDIS_URL.replace('redis://', 'redis://default:not-the-password@');
    const esper = createEsper(
      {
        plugins: [
          oonaRedis(streamsFor(prefix)),
        ],
      },
      { env: { REDIS_URL: url }, clock: new ManualClock(Date.now()), logger: recordingLogger(lines) },
    );
    expect(JSON.stringify(esper.config)).not.toContain('not-the-password');
    const run = await esper.start();
    const oona = run.resolve(Tokens.Oona);
    await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: 9n }));
    const seen: OonaMessage[] = [];
    await oona.consume((m) => void seen.push(m));
    expect(fromBinary(SystemStatePacketSchema, seen[0]!.payload).globalStep).toBe(9n);
    await run.stop();
    await deleteKeys(prefix);
    expect(lines.join('\n')).not.toContain('not-the-password');
  });

  it('unreachable at start: a clear error naming the masked URL within the start timeout', async () => {
    const esper = createEsper(
      { plugins: [oonaRedis({ startTimeoutMs: 500, connectTimeoutMs: 200 })] },
      { env: { REDIS_URL: 'redis://alice:hunter2@127.0.0.1:1/0' }, clock: new ManualClock(Date.now()), logger: recordingLogger([]) },
    );
    const t0 = Date.now();
    const error = await esper.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - t0).toBeLessThan(3_000);
    const text = `${String(error)} ${String((error as { cause?: unknown }).cause)}`;
    expect(text).toContain('redis://***:***@127.0.0.1:1/0');
    expect(text).toContain('unreachable');
    expect(text).not.toContain('hunter2');
  });
});
