import {
  definePlugin,
  OONA_SETTINGS_ENV,
  OonaClient,
  oonaSettingsShape,
  pickOonaSettings,
  startHousekeeping,
  Tokens,
  type Logger,
} from '@esper/core';
import { z } from 'zod';
import { RedisStreamBackend } from './backend.js';

/** Options of {@link oonaRedis}: the shared Oona settings plus the connection. */
export const oonaRedisSchema = z.strictObject({
  ...oonaSettingsShape,
  /** `redis://[user:password@]host:port/db` or `rediss://` for TLS (`REDIS_URL`, a secret). */
  redisUrl: z.string().min(1).default('redis://localhost:6379/0'),
  /** Per-attempt connect timeout, ms (`OONA_REDIS_CONNECT_TIMEOUT_MS`). */
  connectTimeoutMs: z.number().int().positive().default(2_000),
  /** Start fails with ESPER_OONA_UNREACHABLE after this long, ms (`OONA_REDIS_START_TIMEOUT_MS`). */
  startTimeoutMs: z.number().int().positive().default(5_000),
  /** First reconnect delay, doubling per attempt, ms. */
  reconnectBaseMs: z.number().int().positive().default(50),
  /** Longest reconnect delay, ms. */
  reconnectMaxMs: z.number().int().positive().default(2_000),
  /** CA certificate file (PEM) for `rediss://` servers with a private CA (`OONA_REDIS_TLS_CA_FILE`). */
  tlsCaFile: z.string().min(1).optional(),
  /** The CA certificate as PEM text (instead of `tlsCaFile`) (`OONA_REDIS_TLS_CA`). */
  tlsCa: z.string().min(1).optional(),
  /** Client certificate file (PEM) for servers that verify clients (`OONA_REDIS_TLS_CERT_FILE`). */
  tlsCertFile: z.string().min(1).optional(),
  /** Client certificate as PEM text (`OONA_REDIS_TLS_CERT`). */
  tlsCert: z.string().min(1).optional(),
  /** Private key file (PEM) of the client certificate (`OONA_REDIS_TLS_KEY_FILE`). */
  tlsKeyFile: z.string().min(1).optional(),
  /** Private key as PEM text (`OONA_REDIS_TLS_KEY`, a secret). */
  tlsKey: z.string().min(1).optional(),
  /** Verify the server certificate for `rediss://`. */
  tlsRejectUnauthorized: z.boolean().default(true),
  /**
   * Most publishes written to the server in one socket write (pipelined XADDs); publishes of the
   * same tick are coalesced. 1 writes each on its own.
   */
  appendBatchMax: z.number().int().positive().max(10_000).default(128),
}).superRefine((o, ctx) => {
  // Checked here so that `esper validate` reports them; the messages never include the URL.
  const material = (['tlsCa', 'tlsCaFile', 'tlsCert', 'tlsCertFile', 'tlsKey', 'tlsKeyFile'] as const).filter((k) => o[k] !== undefined);
  if (material.length > 0 && !o.redisUrl.startsWith('rediss://')) {
    ctx.addIssue({ code: 'custom', path: [material[0]!], message: 'TLS options need a rediss:// URL (redisUrl / REDIS_URL is not rediss://).' });
  }
  for (const [inline, file] of [
    ['tlsCa', 'tlsCaFile'],
    ['tlsCert', 'tlsCertFile'],
    ['tlsKey', 'tlsKeyFile'],
  ] as const) {
    if (o[inline] !== undefined && o[file] !== undefined) ctx.addIssue({ code: 'custom', path: [inline], message: `set ${inline} or ${file}, not both` });
  }
  const cert = o.tlsCert !== undefined || o.tlsCertFile !== undefined;
  const key = o.tlsKey !== undefined || o.tlsKeyFile !== undefined;
  if (cert !== key) ctx.addIssue({ code: 'custom', path: [cert ? 'tlsKey' : 'tlsCert'], message: 'a TLS client certificate needs its key (and a key its certificate)' });
});

/** Validated options. */
export type OonaRedisOptions = z.output<typeof oonaRedisSchema>;
/** What the `oona` config section may hold. */
export type OonaRedisInput = z.input<typeof oonaRedisSchema>;

