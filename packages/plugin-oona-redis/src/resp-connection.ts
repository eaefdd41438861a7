import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { EsperError } from '@esper/core';
import type { StreamEntry } from '@esper/core/oona';
import { lineText, parseStreamRead, ReplyScanner, RespProtocolError } from './resp.js';

/** Where and how a {@link RespConnection} connects. */
export interface ReadConnectionOptions {
  /** `redis://` or `rediss://` URL: host, port, user, password and database are taken from it. */
  readonly url: string;
  /** TLS socket options (CA, client certificate and key, rejectUnauthorized); undefined for plain TCP. */
  readonly tls: ConnectionOptions | undefined;
  readonly connectTimeoutMs: number;
  /** Delay before reconnect attempt `retries` (0-based). */
  readonly reconnectDelayMs: (retries: number) => number;
  /** A failed connect attempt (it is retried). */
  readonly onError: (error: Error) => void;
  /** Connected and authenticated. */
  readonly onReady: () => void;
  /** A ready connection was lost (not called for {@link RespConnection.destroy}). */
  readonly onDrop?: () => void;
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** `AUTH` arguments, or undefined without credentials. */
  readonly auth: readonly string[] | undefined;
  readonly db: number;
}

function endpoint(url: string): Endpoint {
  const u = new URL(url);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const db = Number(u.pathname.slice(1) || 0);
  return {
    host: host === '' ? 'localhost' : host,
    port: u.port === '' ? 6379 : Number(u.port),
    // As node-redis does over RESP2: AUTH [user] password.
    auth: username !== '' ? [username, password] : password !== '' ? [password] : undefined,
    db: Number.isInteger(db) && db > 0 ? db : 0,
  };
}

/** One command as RESP (every argument a bulk string). */
function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

/**
 * Receives the replies of commands written together, in order: `reply` once per reply (an error
 * reply is `-…`; `buf[start, end)` is only valid during the call, except that views on it may be
 * kept), then nothing more — or `fail` once for every reply that will not come. `sent` says
 * whether the commands were written to the connection before it failed: then the server may
 * have run them (their outcome is unknown); otherwise they never left this process.
 */
export interface ReplySink {
  reply(buf: Buffer, start: number, end: number): void;
  fail(error: Error, sent: boolean): void;
}

interface Waiter {
  readonly sink: ReplySink;
  /** Replies still expected by `sink`. */
  left: number;
}

/** The connection was closed (by the server, the network, or {@link RespConnection.destroy}). */
export class ConnectionClosedError extends EsperError<'ESPER_OONA_REDIS_CONNECTION_CLOSED'> {
  constructor() {
    super('ESPER_OONA_REDIS_CONNECTION_CLOSED', 'the Redis connection closed');
  }
}

/**
 * A Redis connection with its own small RESP2 reader, for the two hot paths that node-redis'
 * general client made expensive: stream reads (`XREADGROUP`, blocking or not), whose replies
 * it turns straight into entries — node-redis' decoder built an array per entry and per field
 * list and a Buffer per id, name and value — and appends, written as pre-encoded pipelined
 * `XADD`s ({@link sendEncoded}) whose replies are handed over one by one. It speaks plain TCP
 * or TLS with the same options as the command connection, authenticates
 * (`AUTH [user] password`) and selects the URL's database; `connect` retries with the
 * backend's backoff until it succeeds or the connection is destroyed. Replies come back in the
 * order the commands were written; cancelling a command means destroying the connection.
 */
export class RespConnection {
  private socket: Socket | undefined;
  private readonly endpoint: Endpoint;
  private readonly scanner = new ReplyScanner();
  /** Unparsed bytes `buf[0, length)`; `owned` when `buf` is ours to append into. */
  private buf: Buffer | undefined;
  private length = 0;
  private owned = false;
  private readonly waiters: Waiter[] = [];
  private isReady = false;
  private destroyed = false;
  private wakeRetry: (() => void) | undefined;

  constructor(private readonly options: ReadConnectionOptions) {
    this.endpoint = endpoint(options.url);
  }

  /** Connected, authenticated and not destroyed. */
  get ready(): boolean {
    return this.isReady;
  }

