import { readFileSync } from 'node:fs';
import {
  OonaBackendError,
  OonaBusyGroupError,
  OonaClosedError,
  OonaIdTooSmallError,
  OonaNoGroupError,
  OonaReadCancelledError,
  OonaUnreachableError,
  type AppendOptions,
  type AutoClaimResult,
  type ClaimedEntry,
  type EntryFields,
  type GroupInfo,
  type Logger,
  type ReadGroupOptions,
  type StreamBackend,
  type StreamEntry,
} from '@esper/core';
import { createClient, RESP_TYPES, type RedisClientOptions } from 'redis';
import { maskRedisUrl } from './url.js';

/** Connection options of {@link RedisStreamBackend}. */
export interface RedisBackendOptions {
  /** `redis://[user:password@]host:port/db` or `rediss://…` (TLS). Never logged unmasked. */
  readonly url: string;
  /** Per-attempt TCP/TLS connect timeout (ms). */
  readonly connectTimeoutMs?: number;
  /** How long {@link RedisStreamBackend.connect} may take before it fails with OonaUnreachableError (ms). */
  readonly startTimeoutMs?: number;
  /** First reconnect delay; doubles per attempt up to `reconnectMaxMs`. */
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  /** PEM file with the CA for `rediss://` servers with private certificates. */
  readonly tlsCaFile?: string;
  /** Verify the server certificate for `rediss://` (default true). */
  readonly tlsRejectUnauthorized?: boolean;
  readonly logger?: Logger;
}

type Client = ReturnType<typeof createClient>;
type Reply = unknown;

const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

function str(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function toFields(flat: unknown): EntryFields {
  const out: Record<string, Uint8Array> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const value = flat[i + 1] as unknown;
    out[str(flat[i])] = Buffer.isBuffer(value) ? value : Buffer.from(str(value), 'utf8');
  }
  return out;
}

function toEntries(list: unknown): StreamEntry[] {
  if (!Array.isArray(list)) return [];
  const out: StreamEntry[] = [];
  for (const item of list as unknown[]) {
    // XAUTOCLAIM on Redis 6.2 returns nil for deleted entries.
    if (!Array.isArray(item)) continue;
    out.push({ id: str(item[0]), fields: toFields(item[1]) });
  }
  return out;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Builds node-redis options: reconnect with exponential backoff, no offline queue, TLS for rediss. */
export function redisClientOptions(options: RedisBackendOptions): RedisClientOptions {
  const base = options.reconnectBaseMs ?? 50;
  const max = options.reconnectMaxMs ?? 2_000;
  const tls = options.url.startsWith('rediss://');
  return {
    url: options.url,
    // Fail fast while disconnected: Oona's publish buffer and consumer loops own the retrying,
    // so commands must not pile up unbounded in the client.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      reconnectStrategy: (retries: number) => Math.min(max, base * 2 ** Math.min(retries, 16)),
      ...(tls
        ? {
            tls: true as const,
            rejectUnauthorized: options.tlsRejectUnauthorized ?? true,
            ...(options.tlsCaFile !== undefined ? { ca: readFileSync(options.tlsCaFile) } : {}),
          }
        : {}),
    },
  };
}

/**
 * A {@link StreamBackend} on Redis Streams through node-redis: XADD, XLEN, XPENDING,
 * XINFO GROUPS, XGROUP CREATE … MKSTREAM, XREADGROUP, XACK, XAUTOCLAIM, XTRIM MINID, XRANGE.
 * Payloads are binary-safe (replies read as Buffers). Blocking reads run on dedicated
 * connections from a small pool (one per concurrent blocking read) and are cancelled by
 * destroying their connection. Connections reconnect with exponential backoff; while a
 * connection is down, commands fail at once (no offline queue) and the Oona client's breakers,
 * publish buffer and consumer loops take over. Credentials never appear in errors or logs.
 */
export class RedisStreamBackend implements StreamBackend {
  /** The URL with credentials masked, for messages. */
  readonly displayUrl: string;
  private readonly main: Client;
  private readonly idle: Client[] = [];
  private readonly busy = new Set<Client>();
  private closed = false;
  private connecting: Promise<void> | undefined;
  private lastError: string | undefined;

  constructor(private readonly options: RedisBackendOptions) {
    this.displayUrl = maskRedisUrl(options.url);
    this.main = this.makeClient('main');
  }

