import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary } from '@bufbuild/protobuf';
import { createEsper, ManualClock, Tokens, type Logger, type OonaMessage } from '@esper/core';
import { describeOonaContract } from '@esper/core/testing';
import { BusMessageType, SystemStatePacketSchema } from '@esper/core/leyline';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { oonaRedis, RedisStreamBackend } from '../src/index.js';
import { freePort, requireOrSkip, streamsFor } from './redis-env.js';

// A throwaway CA and server certificate (openssl), a redis-server child with TLS only (no plain
// port) on 127.0.0.1, ACL users instead of the default user; the plugin connects with
// rediss://user:password@127.0.0.1:<port>. Everything is killed and deleted in afterAll.

function probeTls(): string | undefined {
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl is not installed';
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is not installed';
  // Without certificates a TLS build refuses to start ("Failed to configure TLS"); a build
  // without TLS does not know the directive.
  const probe = spawnSync('redis-server', ['--port', '0', '--tls-port', '1', '--save', '', '--appendonly', 'no'], { encoding: 'utf8', timeout: 3_000 });
  const out = `${probe.stdout}${probe.stderr}`;
  if (/Bad directive|wrong number of arguments/i.test(out) || !/TLS/.test(out)) return 'this redis-server is built without TLS support';
  return undefined;
}

const skipReason = probeTls();
if (skipReason !== undefined) requireOrSkip(skipReason);
const title = `Redis over TLS (own redis-server child)${skipReason === undefined ? '' : ` — skipped: ${skipReason}`}`;

const USER = 'oona-svc';
const PASS = 'tls-Pa55-never-printed';
const ADMIN = 'oona-admin';
const ADMIN_PASS = 'admin-Pa55-never-printed';
const SECRETS = [PASS, ADMIN_PASS];


function openssl(dir: string, args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 10_000 });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr}`);
}

/** CA, server certificate (SAN 127.0.0.1) and a client certificate, EC P-256, valid one day. */
function makeCertificates(dir: string): void {
  const ec = ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out'];
  openssl(dir, [...ec, 'ca.key']);
  openssl(dir, [
    'req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '1', '-subj', '/CN=oona-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt',
  ]); // prettier-ignore
  for (const [name, usage, san] of [
    ['server', 'serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n'],
    ['client', 'clientAuth', ''],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=${usage}\n${san}`);
    openssl(dir, [...ec, `${name}.key`]);
    openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=oona-test-${name}`, '-out', `${name}.csr`]);
    openssl(dir, [
      'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-sha256',
      '-extfile', `${name}.ext`, '-out', `${name}.crt`,
    ]); // prettier-ignore
  }
}

class TlsRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'oona-tls-'));
  port = 0;
  private child: ChildProcess | undefined;

  file(name: string): string {
    return join(this.dir, name);
  }

  url(user = USER, password = PASS): string {
    return `rediss://${user}:${password}@127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    makeCertificates(this.dir);
    this.port = await freePort();
    // prettier-ignore
    const child = spawn('redis-server', [
      '--port', '0', '--bind', '127.0.0.1', '--tls-port', String(this.port),
      '--tls-cert-file', this.file('server.crt'), '--tls-key-file', this.file('server.key'),
      '--tls-ca-cert-file', this.file('ca.crt'), '--tls-auth-clients', 'no',
      '--save', '', '--appendonly', 'no', '--dir', this.dir,
      '--user', 'default', 'off',
      // What the plugin needs: stream commands, DEL (deleteStream) and PING — nothing else, no
      // scripting (node-redis' CLIENT SETINFO may fail; it ignores that).
      '--user', USER, 'on', `>${PASS}`, '~*', 'resetchannels', '-@all', '+@stream', '+del', '+ping',
      '--user', ADMIN, 'on', `>${ADMIN_PASS}`, '~*', '&*', '+@all',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server (TLS) did not start within 5 s:\n${output}`)), 5_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server (TLS) exited with ${code}:\n${output}`));
      });
    });
    child.removeAllListeners('exit');
  }

  async dispose(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(10);
}

