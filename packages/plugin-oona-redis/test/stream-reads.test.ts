import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from '@esper/core';
import { OonaBackendError, OonaNoGroupError, OonaReadCancelledError } from '@esper/core/oona';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStreamBackend } from '../src/index.js';
import { deleteKeys, REDIS_URL, redisAvailable } from './redis-env.js';

const available = await redisAvailable();

/** Bytes that RESP framing must not trip over: CR, LF, CRLF, NUL, '$' and '*' inside values. */
function awkward(n: number, length: number): Uint8Array {
  const tricky = [13, 10, 0, 36, 42, 45, 13, 10];
  return Uint8Array.from({ length }, (_, i) => (i % 11 === 0 ? tricky[(n + i) % tricky.length]! : (n * 131 + i * 17) & 0xff));
}

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

// Blocking reads run on the plugin's own read connections (its RESP reader, not node-redis):
// everything read back must be byte-for-byte what was appended.
describe.skipIf(!available)('blocking reads (shared redis-server)', () => {
  const prefix = `stream-reads-${process.pid}-${Date.now()}:`;
  let backend: RedisStreamBackend;

  beforeAll(async () => {
    backend = new RedisStreamBackend({ url: REDIS_URL });
    await backend.connect();
  });

  afterAll(async () => {
    await backend.close();
    await deleteKeys(prefix);
  });

  it('returns binary values intact, small and large (several socket reads), with ids in order', async () => {
    const s = `${prefix}binary`;
    await backend.createGroup(s, 'g');
    const sizes = [0, 1, 2, 40, 1_000, 70_000, 300_000, 3, 2_000_000, 17];
    const entries = sizes.map(
      (size, i): Record<string, Uint8Array> => (i % 2 === 0 ? { payload: awkward(i, size) } : { payload: awkward(i, size), signature: awkward(i + 1, 44) }),
    );
    const ids: string[] = [];
    for (const fields of entries) ids.push(await backend.append(s, fields));
    const read = await backend.readGroup(s, 'g', 'c', { count: 100, blockMs: 1_000 });
    expect(read.map((e) => e.id)).toEqual(ids);
    read.forEach((entry, i) => {
      expect(Object.keys(entry.fields)).toEqual(Object.keys(entries[i]!));
      for (const [name, value] of Object.entries(entries[i]!)) expect(same(entry.fields[name], value)).toBe(true);
    });
    // Timed out: no entries; the connection is reused for the next read.
    expect(await backend.readGroup(s, 'g', 'c', { count: 10, blockMs: 20 })).toEqual([]);
    const later = await backend.append(s, { other: awkward(99, 5) });
    const next = await backend.readGroup(s, 'g', 'c', { count: 10, blockMs: 1_000 });
    expect(next.map((e) => e.id)).toEqual([later]);
    expect(same(next[0]!.fields.other, awkward(99, 5))).toBe(true);
  });

  it('reads a thousand entries per call and waits for entries appended while it blocks', async () => {
    const s = `${prefix}many`;
    await backend.createGroup(s, 'g');
    const entries = Array.from({ length: 2_500 }, (_, i) => ({ payload: awkward(i, i % 97) }));
    const ids = await backend.appendMany(s, entries);
    const got: string[] = [];
    while (got.length < entries.length) {
      const read = await backend.readGroup(s, 'g', 'c', { count: 1_000, blockMs: 1_000 });
      for (const e of read) {
        expect(same(e.fields.payload, entries[got.length]!.payload)).toBe(true);
        got.push(e.id);
      }
    }
    expect(got).toEqual(ids);
    const waiting = backend.readGroup(s, 'g', 'c', { count: 10, blockMs: 2_000 });
    await new Promise((r) => setTimeout(r, 30));
    const id = await backend.append(s, { payload: awkward(1, 3) });
    expect((await waiting).map((e) => e.id)).toEqual([id]);
  });

  it('a missing group is OonaNoGroupError; an aborted read is OonaReadCancelledError', async () => {
    await expect(backend.readGroup(`${prefix}none`, 'g', 'c', { count: 1, blockMs: 10 })).rejects.toBeInstanceOf(OonaNoGroupError);
    const s = `${prefix}abort`;
    await backend.createGroup(s, 'g');
    const controller = new AbortController();
    const waiting = backend.readGroup(s, 'g', 'c', { count: 1, blockMs: 0, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(waiting).rejects.toBeInstanceOf(OonaReadCancelledError);
  });
});

/**
 * A fake server on 127.0.0.1 that records the commands it receives and answers with what the
 * test gives it, one byte per socket write: every reply reaches the client cut at every offset.
 */
class FakeRedis {
  readonly commands: string[][] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  answer: (command: string[]) => Buffer | undefined = () => Buffer.from('+OK\r\n');

  constructor() {
    this.server = createServer((socket) => this.serve(socket));
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    const state = { pending: '', writing: Promise.resolve() };
    socket.on('data', (chunk: Buffer) => {
      state.pending += chunk.toString('latin1');
      for (;;) {
        const command = this.take(state);
        if (command === undefined) return;
        this.commands.push(command);
        const reply = this.answer(command);
        // Replies go out one after another (pipelined commands get their replies in order).
        if (reply !== undefined) state.writing = state.writing.then(() => this.trickle(socket, reply));
      }
    });
  }

  /** One complete command from the buffered bytes (clients send arrays of bulk strings). */
  private take(state: { pending: string }): string[] | undefined {
    const text = state.pending;
    let at = text.indexOf('\r\n');
    if (at < 0) return undefined;
    const n = Number(text.slice(1, at));
    let pos = at + 2;
    const args: string[] = [];
    for (let i = 0; i < n; i++) {
      at = text.indexOf('\r\n', pos);
      if (at < 0) return undefined;
      const length = Number(text.slice(pos + 1, at));
      if (text.length < at + 2 + length + 2) return undefined;
      args.push(text.slice(at + 2, at + 2 + length));
      pos = at + 2 + length + 2;
    }
    state.pending = text.slice(pos);
    return args;
  }

  private async trickle(socket: Socket, reply: Buffer): Promise<void> {
    for (let i = 0; i < reply.length && !socket.destroyed; i++) {
      socket.write(reply.subarray(i, i + 1));
      if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    }
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const bulk = (value: Uint8Array | string): Buffer => {
  const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
  return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]);
};
const array = (...items: Buffer[]): Buffer => Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]);