  private makeClient(role: string): Client {
    const client = createClient(redisClientOptions(this.options));
    client.on('error', (error: unknown) => {
      const text = this.scrub(message(error));
      if (text !== this.lastError) this.options.logger?.warn('oona redis connection error', { url: this.displayUrl, role, error: text });
      this.lastError = text;
    });
    client.on('ready', () => {
      if (this.lastError !== undefined) this.options.logger?.info('oona redis connection ready', { url: this.displayUrl, role });
      this.lastError = undefined;
    });
    return client;
  }

  /** Removes the raw URL (and its password) from a message. */
  private scrub(text: string): string {
    let out = text.split(this.options.url).join(this.displayUrl);
    try {
      const password = decodeURIComponent(new URL(this.options.url).password);
      if (password !== '') out = out.split(password).join('***');
    } catch {
      // Not a parseable URL: nothing more to scrub.
    }
    return out;
  }

  /**
   * Connects the command connection. Fails with {@link OonaUnreachableError} naming the URL
   * (credentials masked) when the server cannot be reached within `startTimeoutMs`.
   */
  connect(): Promise<void> {
    this.connecting ??= (async () => {
      const timeoutMs = this.options.startTimeoutMs ?? 5_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      });
      try {
        await Promise.race([this.main.connect(), timeout]);
      } catch (error) {
        this.main.destroy();
        const cause = this.lastError ?? this.scrub(message(error));
        throw new OonaUnreachableError(
          `Redis at ${this.displayUrl} is unreachable after ${timeoutMs} ms (${cause}). Check that the server runs and REDIS_URL is right.`,
        );
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.connecting;
  }

  private async command<T = Reply>(args: Array<string | Buffer>, buffers = false): Promise<T> {
    if (this.closed) throw new OonaClosedError('Redis stream backend');
    if (this.connecting !== undefined) await this.connecting;
    try {
      return (await (buffers ? this.main.sendCommand(args, BUFFERS) : this.main.sendCommand(args))) as T;
    } catch (error) {
      throw this.translate(error, args);
    }
  }

  private translate(error: unknown, args: ReadonlyArray<string | Buffer>): Error {
    const text = message(error);
    const stream = str(args[1] ?? '');
    if (text.startsWith('NOGROUP')) {
      return args[0] === 'XREADGROUP'
        ? new OonaNoGroupError(str(args[args.length - 2]), str(args[2]), { cause: error })
        : new OonaNoGroupError(stream, str(args[2]), { cause: error });
    }
    if (text.startsWith('BUSYGROUP')) return new OonaBusyGroupError(str(args[2]), str(args[3]), { cause: error });
    if (text.includes('equal or smaller than the target stream top item')) {
      return new OonaIdTooSmallError(stream, str(args[2]), 'the last id');
    }
    return new OonaBackendError(`Redis ${str(args[0])} failed on ${this.displayUrl}: ${this.scrub(text)}`, { cause: error });
  }

  async append(stream: string, fields: EntryFields, options?: AppendOptions): Promise<string> {
    const args: Array<string | Buffer> = ['XADD', stream, options?.id ?? '*'];
    for (const [key, value] of Object.entries(fields)) args.push(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return str(await this.command(args));
  }

  async length(stream: string): Promise<number> {
    return Number(await this.command(['XLEN', stream]));
  }

  async pendingCount(stream: string, group: string): Promise<number> {
    const reply = await this.command<unknown[]>(['XPENDING', stream, group]);
    return Number(reply[0] ?? 0);
  }

  async oldestPending(stream: string, group: string): Promise<string | undefined> {
    const reply = await this.command<unknown[]>(['XPENDING', stream, group]);
    return Number(reply[0] ?? 0) > 0 && reply[1] != null ? str(reply[1]) : undefined;
  }

  async groups(stream: string): Promise<readonly GroupInfo[]> {
    let reply: unknown[];
    try {
      reply = await this.command<unknown[]>(['XINFO', 'GROUPS', stream]);
    } catch (error) {
      if (error instanceof OonaBackendError && /no such key/i.test(error.message)) return [];
      throw error;
    }
    return reply.map((row) => {
      const flat = row as unknown[];
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < flat.length; i += 2) info.set(str(flat[i]), flat[i + 1]);
      const lag = info.get('lag');
      return {
        name: str(info.get('name')),
        pending: Number(info.get('pending') ?? 0),
        lastDeliveredId: str(info.get('last-delivered-id') ?? '0-0'),
        lag: lag === null || lag === undefined ? undefined : Number(lag),
      };
    });
  }

  async createGroup(stream: string, group: string): Promise<void> {
    await this.command(['XGROUP', 'CREATE', stream, group, '$', 'MKSTREAM']);
  }

  async readGroup(stream: string, group: string, consumer: string, options: ReadGroupOptions): Promise<readonly StreamEntry[]> {
    const args = ['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(Math.max(1, options.count))];
    if (options.blockMs === undefined) {
      args.push('STREAMS', stream, '>');
      return this.parseRead(await this.command(args, true));
    }
    args.push('BLOCK', String(options.blockMs), 'STREAMS', stream, '>');
    if (this.closed) throw new OonaClosedError('Redis stream backend');
    if (options.signal?.aborted === true) throw new OonaReadCancelledError();
    const client = this.acquire();
    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      this.discard(client);
    };
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      // Connecting a fresh connection waits for the server (reconnecting) and is cancellable too.
      if (!client.isReady) await client.connect();
      const reply = await client.sendCommand(args, BUFFERS);
      this.release(client);
      return this.parseRead(reply);
    } catch (error) {
      this.discard(client);
      if (cancelled || this.closed) throw new OonaReadCancelledError();
      throw this.translate(error, args);
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  }

  private parseRead(reply: unknown): StreamEntry[] {
    if (!Array.isArray(reply) || reply.length === 0) return [];
    const [first] = reply as unknown[][];
    return toEntries(first?.[1]);
  }

  /** A dedicated connection for one blocking read (reused when idle and ready, else a new one, not yet connected). */
  private acquire(): Client {
    let client = this.idle.pop();
    while (client !== undefined && !client.isReady) {
      client.destroy();
      client = this.idle.pop();
    }
    client ??= this.makeClient('blocking');
    this.busy.add(client);
    return client;
  }

  private release(client: Client): void {
    if (!this.busy.delete(client)) return;
    if (this.closed || this.idle.length >= 8) client.destroy();
    else this.idle.push(client);
  }

  private discard(client: Client): void {
    this.busy.delete(client);
    try {
      client.destroy();
    } catch {
      // Already closed.
    }
  }

  async ack(stream: string, group: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(await this.command(['XACK', stream, group, ...ids]));
  }

  async autoClaim(stream: string, group: string, consumer: string, minIdleMs: number, cursor: string, count: number): Promise<AutoClaimResult> {
    const reply = await this.command<unknown[]>(
      ['XAUTOCLAIM', stream, group, consumer, String(minIdleMs), cursor, 'COUNT', String(Math.max(1, count))],
      true,
    );
    const entries = toEntries(reply[1]);
    const deletedIds = Array.isArray(reply[2]) ? (reply[2] as unknown[]).map(str) : [];
    const claimed: ClaimedEntry[] = [];
    if (entries.length > 0) {
      // XAUTOCLAIM does not report delivery counts; the extended XPENDING form does.
      const first = entries[0]!.id;
      const last = entries[entries.length - 1]!.id;
      const pending = await this.command<unknown[][]>(['XPENDING', stream, group, first, last, String(entries.length * 2), consumer]);
      const deliveries = new Map(pending.map((row) => [str(row[0]), Number(row[3])]));
      for (const e of entries) claimed.push({ ...e, deliveries: deliveries.get(e.id) ?? 2 });
    }
    return { next: str(reply[0]), entries: claimed, deletedIds };
  }

  async trimMinId(stream: string, minId: string): Promise<number> {
    return Number(await this.command(['XTRIM', stream, 'MINID', '=', minId]));
  }

  async range(stream: string, start: string, end: string, count: number, reverse = false): Promise<readonly StreamEntry[]> {
    return toEntries(await this.command([reverse ? 'XREVRANGE' : 'XRANGE', stream, start, end, 'COUNT', String(Math.max(1, count))], true));
  }

  async deleteStream(stream: string): Promise<void> {
    await this.command(['DEL', stream]);
  }

  /** Whether the command connection is up. */
  get ready(): boolean {
    return this.main.isReady;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of [...this.busy, ...this.idle]) this.discard(client);
    this.idle.length = 0;
    if (this.main.isOpen) {
      try {
        await this.main.close();
      } catch {
        this.main.destroy();
      }
    }
  }
}