/** Every byte value, so that a UTF-8 round trip anywhere on the way would show. */
const BINARY = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 3) & 0xff);


describe.skipIf(skipReason !== undefined)(title, () => {
  const redis = new TlsRedis();
  const printed: string[] = [];

  beforeAll(async () => {
    await redis.start();
  }, 20_000);

  afterAll(async () => {
    await redis.dispose();
  });

  // Whatever node-redis or the plugin might print goes through the console: capture it.
  beforeAll(() => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(' ')));
    }
  });
  afterAll(() => {
    vi.restoreAllMocks();
    for (const secret of SECRETS) expect(printed.join('\n')).not.toContain(secret);
  });

  describeOonaContract(
    'contract suite over rediss:// with an ACL user',
    () => {
      const backends: RedisStreamBackend[] = [];
      return Promise.resolve({
        backend: async () => {
          const backend = new RedisStreamBackend({ url: redis.url(), tlsCaFile: redis.file('ca.crt') });
          backends.push(backend);
          await backend.connect();
          return backend;
        },
        elapse: (ms: number) => sleep(ms),
        // The server is ours and keeps nothing on disk: closing is all the cleanup there is.
        cleanup: async () => {
          await Promise.allSettled(backends.map((b) => b.close()));
        },
      });
    },
    { seed: 11 },
  );

  describe('the plugin', () => {
    const lines: string[] = [];
    let seq = 0;
    afterEach(() => {
      for (const secret of SECRETS) expect(lines.join('\n')).not.toContain(secret);
    });

    function esperWith(url: string, options: Parameters<typeof oonaRedis>[0] = {}) {
      const prefix = `plugin-tls-${seq++}:`;
      return createEsper(
        { plugins: [oonaRedis({ ...streamsFor(prefix), startTimeoutMs: 1_500, connectTimeoutMs: 500, ...options })] },
        { env: { REDIS_URL: url }, clock: new ManualClock(Date.now()), logger: recordingLogger(lines) },
      );
    }

    it('publishes and consumes binary payloads over rediss:// (CA as a file); the URL is masked in printed config', async () => {
      const esper = esperWith(redis.url(), { tlsCaFile: redis.file('ca.crt') });
      const printedConfig = JSON.stringify(esper.config);
      expect(printedConfig).toContain(`rediss://***:***@127.0.0.1:${redis.port}/0`);
      expect(printedConfig).not.toContain(PASS);
      const run = await esper.start();
      const oona = run.resolve(Tokens.Oona);
      const seen: OonaMessage[] = [];
      const sub = oona.subscribe((m) => void seen.push(m), { count: 64, blockMs: 100 });
      // One typed message, then a burst of raw binary payloads (pipelined XADDs in one write).
      expect(await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: 42n }))).toBe(true);
      const sent = await Promise.all(Array.from({ length: 50 }, (_, i) => oona.publish(BusMessageType.SYSTEM_STATE, BINARY, { attributes: { i: String(i) } })));
      expect(sent.every(Boolean)).toBe(true);
      await until(() => seen.length >= 51, 5_000);
      await sub.stop();
      expect(fromBinary(SystemStatePacketSchema, seen[0]!.payload).globalStep).toBe(42n);
      expect(seen.slice(1).map((m) => m.attributes.i)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
      for (const m of seen.slice(1)) expect(Buffer.from(m.payload).equals(Buffer.from(BINARY))).toBe(true);
      await run.stop();
    });

    it('takes the CA as PEM text too', async () => {
      const esper = esperWith(redis.url(), { tlsCa: readFileSync(redis.file('ca.crt'), 'utf8') });
      const run = await esper.start();
      const oona = run.resolve(Tokens.Oona);
      expect(await oona.publish(BusMessageType.SYSTEM_STATE, BINARY)).toBe(true);
      const seen: OonaMessage[] = [];
      await oona.consume((m) => void seen.push(m));
      expect(Buffer.from(seen[0]!.payload).equals(Buffer.from(BINARY))).toBe(true);
      await run.stop();
    });

    it('a wrong password fails start within the start timeout, naming the masked URL and never the password', async () => {
      const wrong = 'wrong-Pa55-never-printed';
      const esper = esperWith(redis.url(USER, wrong), { tlsCaFile: redis.file('ca.crt') });
      const t0 = Date.now();
      const error = await esper.start().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(Date.now() - t0).toBeLessThan(5_000);
      const text = `${String(error)} ${String(error?.cause)} ${JSON.stringify(error)}`;
      expect((error?.cause as { code?: string } | undefined)?.code).toBe('ESPER_OONA_UNREACHABLE');
      expect(text).toContain('refused the credentials');
      expect(text).toContain(`rediss://***:***@127.0.0.1:${redis.port}/0`);
      expect(text).toMatch(/WRONGPASS|invalid username-password/);
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(PASS);
      expect(lines.join('\n')).not.toContain(wrong);
    });

    it('verifies the server certificate: without the CA the connection is refused', async () => {
      const esper = esperWith(redis.url());
      const error = await esper.start().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      const text = `${String(error)} ${String(error?.cause)}`;
      expect((error?.cause as { code?: string } | undefined)?.code).toBe('ESPER_OONA_UNREACHABLE');
      expect(text).toContain('failed the TLS handshake');
      expect(text).toMatch(/certificate/i);
      expect(text).not.toContain(PASS);
    });

    it('presents a client certificate when the server requires one (tls-auth-clients yes)', async () => {
      // The backend has no CONFIG command; a plain node-redis client on the admin user sets it.
      const { createClient } = await import('redis');
      const client = createClient({ url: redis.url(ADMIN, ADMIN_PASS), socket: { tls: true, ca: readFileSync(redis.file('ca.crt')), reconnectStrategy: false } });
      client.on('error', () => undefined);
      await client.connect();
      await client.sendCommand(['CONFIG', 'SET', 'tls-auth-clients', 'yes']);
      try {
        const withCert = esperWith(redis.url(), {
          tlsCaFile: redis.file('ca.crt'),
          tlsCertFile: redis.file('client.crt'),
          tlsKey: readFileSync(redis.file('client.key'), 'utf8'),
        });
        const run = await withCert.start();
        expect(await run.resolve(Tokens.Oona).publish(BusMessageType.SYSTEM_STATE, BINARY)).toBe(true);
        await run.stop();
        const key = readFileSync(redis.file('client.key'), 'utf8');
        expect(lines.join('\n')).not.toContain(key.split('\n')[1]!);
        expect(JSON.stringify(withCert.config)).not.toContain(key.split('\n')[1]!);

        const without = esperWith(redis.url(), { tlsCaFile: redis.file('ca.crt') });
        const error = await without.start().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect((error?.cause as { code?: string } | undefined)?.code).toBe('ESPER_OONA_UNREACHABLE');
        expect(String(error?.cause)).toContain('requires a client certificate');
      } finally {
        await client.sendCommand(['CONFIG', 'SET', 'tls-auth-clients', 'no']);
        client.destroy();
      }
    });

    it('rejects TLS material on a redis:// URL at config time', () => {
      expect(() => esperWith(`redis://127.0.0.1:${redis.port}/0`, { tlsCaFile: redis.file('ca.crt') })).toThrow(/rediss:\/\//);
    });
  });

  it('a direct client shows only the masked URL in its errors', async () => {
    const backend = new RedisStreamBackend({ url: redis.url(USER, 'bad-Pa55-never-printed'), tlsCaFile: redis.file('ca.crt'), startTimeoutMs: 1_000 });
    const error = await backend.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(String(error)).toContain(`rediss://***:***@127.0.0.1:${redis.port}/0`);
    expect(String(error)).not.toContain('bad-Pa55-never-printed');
    await backend.close();
  });
});