describe('blocking reads against a fake server (replies cut at every byte)', () => {
  let fake: FakeRedis;
  let backend: RedisStreamBackend | undefined;

  afterEach(async () => {
    await backend?.close();
    backend = undefined;
    await fake.close();
  });

  it('authenticates, selects the database, and decodes entries, nil field lists and errors', async () => {
    fake = new FakeRedis();
    const port = await fake.listen();
    const value = awkward(3, 300);
    let reads = 0;
    fake.answer = (command) => {
      if (command[0] !== 'XREADGROUP') return Buffer.from('+OK\r\n');
      reads++;
      if (reads === 1) {
        return array(
          array(
            bulk('s'),
            array(
              array(bulk('1-0'), array(bulk('payload'), bulk(value), bulk('signature'), bulk('c2ln'))),
              // An entry deleted while pending has nil fields.
              array(bulk('1-1'), Buffer.from('*-1\r\n')),
              array(bulk('2-0'), array(bulk('x\r\ny'), bulk(''))),
            ),
          ),
        );
      }
      if (reads === 2) return Buffer.from('*-1\r\n');
      return Buffer.from("-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n");
    };
    backend = new RedisStreamBackend({ url: `redis://reader:p%40ss@127.0.0.1:${port}/3`, appendBatchMax: 1 });
    const entries = await backend.readGroup('s', 'g', 'c', { count: 5, blockMs: 100 });
    expect(fake.commands.slice(0, 3)).toEqual([
      ['AUTH', 'reader', 'p@ss'],
      ['SELECT', '3'],
      ['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '5', 'BLOCK', '100', 'STREAMS', 's', '>'],
    ]);
    expect(entries.map((e) => e.id)).toEqual(['1-0', '1-1', '2-0']);
    expect(same(entries[0]!.fields.payload, value)).toBe(true);
    expect(Buffer.from(entries[0]!.fields.signature!).toString()).toBe('c2ln');
    expect(entries[1]!.fields).toEqual({});
    expect(Object.keys(entries[2]!.fields)).toEqual(['x\r\ny']);
    expect(entries[2]!.fields['x\r\ny']!.byteLength).toBe(0);
    expect(await backend.readGroup('s', 'g', 'c', { count: 5, blockMs: 100 })).toEqual([]);
    await expect(backend.readGroup('s', 'g', 'c', { count: 5, blockMs: 100 })).rejects.toBeInstanceOf(OonaNoGroupError);
  });

  it('a malformed reply fails the read with OonaBackendError; the next read opens a new connection', async () => {
    fake = new FakeRedis();
    const port = await fake.listen();
    let reads = 0;
    fake.answer = (command) => {
      if (command[0] !== 'XREADGROUP') return Buffer.from('+OK\r\n');
      return ++reads === 1 ? Buffer.from('*1\r\n?garbage\r\n') : Buffer.from('*-1\r\n');
    };
    backend = new RedisStreamBackend({ url: `redis://127.0.0.1:${port}/0`, appendBatchMax: 1 });
    const error = await backend.readGroup('s', 'g', 'c', { count: 1, blockMs: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OonaBackendError);
    expect((error as Error).message).toMatch(/protocol/i);
    expect(await backend.readGroup('s', 'g', 'c', { count: 1, blockMs: 10 })).toEqual([]);
  });

  it('refused credentials are retried with backoff and logged once, without the password; abort stops the wait', async () => {
    fake = new FakeRedis();
    const port = await fake.listen();
    fake.answer = (command) =>
      command[0] === 'AUTH' ? Buffer.from('-WRONGPASS invalid username-password pair or user is disabled.\r\n') : Buffer.from('*-1\r\n');
    const lines: string[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: (m, f) => lines.push(`${m} ${JSON.stringify(f)}`),
      warn: (m, f) => lines.push(`${m} ${JSON.stringify(f)}`),
      error: (m, f) => lines.push(`${m} ${JSON.stringify(f)}`),
      child: () => logger,
    } as Logger;
    backend = new RedisStreamBackend({ url: `redis://u:s3cret-pw@127.0.0.1:${port}/0`, appendBatchMax: 1, reconnectBaseMs: 5, reconnectMaxMs: 10, logger });
    const controller = new AbortController();
    const read = backend.readGroup('s', 'g', 'c', { count: 1, blockMs: 10, signal: controller.signal });
    while (fake.commands.filter((c) => c[0] === 'AUTH').length < 3) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(read).rejects.toBeInstanceOf(OonaReadCancelledError);
    expect(fake.commands.some((c) => c[0] === 'XREADGROUP')).toBe(false);
    const errors = lines.filter((l) => l.includes('WRONGPASS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('redis://***:***@127.0.0.1');
    expect(lines.join('\n')).not.toContain('s3cret-pw');
  });
});

describe('blocking reads while a connect attempt hangs', () => {
  it('an aborted read stops waiting at once, not at the end of the connect timeout', async () => {
    // A TCP server on 127.0.0.1 that never answers the TLS handshake: the attempt hangs.
    const silent = createServer((socket) => socket.on('error', () => undefined));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as AddressInfo).port;
    // Far beyond the test timeout: only the abort can end this read in time.
    const backend = new RedisStreamBackend({ url: `rediss://127.0.0.1:${port}/0`, connectTimeoutMs: 600_000, appendBatchMax: 1 });
    try {
      const controller = new AbortController();
      const read = backend.readGroup('s', 'g', 'c', { count: 1, blockMs: 10, signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await expect(read).rejects.toBeInstanceOf(OonaReadCancelledError);
    } finally {
      await backend.close();
      silent.close();
    }
  });
});
