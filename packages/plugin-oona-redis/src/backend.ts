import { readFileSync } from 'node:fs';
import {
  OonaBackendError,
  OonaBusyGroupError,
  OonaClosedError,
  OonaConfigError,
  OonaIdTooSmallError,
  OonaNoGroupError,
  OonaOutcomeUnknownError,
  OonaReadCancelledError,
  OonaUnreachableError,
  type AppendOptions,
  type AppendRequest,
  type AutoClaimResult,
  type ClaimedEntry,
  type EntryFields,
  type GroupInfo,
  type ReadGroupOptions,
  type StreamBackend,
  type StreamEntry,
} from '@esper/core/oona';
import type { Logger } from '@esper/core';
import { createClient, RESP_TYPES, type RedisClientOptions } from 'redis';
import { encodeXack, entryBytes, XaddEncoder, type AppendItem } from './append-batch.js';
import { CallOrder } from './call-order.js';
import { RespConnection, type ReplySink } from './resp-connection.js';
import { maskRedisUrl } from './url.js';

/** Connection options of {@link RedisStreamBackend}. */
export interface RedisBackendOptions {
  /** `redis://[user:password@]host:port/db` or `rediss://…` (TLS). Never logged unmasked. */
  readonly url: string;
  /** Per-attempt TCP/TLS connect timeout (ms). */
  readonly connectTimeoutMs?: number;
  /** How long {@link RedisStreamBackend.connect} may take before it fails with OonaUnreachableError (ms). */
  readonly startTimeoutMs?: number;
  /** First reconnect delay (ms, default 50); doubles per attempt up to `reconnectMaxMs`. */
  readonly reconnectBaseMs?: number;
  /** Longest reconnect delay (ms, default 500): a server that is back is found within it. */
  readonly reconnectMaxMs?: number;
  /** PEM file with the CA for `rediss://` servers with private certificates. */
  readonly tlsCaFile?: string;
  /** The CA as PEM text (instead of `tlsCaFile`). */
  readonly tlsCa?: string;
  /** Client certificate (PEM file) for servers that verify clients (`tls-auth-clients yes`). */
  readonly tlsCertFile?: string;
  /** Client certificate as PEM text (instead of `tlsCertFile`). */
  readonly tlsCert?: string;
  /** Private key (PEM file) of the client certificate. */
  readonly tlsKeyFile?: string;
  /** Private key as PEM text (instead of `tlsKeyFile`; a secret, never logged). */
  readonly tlsKey?: string;
  /** Verify the server certificate for `rediss://` (default true). */
  readonly tlsRejectUnauthorized?: boolean;
  /**
   * Most appends written to the server in one socket write (pipelined `XADD`s on the append
   * connection); appends issued in the same tick are coalesced. Default 128.
   */
  readonly appendBatchMax?: number;
  readonly logger?: Logger;
}

interface ManySink {
  readonly results: Array<string | Error>;
  left: number;
  readonly resolve: (results: ReadonlyArray<string | Error>) => void;
}

/**
 * One queued append: a caller's {@link AppendRequest} (`submitAppend`, told only whether it
 * was stored), or a {@link PendingAppend}, which also takes the new id from the reply.
 */
interface QueuedAppend extends AppendItem {
  /** `reply[from, to)` holds the new id when stored (`error` undefined). */
  settle(error: Error | undefined, reply?: Buffer, from?: number, to?: number): void;
}

/**
 * An append that reports its id: to a single `append` promise (`resolve`/`reject`) or to slot
 * `index` of an `appendMany` (`many`). One object per append: on the publish path every
 * allocation is paid again in the next scavenge while the append is in flight.
 */
class PendingAppend implements QueuedAppend {
  constructor(
    readonly stream: string,
    readonly fields: EntryFields,
    readonly id: string | undefined,
    readonly index: number,
    readonly resolve: ((id: string) => void) | undefined,
    readonly reject: ((error: Error) => void) | undefined,
    readonly many: ManySink | undefined,
  ) {}

  settle(error: Error | undefined, reply?: Buffer, from?: number, to?: number): void {
    const result = error ?? reply!.toString('latin1', from, to);
    const many = this.many;
    if (many !== undefined) {
      many.results[this.index] = result;
      if (--many.left === 0) many.resolve(many.results);
    } else if (typeof result === 'string') this.resolve!(result);
    else this.reject!(result);
  }
}

