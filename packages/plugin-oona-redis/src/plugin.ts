import { definePlugin, Tokens, type Logger } from '@esper/core';
import { OonaClient, oonaSettingsShape, pickOonaSettings, startHousekeeping } from '@esper/core/oona';
import { z } from 'zod';
import { RedisStreamBackend } from './backend.js';

/** Options of {@link oonaRedis}: the shared Oona settings plus the connection. */
export const oonaRedisSchema = z.strictObject({
  ...oonaSettingsShape,
  redisUrl: z.string().min(1).default('redis://localhost:6379/0').meta({
    env: 'REDIS_URL',
    secret: true,
    description: '`redis://[user:password@]host:port/db`, or `rediss://` for TLS; printed without its credentials.',
  }),
  connectTimeoutMs: z.number().int().positive().default(2_000).meta({ env: 'OONA_REDIS_CONNECT_TIMEOUT_MS', description: 'Per-attempt connect timeout.' }),
  startTimeoutMs: z.number().int().positive().default(5_000).meta({
    env: 'OONA_REDIS_START_TIMEOUT_MS',
    description: 'Start fails with `ESPER_OONA_UNREACHABLE` after this long.',
  }),
  reconnectBaseMs: z.number().int().positive().default(50).meta({ description: 'First reconnect delay, doubling per attempt.' }),
  reconnectMaxMs: z.number().int().positive().default(500).meta({ description: 'Longest reconnect delay: a server that is back is found within it (publishing resumes then).' }),
  tlsCaFile: z.string().min(1).optional().meta({
    env: 'OONA_REDIS_TLS_CA_FILE',
    description: 'CA certificate file (PEM) for `rediss://` servers with a private CA.',
  }),
  tlsCa: z.string().min(1).optional().meta({ env: 'OONA_REDIS_TLS_CA', description: 'The CA certificate as PEM text (instead of `tlsCaFile`).' }),
  tlsCertFile: z.string().min(1).optional().meta({
    env: 'OONA_REDIS_TLS_CERT_FILE',
    description: 'Client certificate file (PEM) for servers that verify clients.',
  }),
  tlsCert: z.string().min(1).optional().meta({ env: 'OONA_REDIS_TLS_CERT', description: 'Client certificate as PEM text.' }),
  tlsKeyFile: z.string().min(1).optional().meta({ env: 'OONA_REDIS_TLS_KEY_FILE', description: 'Private key file (PEM) of the client certificate.' }),
  tlsKey: z.string().min(1).optional().meta({ env: 'OONA_REDIS_TLS_KEY', secret: true, description: 'Private key as PEM text.' }),
  tlsRejectUnauthorized: z.boolean().default(true).meta({ description: 'Verify the server certificate for `rediss://`.' }),
  appendBatchMax: z.number().int().positive().max(10_000).default(128).meta({
    description: 'Most publishes written in one socket write (pipelined XADDs; a tick’s publishes are coalesced); 1 writes each alone.',
  }),
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
