import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether a `redis-server` binary is on the PATH. */
export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Whether a Redis server on 127.0.0.1:`port` answers `PING` with `+PONG` within `timeoutMs`
 * (a server still loading its data answers `-LOADING`, which is not ready). Asynchronous: a test
 * that publishes meanwhile is not held up, as `spawnSync('redis-cli')` would hold it.
 */
export function pingOnce(port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * A redis-server child owned by the test (never the shared one). It keeps an append-only file
 * with `appendfsync always` in a temp dir, so that a crash (SIGKILL) and restart keep every
 * entry and consumer-group state the server acknowledged — as a durable production server would.
 */
export class OwnRedis {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'oona-fault-'));
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** Starts the server (loading what its append-only file holds) and resolves once it answers PING. */
  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 250; i++) {
      if (await pingOnce(this.port)) return;
      await sleep(10);
    }
    throw new Error(`own redis-server on ${this.port} did not start`);
  }

  /** SIGKILL: the server dies without a chance to write or answer anything more. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