  /**
   * Connects, retrying failed attempts (reported through `onError`) after the backoff delay.
   * Rejects only once the connection is destroyed.
   */
  async connect(): Promise<void> {
    for (let retries = 0; ; retries++) {
      if (this.destroyed) throw new ConnectionClosedError();
      try {
        await this.connectOnce();
        this.options.onReady();
        return;
      } catch (error) {
        this.dropSocket();
        if (this.destroyed) throw new ConnectionClosedError();
        this.options.onError(error instanceof Error ? error : new Error(String(error)));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.options.reconnectDelayMs(retries));
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          this.wakeRetry = done;
        });
        this.wakeRetry = undefined;
      }
    }
  }

  private async connectOnce(): Promise<void> {
    const { host, port } = this.endpoint;
    const tls = this.options.tls;
    const socket = tls
      ? tlsConnect({ ...tls, host, port, ...(isIP(host) === 0 ? { servername: host } : {}) })
      : netConnect({ host, port });
    // A socket may report more than one error; 'close' always follows and fails what waits.
    socket.on('error', () => undefined);
    this.socket = socket;
    this.buf = undefined;
    this.length = 0;
    this.scanner.reset();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`connection timeout after ${this.options.connectTimeoutMs} ms`)), this.options.connectTimeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.off(tls ? 'secureConnect' : 'connect', ok);
        socket.off('close', closed);
        reject(error);
      };
      // destroy() while connecting: stop waiting at once rather than at the timeout.
      const closed = (): void => fail(new ConnectionClosedError());
      const ok = (): void => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.off('close', closed);
        resolve();
      };
      socket.once(tls ? 'secureConnect' : 'connect', ok);
      socket.once('error', fail);
      socket.once('close', closed);
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5_000);
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('close', () => this.onClose(socket));
    const handshake: Array<Promise<unknown>> = [];
    if (this.endpoint.auth !== undefined) handshake.push(this.send(['AUTH', ...this.endpoint.auth], lineReply));
    if (this.endpoint.db !== 0) handshake.push(this.send(['SELECT', String(this.endpoint.db)], lineReply));
    await Promise.all(handshake);
    if (this.destroyed || this.socket !== socket) throw new ConnectionClosedError();
    this.isReady = true;
  }

  /**
   * Sends `XREADGROUP …` (arguments after the command name are the caller's; it must name one
   * stream) and resolves its entries. An error reply rejects with the server's message.
   */
  readGroup(args: readonly string[]): Promise<StreamEntry[]> {
    if (!this.isReady) return Promise.reject(new ConnectionClosedError());
    return this.send(args, parseStreamRead);
  }

  /**
   * Writes `bytes` — `replies` whole RESP commands, encoded by the caller — and hands their
   * replies to `sink` in order. On a connection that is not ready, `sink.fail` runs at once.
   */
  sendEncoded(bytes: Uint8Array, replies: number, sink: ReplySink): void {
    const socket = this.socket;
    if (!this.isReady || socket === undefined) {
      sink.fail(new ConnectionClosedError(), false);
      return;
    }
    this.waiters.push({ sink, left: replies });
    socket.write(bytes);
  }

  /** Runs `write` (calls of {@link sendEncoded}) with the socket corked: its writes leave in one system call. */
  corked(write: () => void): void {
    const socket = this.socket;
    socket?.cork();
    try {
      write();
    } finally {
      socket?.uncork();
    }
  }

  private send<T>(args: readonly string[], parse: (buf: Buffer, start: number, end: number) => T): Promise<T> {
    const socket = this.socket;
    if (socket === undefined || this.destroyed) return Promise.reject(new ConnectionClosedError());
    return new Promise<T>((resolve, reject) => {
      this.waiters.push({
        left: 1,
        sink: {
          reply(buf, start, end) {
            if (buf[start] === 45) reject(new Error(lineText(buf, start, end)));
            else {
              try {
                resolve(parse(buf, start, end));
              } catch (e) {
                reject(e as Error);
              }
            }
          },
          fail: (error) => reject(error),
        },
      });
      socket.write(encode(args));
    });
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    if (this.length === 0) {
      this.buf = chunk;
      this.length = chunk.length;
      this.owned = false;
    } else {
      const buf = this.buf!;
      if (!this.owned || buf.length - this.length < chunk.length) {
        // Grow by doubling: bytes are copied O(1) times on average however the reply is chunked.
        const grown = Buffer.allocUnsafe(Math.max(64 * 1024, 2 * (this.length + chunk.length)));
        buf.copy(grown, 0, 0, this.length);
        this.buf = grown;
        this.owned = true;
      }
      chunk.copy(this.buf!, this.length);
      this.length += chunk.length;
    }
    // Replies `buf[start, end)` are delivered in place; the bytes left over are kept once, after the loop.
    const buf = this.buf!;
    let start = 0;
    for (;;) {
      let end: number;
      try {
        end = this.scanner.scan(buf, this.length);
      } catch (error) {
        this.fail(error as RespProtocolError);
        return;
      }
      if (end < 0) break;
      const waiter = this.waiters[0];
      if (waiter === undefined) {
        this.fail(new RespProtocolError('a reply nobody asked for'));
        return;
      }
      if (--waiter.left === 0) this.waiters.shift();
      // Delivered views may share `buf`: never append into it again.
      this.owned = false;
      waiter.sink.reply(buf, start, end);
      // A sink may have dropped the connection (destroy() from a callback).
      if (socket !== this.socket) return;
      start = end;
      if (start === this.length) break;
    }
    if (start === this.length) {
      this.buf = undefined;
      this.length = 0;
      this.scanner.reset();
    } else if (start > 0) {
      // Bytes of a next reply: keep them, but never write into the buffer the delivered views share.
      this.buf = buf.subarray(start, this.length);
      this.length -= start;
      this.owned = false;
      this.scanner.rebase(start);
    }
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.dropSocket();
  }

  private fail(error: Error): void {
    this.socket?.destroy();
    this.dropSocket(error);
  }

  /** Forgets the socket and fails every waiting command. */
  private dropSocket(error: Error = new ConnectionClosedError()): void {
    const wasReady = this.isReady;
    this.isReady = false;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.buf = undefined;
    this.length = 0;
    this.scanner.reset();
    const waiters = this.waiters.splice(0);
    // Written before the connection failed: the server may have run them.
    for (const waiter of waiters) waiter.sink.fail(error, true);
    if (wasReady && !this.destroyed) this.options.onDrop?.();
  }

  /** Closes the connection at once; a waiting read rejects, a connect loop stops. */
  destroy(): void {
    this.destroyed = true;
    this.dropSocket();
    this.wakeRetry?.();
  }
}

/** A one-line reply (`+OK`): its text. */
function lineReply(buf: Buffer, start: number, end: number): string {
  return lineText(buf, start, end);
}