/** Builds the backend for validated options (exported for tools and tests). */
export function redisBackendFor(options: OonaRedisOptions, logger?: Logger): RedisStreamBackend {
  return new RedisStreamBackend({
    url: options.redisUrl,
    connectTimeoutMs: options.connectTimeoutMs,
    startTimeoutMs: options.startTimeoutMs,
    reconnectBaseMs: options.reconnectBaseMs,
    reconnectMaxMs: options.reconnectMaxMs,
    tlsRejectUnauthorized: options.tlsRejectUnauthorized,
    appendBatchMax: options.appendBatchMax,
    ...(options.tlsCaFile !== undefined ? { tlsCaFile: options.tlsCaFile } : {}),
    ...(options.tlsCa !== undefined ? { tlsCa: options.tlsCa } : {}),
    ...(options.tlsCertFile !== undefined ? { tlsCertFile: options.tlsCertFile } : {}),
    ...(options.tlsCert !== undefined ? { tlsCert: options.tlsCert } : {}),
    ...(options.tlsKeyFile !== undefined ? { tlsKeyFile: options.tlsKeyFile } : {}),
    ...(options.tlsKey !== undefined ? { tlsKey: options.tlsKey } : {}),
    ...(logger !== undefined ? { logger } : {}),
  });
}

/**
 * Plugin: the Oona message fabric on Redis Streams (node-redis), wire-compatible with the
 * reference (`payload` = BusEnvelope bytes, `signature` = Base64 HMAC-SHA256 of them). Provides
 * `Tokens.Oona`; connects and creates the consumer groups at `init` (failing within
 * `startTimeoutMs` with an error naming the URL, credentials masked), closes gracefully at
 * `stop` (in-flight handlers finish). Signs when the kernel has a `Signer`.
 *
 * @example
 * ```ts
 * export default defineConfig({ plugins: [oonaRedis({ group: 'tamiyo' })] }); // REDIS_URL from the env
 * ```
 */
export function oonaRedis(options: Partial<OonaRedisInput> = {}) {
  return definePlugin({
    name: '@esper/plugin-oona-redis',
    configKey: 'oona',
    configSchema: oonaRedisSchema,
    factoryOptions: options,
    env: {
      ...OONA_SETTINGS_ENV,
      REDIS_URL: 'redisUrl',
      OONA_REDIS_CONNECT_TIMEOUT_MS: 'connectTimeoutMs',
      OONA_REDIS_START_TIMEOUT_MS: 'startTimeoutMs',
      OONA_REDIS_TLS_CA_FILE: 'tlsCaFile',
      OONA_REDIS_TLS_CA: 'tlsCa',
      OONA_REDIS_TLS_CERT_FILE: 'tlsCertFile',
      OONA_REDIS_TLS_CERT: 'tlsCert',
      OONA_REDIS_TLS_KEY_FILE: 'tlsKeyFile',
      OONA_REDIS_TLS_KEY: 'tlsKey',
    },
    secrets: ['redisUrl', 'tlsKey'],
    provides: [Tokens.Oona],
    setup(ctx) {
      const backend = redisBackendFor(ctx.options, ctx.logger);
      // Closes the connection even when init failed before anything resolved the client.
      ctx.onDispose(() => backend.close());
      ctx.provide(Tokens.Oona, (r) => {
        const signer = r.tryResolve(Tokens.Signer);
        return new OonaClient({
          backend,
          settings: pickOonaSettings(ctx.options),
          clock: ctx.clock,
          logger: ctx.logger,
          ...(signer !== undefined ? { signer } : {}),
        });
      });
      let stopHousekeeping: (() => void) | undefined;
      return {
        async init(hc) {
          await backend.connect();
          await hc.resolve(Tokens.Oona).ensureGroups();
        },
        start(hc) {
          stopHousekeeping = startHousekeeping(hc.resolve(Tokens.Oona), hc.options.housekeepingIntervalMs, hc.logger);
        },
        async stop(hc) {
          stopHousekeeping?.();
          stopHousekeeping = undefined;
          await hc.resolve(Tokens.Oona).close();
        },
      };
    },
  });
}