/** The resolving functions of the last promise made with {@link capture} (a shared executor: no closure per promise). */
const captured: { resolve: ((id: string) => void) | undefined; reject: ((error: Error) => void) | undefined } = { resolve: undefined, reject: undefined };
function capture(resolve: (id: string) => void, reject: (error: Error) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** Upper bound of the bytes of one write of appends (a single larger entry is written alone). */
const APPEND_WRITE_MAX_BYTES = 256 * 1024;

/**
 * The replies of one write of appends, `batch[from, to)` in order: an id (bulk string) or an
 * error per entry. Ends its turn in the call order when the last reply came, or the connection failed.
 */
class AppendReplies implements ReplySink {
  private next: number;

  constructor(
    private readonly backend: RedisStreamBackend,
    private readonly batch: readonly QueuedAppend[],
    from: number,
    private readonly to: number,
  ) {
    this.next = from;
  }

  reply(buf: Buffer, start: number, end: number): void {
    const p = this.batch[this.next++]!;
    if (buf[start] === 36) {
      // `$<n>\r\n<id>\r\n`
      let eol = start + 1;
      while (buf[eol] !== 13) eol++;
      p.settle(undefined, buf, eol + 2, end - 2);
    } else {
      const text = buf.toString('utf8', start + 1, end - 2);
      p.settle(this.backend.appendError(p, buf[start] === 45 ? new Error(text) : new Error(`unexpected reply to XADD: ${text}`)));
    }
    if (this.next === this.to) this.backend.appendsAnswered();
  }

  fail(error: Error, sent: boolean): void {
    while (this.next < this.to) {
      const p = this.batch[this.next++]!;
      p.settle(this.backend.appendError(p, error, sent));
    }
    this.backend.appendsAnswered();
  }
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

type Refusal = 'auth' | 'tls';

/** Whether a connection error is one that retrying cannot fix (bad credentials, untrusted certificate). */
function refusal(text: string): Refusal | undefined {
  if (/WRONGPASS|NOAUTH|NOPERM|invalid username-password|AUTH failed/i.test(text)) return 'auth';
  if (/certificate|self[- ]signed|unable to (get|verify)|ERR_TLS|CERT_|wrong version number|handshake failure|altnames/i.test(text)) return 'tls';
  return undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether any TLS material or setting beyond the URL scheme was given. */
function tlsConfigured(options: RedisBackendOptions): boolean {
  return [options.tlsCa, options.tlsCaFile, options.tlsCert, options.tlsCertFile, options.tlsKey, options.tlsKeyFile].some((v) => v !== undefined);
}

/** PEM text given inline or read from a file; a file that cannot be read is an OonaConfigError naming it. */
function pem(inline: string | undefined, file: string | undefined, what: string): string | Buffer | undefined {
  if (inline !== undefined && file !== undefined) throw new OonaConfigError(`Give the TLS ${what} either as PEM text or as a file, not both.`);
  if (inline !== undefined) return inline;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new OonaConfigError(`Cannot read the TLS ${what} file ${file}: ${message(error)}`);
  }
}

/**
 * Builds node-redis options: reconnect with exponential backoff, no offline queue, Nagle off,
 * TLS for `rediss://` (CA, client certificate and key as PEM text or files). Throws
 * {@link OonaConfigError} for TLS material on a `redis://` URL or an unreadable file.
 */
export function redisClientOptions(options: RedisBackendOptions): RedisClientOptions {
  const base = options.reconnectBaseMs ?? 50;
  const max = options.reconnectMaxMs ?? 500;
  const tls = options.url.startsWith('rediss://');
  if (!tls && tlsConfigured(options)) {
    throw new OonaConfigError('TLS certificates or keys are set but the Redis URL is not rediss:// (TLS is off). Use a rediss:// URL.');
  }
  const ca = pem(options.tlsCa, options.tlsCaFile, 'CA');
  const cert = pem(options.tlsCert, options.tlsCertFile, 'client certificate');
  const key = pem(options.tlsKey, options.tlsKeyFile, 'client key');
  if ((cert === undefined) !== (key === undefined)) throw new OonaConfigError('A TLS client certificate needs its key, and a key its certificate.');
  return {
    url: options.url,
    // Fail fast while disconnected: Oona's publish buffer and consumer loops own the retrying,
    // so commands must not pile up unbounded in the client.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      // node-redis' default too; stated because small writes must not wait for ACKs (latency).
      noDelay: true,
      reconnectStrategy: (retries: number) => Math.min(max, base * 2 ** Math.min(retries, 16)),
      ...(tls
        ? {
            tls: true as const,
            rejectUnauthorized: options.tlsRejectUnauthorized ?? true,
            ...(ca !== undefined ? { ca } : {}),
            ...(cert !== undefined ? { cert } : {}),
            ...(key !== undefined ? { key } : {}),
          }
        : {}),
    },
  };
}

/**
 * A {@link StreamBackend} on Redis Streams through node-redis: XADD, XLEN, XPENDING,
 * XINFO GROUPS, XGROUP CREATE … MKSTREAM, XREADGROUP, XACK, XAUTOCLAIM, XTRIM MINID, XRANGE.
 * Appends go as pipelined XADDs on an append connection of the plugin's own
 * ({@link RespConnection}): appends of one tick are encoded into one write (up to
 * `appendBatchMax` entries and 256 KiB) and every entry gets its own id or error. Commands on
 * the append connection and on node-redis' command connection stay in call order
 * ({@link CallOrder}). Payloads are binary-safe (replies read as Buffers). Blocking reads run on
 * dedicated connections from a small pool (one per concurrent blocking read) with the plugin's
 * own RESP reader, which turns `XREADGROUP` replies straight into entries, and are cancelled by
 * destroying their connection. Connections reconnect with exponential backoff; while a
 * connection is down, commands fail at once (no offline queue) and the Oona client's breakers,
 * publish buffer and consumer loops take over. Credentials never appear in errors or logs.
 */
export class RedisStreamBackend implements StreamBackend {
  /** The URL with credentials masked, for messages. */
  readonly displayUrl: string;
  private readonly clientOptions: RedisClientOptions;
  private readonly main: Client;
  /** Connections for blocking reads: idle ones are reused, busy ones run one read each. */
  private readonly idle: RespConnection[] = [];
  private readonly busy = new Set<RespConnection>();
  /** The append connection: pipelined XADDs. */
  private readonly writer: RespConnection;
  private writerConnecting: Promise<void> | undefined;
  /** Keeps the append connection's and the command connection's commands in call order. */
  private readonly order = new CallOrder();
  private readonly encoder = new XaddEncoder();
  private closed = false;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private lastError: string | undefined;
  /** Appends waiting for the end of the tick, in call order. */
  private queuedAppends: QueuedAppend[] = [];
  private readonly flushQueued = (): void => this.flushAppends();
  private readonly appendBatchMax: number;
  private readonly restoredListeners = new Set<() => void>();
  /** Roles (`main`, `append`) whose connection was lost and is not ready again yet. */
  private readonly down = new Set<string>();

  constructor(private readonly options: RedisBackendOptions) {
    this.displayUrl = maskRedisUrl(options.url);
    // Built once: TLS files are read here, so a bad path fails at construction, not on reconnect.
    this.clientOptions = redisClientOptions(options);
    this.main = this.makeClient('main');
    // A lost append connection reconnects in the background; appends fail at once meanwhile.
    this.writer = this.makeConnection('append', () => {
      this.down.add('append');
      if (!this.closed) this.reconnectWriter().catch(() => undefined);
    });
    this.appendBatchMax = Math.max(1, Math.floor(options.appendBatchMax ?? 128));
  }

  private makeClient(role: string): Client {
    const client = createClient(this.clientOptions);
    client.on('error', (error: unknown) => {
      if (this.connected) this.down.add(role);
      this.connectionError(role, error);
    });
    client.on('ready', () => this.connectionReady(role));
    return client;
  }

  /** Logs a connection error once until a connection is ready again (reconnect loops repeat it). */
  private connectionError(role: string, error: unknown): void {
    const text = this.scrub(message(error));
    if (text !== this.lastError) this.options.logger?.warn('oona redis connection error', { url: this.displayUrl, role, error: text });
    this.lastError = text;
  }

  private connectionReady(role: string): void {
    if (this.lastError !== undefined) this.options.logger?.info('oona redis connection ready', { url: this.displayUrl, role });
    this.lastError = undefined;
    // The command or append connection is ready again after it was lost: the server is back.
    if (this.down.delete(role) && this.connected && !this.closed) {
      for (const listener of [...this.restoredListeners]) {
        try {
          listener();
        } catch {
          // A failing listener must not break the connection.
        }
      }
    }
  }

  /**
   * Calls `listener` whenever the command or the append connection is ready again after it was
   * lost — the server is back. Returns a function that removes it.
   */
  onConnectionRestored(listener: () => void): () => void {
    this.restoredListeners.add(listener);
    return () => this.restoredListeners.delete(listener);
  }

  /** A connection of the plugin's own (blocking reads, appends), on the command connection's URL, TLS settings and backoff. */
  private makeConnection(role: string, onDrop?: () => void): RespConnection {
    const socket = (this.clientOptions.socket ?? {}) as {
      tls?: boolean;
      ca?: string | Buffer;
      cert?: string | Buffer;
      key?: string | Buffer;
      rejectUnauthorized?: boolean;
      connectTimeout?: number;
      reconnectStrategy?: (retries: number) => number;
    };
    const tls =
      socket.tls === true
        ? {
            rejectUnauthorized: socket.rejectUnauthorized ?? true,
            ...(socket.ca !== undefined ? { ca: socket.ca } : {}),
            ...(socket.cert !== undefined ? { cert: socket.cert } : {}),
            ...(socket.key !== undefined ? { key: socket.key } : {}),
          }
        : undefined;
    return new RespConnection({
      url: this.options.url,
      tls,
      connectTimeoutMs: socket.connectTimeout ?? 2_000,
      reconnectDelayMs: socket.reconnectStrategy ?? (() => 1_000),
      onError: (error) => this.connectionError(role, error),
      onReady: () => this.connectionReady(role),
      ...(onDrop !== undefined ? { onDrop } : {}),
    });
  }

  /** Connects the append connection, retrying with backoff until it is up or the backend closes. */
  private reconnectWriter(): Promise<void> {
    this.writerConnecting ??= this.writer.connect().then(
      () => {
        this.writerConnecting = undefined;
      },
      (error: unknown) => {
        this.writerConnecting = undefined;
        throw error;
      },
    );
    return this.writerConnecting;
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
   * (credentials masked) when the server cannot be reached within `startTimeoutMs`, and at once
   * when it refuses the credentials (WRONGPASS, NOPERM) or the TLS handshake fails (untrusted
   * certificate, missing client certificate): retrying would not change those.
   */
  connect(): Promise<void> {
    this.connecting ??= (async () => {
      const timeoutMs = this.options.startTimeoutMs ?? 5_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      });
      // Refused credentials and failed certificate checks do not heal by retrying: fail at once.
      let refuse!: (error: Error) => void;
      const refused = new Promise<never>((_, reject) => (refuse = reject));
      const onError = (error: unknown): void => {
        const kind = refusal(message(error));
        if (kind !== undefined) refuse(Object.assign(new Error(message(error)), { kind }));
      };
      this.main.on('error', onError);
      try {
        await Promise.race([Promise.all([this.main.connect(), this.reconnectWriter()]), timeout, refused]);
        this.connected = true;
      } catch (error) {
        this.main.destroy();
        this.writer.destroy();
        const kind = (error as { kind?: Refusal }).kind;
        if (kind !== undefined) {
          const text = this.scrub(message(error)).replace(/\s+/g, ' ').trim();
          const what = kind === 'auth' ? 'refused the credentials' : 'failed the TLS handshake';
          const hint =
            kind === 'auth'
              ? 'Check the user and password in REDIS_URL and the ACL.'
              : /certificate required/i.test(text)
                ? 'The server requires a client certificate: set tlsCert/tlsCertFile and tlsKey/tlsKeyFile.'
                : 'Check tlsCa/tlsCaFile (the CA that signed the server certificate) and the host name.';
          throw new OonaUnreachableError(`Redis at ${this.displayUrl} ${what} (${text}). ${hint}`);
        }
        const cause = this.lastError ?? this.scrub(message(error));
        throw new OonaUnreachableError(
          `Redis at ${this.displayUrl} is unreachable after ${timeoutMs} ms (${cause}). Check that the server runs and REDIS_URL is right.`,
        );
      } finally {
        clearTimeout(timer);
        this.main.off('error', onError);
      }
    })();
    return this.connecting;
  }

  private async command<T = Reply>(args: Array<string | Buffer>, buffers = false): Promise<T> {
    if (this.closed) throw new OonaClosedError('Redis stream backend');
    if (!this.connected && this.connecting !== undefined) await this.connecting;
    // Appends queued earlier in this tick go first, and are answered before this command is sent:
    // commands reach the server in call order.
    this.flushAppends();
    if (!this.order.tryBegin('command')) await new Promise<void>((resolve) => this.order.run('command', () => (this.order.begin(), resolve())));
    try {
      return (await (buffers ? this.main.sendCommand(args, BUFFERS) : this.main.sendCommand(args))) as T;
    } catch (error) {
      throw this.translate(error, args);
    } finally {
      this.order.end();
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

  /**
   * `XADD`. Appends are queued and sent at the end of the tick as pipelined XADDs on the append
   * connection (an explicit id, too, keeps its place in call order).
   */
  append(stream: string, fields: EntryFields, options?: AppendOptions): Promise<string> {
    if (this.closed) return Promise.reject(new OonaClosedError('Redis stream backend'));
    const promise = new Promise<string>(capture);
    this.enqueueAppend(new PendingAppend(stream, fields, options?.id, 0, captured.resolve, captured.reject, undefined));
    return promise;
  }

  /**
   * `XADD <request.stream> * …` queued like {@link append}, reporting to `request.settle`
   * (without the id): no promise and no wrapper per append. Throws OonaClosedError when closed.
   */
  submitAppend(request: AppendRequest): void {
    if (this.closed) throw new OonaClosedError('Redis stream backend');
    this.enqueueAppend(request);
  }

  /**
   * Appends `entries` to `stream` with auto ids, in order, in as few writes as `appendBatchMax`
   * allows (coalesced with other appends of the same tick). Resolves per entry its id or the
   * Error that kept it out; rejects only when the backend is closed.
   */
  appendMany(stream: string, entries: readonly EntryFields[]): Promise<ReadonlyArray<string | Error>> {
    if (this.closed) return Promise.reject(new OonaClosedError('Redis stream backend'));
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const many: ManySink = { results: new Array<string | Error>(entries.length), left: entries.length, resolve };
      for (let i = 0; i < entries.length; i++) this.enqueueAppend(new PendingAppend(stream, entries[i]!, undefined, i, undefined, undefined, many));
    });
  }

  private enqueueAppend(pending: QueuedAppend): void {
    if (this.queuedAppends.length === 0) queueMicrotask(this.flushQueued);
    this.queuedAppends.push(pending);
  }

  /** Sends every queued append now, or queues them behind the commands sent before them (synchronously, so that later commands queue behind them). */
  private flushAppends(): void {
    const queued = this.queuedAppends;
    if (queued.length === 0) return;
    if (!this.connected && this.connecting !== undefined && !this.closed) {
      // Appends issued while connect() runs go out once it settles (they fail then if it failed).
      void this.connecting.then(this.flushQueued, this.flushQueued);
      return;
    }
    this.queuedAppends = [];
    this.order.run('append', () => this.writeAppends(queued));
  }

  /** Writes `queued` in order, at most `appendBatchMax` entries and 256 KiB per buffer, in one system call. */
  private writeAppends(queued: readonly QueuedAppend[]): void {
    if (queued.length <= this.appendBatchMax) this.writeAppendRange(queued);
    else this.writer.corked(() => this.writeAppendRange(queued));
  }

  private writeAppendRange(queued: readonly QueuedAppend[]): void {
    let start = 0;
    while (start < queued.length) {
      let end = start + 1;
      let bytes = entryBytes(queued[start]!.fields);
      while (end < queued.length && end - start < this.appendBatchMax) {
        bytes += entryBytes(queued[end]!.fields);
        if (bytes > APPEND_WRITE_MAX_BYTES) break;
        end++;
      }
      this.order.begin();
      const replies = new AppendReplies(this, queued, start, end);
      let bytesOut: Buffer;
      try {
        bytesOut = this.encoder.encode(queued, start, end);
      } catch (error) {
        replies.fail(error as Error, false);
        start = end;
        continue;
      }
      this.writer.sendEncoded(bytesOut, end - start, replies);
      start = end;
    }
  }

  /**
   * The error an append resolves with: `XADD` error replies keep their text; a connection that
   * failed before the XADD was written is an OonaBackendError (not stored: the client retries
   * it); one lost after it was written, before its reply, an OonaOutcomeUnknownError (the
   * server may have stored it).
   */
  appendError(p: AppendItem, error: Error, sent = false): Error {
    if (sent) {
      return new OonaOutcomeUnknownError(
        `Redis XADD to "${p.stream}" on ${this.displayUrl}: the connection was lost after the command was sent and before its reply (${this.scrub(message(error))}); the entry may or may not be stored.`,
        { cause: error },
      );
    }
    return this.translate(error, ['XADD', p.stream, p.id ?? '*']);
  }

  /** A write of appends was answered (or failed). */
  appendsAnswered(): void {
    this.order.end();
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

  async createGroup(stream: string, group: string, startId?: string): Promise<void> {
    await this.command(['XGROUP', 'CREATE', stream, group, startId ?? '$', 'MKSTREAM']);
  }

  async deleteGroup(stream: string, group: string): Promise<boolean> {
    try {
      return Number(await this.command<number>(['XGROUP', 'DESTROY', stream, group])) === 1;
    } catch (error) {
      // XGROUP on a missing key: "ERR The XGROUP subcommand requires the key to exist…".
      if (error instanceof OonaBackendError && /requires the key to exist|no such key/i.test(error.message)) return false;
      throw error;
    }
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
    const reader = this.acquire();
    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      this.discard(reader);
    };
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      // Connecting a fresh connection waits for the server (reconnecting) and is cancellable too.
      if (!reader.ready) await reader.connect();
      const entries = await reader.readGroup(args);
      this.release(reader);
      return entries;
    } catch (error) {
      this.discard(reader);
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
  private acquire(): RespConnection {
    let reader = this.idle.pop();
    while (reader !== undefined && !reader.ready) {
      reader.destroy();
      reader = this.idle.pop();
    }
    reader ??= this.makeConnection('blocking');
    this.busy.add(reader);
    return reader;
  }

  private release(reader: RespConnection): void {
    if (!this.busy.delete(reader)) return;
    if (this.closed || this.idle.length >= 8) reader.destroy();
    else this.idle.push(reader);
  }

  private discard(reader: RespConnection): void {
    this.busy.delete(reader);
    reader.destroy();
  }

  /**
   * `XACK`, on the append connection (in call order with appends and commands): encoding a
   * thousand ids there costs a fraction of what node-redis' general encoder does.
   */
  async ack(stream: string, group: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    if (this.closed) throw new OonaClosedError('Redis stream backend');
    if (!this.connected && this.connecting !== undefined) await this.connecting;
    const bytes = encodeXack(stream, group, ids);
    this.flushAppends();
    const args = ['XACK', stream, group];
    return new Promise<number>((resolve, reject) => {
      this.order.run('append', () => {
        this.order.begin();
        this.writer.sendEncoded(bytes, 1, {
          reply: (buf, start, end) => {
            this.order.end();
            const text = buf.toString('utf8', start + 1, end - 2);
            if (buf[start] === 58) resolve(Number(text));
            else reject(this.translate(new Error(buf[start] === 45 ? text : `unexpected reply to XACK: ${text}`), args));
          },
          fail: (error) => {
            this.order.end();
            reject(this.translate(error, args));
          },
        });
      });
    });
  }

  /** `XREADGROUP GROUP g c COUNT n STREAMS stream <after>`: this consumer's pending entries after `after`. */
  async readPending(stream: string, group: string, consumer: string, after: string, count: number): Promise<readonly StreamEntry[]> {
    return this.parseRead(
      await this.command(['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(Math.max(1, count)), 'STREAMS', stream, after], true),
    );
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

  /** Whether the command and append connections are up. */
  get ready(): boolean {
    return this.main.isReady && this.writer.ready;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Appends accepted before close are still sent and answered before the connections close.
    this.flushAppends();
    this.closed = true;
    for (const reader of [...this.busy, ...this.idle]) this.discard(reader);
    this.idle.length = 0;
    if (this.connected) await new Promise<void>((resolve) => this.order.run('command', resolve));
    this.writer.destroy();
    if (this.main.isOpen) {
      try {
        await this.main.close();
      } catch {
        this.main.destroy();
      }
    }
  }
}
