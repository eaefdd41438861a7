import { describe, expect, it } from 'vitest';
import {
  createEsper,
  DependencyCycleError,
  DuplicateProviderError,
  HookFailedError,
  HookTimeoutError,
  ManualClock,
  MissingProviderError,
  ProvidesMismatchError,
  PortUnavailableError,
  TeardownError,
  Tokens,
  type AnyPlugin,
} from '../../src/index.js';
import { barePlugin, GreeterPort, greeterPlugin, ShouterPort } from './fixtures.js';
// tsyringe needs the reflect polyfill that @esper/core loads first.
import { container as globalContainer } from 'tsyringe';

const quiet = { env: {}, logger: silentLogger(), clock: new ManualClock() };

function silentLogger() {
  const logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: () => {},
    child: () => logger,
  };
  return logger;
}

describe('lifecycle order', () => {
  it('runs init/start in dependency order and stop/dispose in reverse', async () => {
    const log: string[] = [];
    const consumer = barePlugin('consumer', { requires: [GreeterPort], log });
    const independent = barePlugin('independent', { log });
    const provider = barePlugin('provider', { provides: [GreeterPort], log });
    const esper = createEsper({ plugins: [consumer, independent, provider] }, quiet);

    expect(esper.plan.order.map((p) => p.plugin.name)).toEqual(['independent', 'provider', 'consumer']);
    const run = await esper.start();
    expect(run.running).toBe(true);
    await run.stop();
    expect(log).toEqual([
      'independent:init', 'provider:init', 'consumer:init',
      'independent:start', 'provider:start', 'consumer:start',
      'consumer:stop', 'provider:stop', 'independent:stop',
      'consumer:dispose', 'provider:dispose', 'independent:dispose',
    ]);
  });

  it('orders after optional dependencies when they are present', () => {
    const a = barePlugin('a', { optionalRequires: [ShouterPort] });
    const b = barePlugin('b', { provides: [ShouterPort] });
    expect(createEsper({ plugins: [a, b] }, quiet).plan.order.map((p) => p.plugin.name)).toEqual(['b', 'a']);
    expect(createEsper({ plugins: [a] }, quiet).plan.order.map((p) => p.plugin.name)).toEqual(['a']);
  });

  it('stop is idempotent and a stopped run refuses to resolve', async () => {
    const log: string[] = [];
    const run = await createEsper({ plugins: [barePlugin('p', { log })] }, quiet).start();
    await Promise.all([run.stop(), run.stop()]);
    await run.stop();
    expect(log.filter((l) => l === 'p:stop')).toHaveLength(1);
    expect(() => run.resolve(Tokens.Clock)).toThrowError(/has been stopped/);
  });

  it('supports await using', async () => {
    const log: string[] = [];
    {
      await using run = await createEsper({ plugins: [barePlugin('p', { log })] }, quiet).start();
      expect(run.running).toBe(true);
    }
    expect(log.at(-1)).toBe('p:dispose');
  });
});

describe('hook timeouts', () => {
  it('fails a hook that exceeds its timeout, aborts its signal, and rolls back', async () => {
    const log: string[] = [];
    let seenSignal: AbortSignal | undefined;
    const slow = barePlugin('slow', {
      hookTimeoutsMs: { start: 20 },
      hooks: {
        init: () => void log.push('slow:init'),
        start: (ctx) => {
          seenSignal = ctx.signal;
          return new Promise<void>(() => {});
        },
        dispose: () => void log.push('slow:dispose'),
      },
    });
    const first = barePlugin('first', { log });
    const error = await createEsper({ plugins: [first, slow] }, quiet)
      .start()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookTimeoutError);
    expect((error as HookTimeoutError).code).toBe('ESPER_KERNEL_HOOK_TIMEOUT');
    expect((error as HookTimeoutError).message).toMatch(/"slow" did not finish its start hook within 20 ms/);
    expect(seenSignal?.aborted).toBe(true);
    expect(log).toEqual(['first:init', 'slow:init', 'first:start', 'first:stop', 'slow:dispose', 'first:dispose']);
  });

  it('uses kernel.hookTimeoutMs as the default', async () => {
    const slow = barePlugin('slow', { hooks: { init: () => new Promise<void>(() => {}) } });
    await expect(createEsper({ plugins: [slow], kernel: { hookTimeoutMs: 15 } }, quiet).start()).rejects.toThrowError(
      /within 15 ms/,
    );
  });
});

describe('partial-start rollback', () => {
  it('stops what started and disposes what initialised when a start fails', async () => {
    const log: string[] = [];
    const boom = barePlugin('boom', {
      hooks: {
        init: () => void log.push('boom:init'),
        start: () => {
          throw new Error('port 9 is busy');
        },
        stop: () => void log.push('boom:stop'),
        dispose: () => void log.push('boom:dispose'),
      },
    });
    const error = await createEsper({ plugins: [barePlugin('a', { log }), boom, barePlugin('c', { log })] }, quiet)
      .start()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookFailedError);
    expect((error as HookFailedError).code).toBe('ESPER_KERNEL_HOOK_FAILED');
    expect((error as Error).message).toContain('port 9 is busy');
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(log).toEqual([
      'a:init', 'boom:init', 'c:init',
      'a:start',
      'a:stop',
      'c:dispose', 'boom:dispose', 'a:dispose',
    ]);
  });

  it('rolls back initialised plugins when an init fails', async () => {
    const log: string[] = [];
    const bad = barePlugin('bad', { hooks: { init: () => Promise.reject(new Error('no disk')) } });
    await expect(createEsper({ plugins: [barePlugin('a', { log }), bad] }, quiet).start()).rejects.toThrowError(/no disk/);
    expect(log).toEqual(['a:init', 'a:dispose']);
  });

  it('runs every teardown step and reports all failures together', async () => {
    const log: string[] = [];
    const failing = (name: string) =>
      barePlugin(name, {
        hooks: {
          stop: () => {
            throw new Error(`${name} stop failed`);
          },
          dispose: () => void log.push(`${name}:dispose`),
        },
      });
    const run = await createEsper({ plugins: [failing('x'), failing('y')] }, quiet).start();
    const error = await run.stop().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TeardownError);
    expect((error as TeardownError).errors).toHaveLength(2);
    expect(log).toEqual(['y:dispose', 'x:dispose']);
  });
});

describe('providers', () => {
  it('rejects a required port that nothing provides, naming plugin and port', () => {
    const error = (() => {
      try {
        createEsper({ plugins: [barePlugin('needy', { requires: [GreeterPort] })] }, quiet);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MissingProviderError);
    expect((error as MissingProviderError).code).toBe('ESPER_KERNEL_MISSING_PROVIDER');
    expect((error as Error).message).toMatch(/"needy" requires port test.Greeter, but nothing provides it/);
  });

  it('rejects two providers of a single-provider port', () => {
    expect(() =>
      createEsper({ plugins: [barePlugin('one', { provides: [GreeterPort] }), barePlugin('two', { provides: [GreeterPort] })] }, quiet),
    ).toThrowError(DuplicateProviderError);
  });

  it('allows several providers of a multi port and resolves them all', async () => {
    const sink = (name: string): AnyPlugin => barePlugin(name, { provides: [Tokens.TelemetrySink] });
    const run = await createEsper({ plugins: [sink('s1'), sink('s2')] }, quiet).start();
    expect(run.resolveAll(Tokens.TelemetrySink)).toEqual([{ from: 's1' }, { from: 's2' }]);
    await run.stop();
  });

  it('detects dependency cycles', () => {
    const a = barePlugin('a', { provides: [GreeterPort], requires: [ShouterPort] });
    const b = barePlugin('b', { provides: [ShouterPort], requires: [GreeterPort] });
    const error = (() => {
      try {
        createEsper({ plugins: [a, b] }, quiet);
      } catch (e) {
        return e;
      }
    })() as DependencyCycleError;
    expect(error).toBeInstanceOf(DependencyCycleError);
    expect(error.cycle).toEqual(['a', 'b', 'a']);
  });

  it('requires a declared provision to be bound, and a binding to be declared', async () => {
    const liar = barePlugin('liar', { provides: [GreeterPort], bind: [] });
    await expect(createEsper({ plugins: [liar] }, quiet).start()).rejects.toThrowError(ProvidesMismatchError);
    const sneaky = barePlugin('sneaky', { bind: [ShouterPort] });
    await expect(createEsper({ plugins: [sneaky] }, quiet).start()).rejects.toThrowError(/without declaring it/);
  });

  it('names the missing signing secret when a plugin requires the Signer', () => {
    expect(() => createEsper({ plugins: [barePlugin('signed', { requires: [Tokens.Signer] })] }, quiet)).toThrowError(
      /ESPER_LEYLINE_SECRET/,
    );
    const esper = createEsper(
      { plugins: [barePlugin('signed', { requires: [Tokens.Signer] })] },
      { ...quiet, env: { ESPER_LEYLINE_SECRET: 'k'.repeat(32) } },
    );
    expect(esper.plan.bindings.find((b) => b.port === 'Signer')?.providers).toEqual(['kernel']);
  });

  it('throws a typed error when resolving a port nobody provides', async () => {
    const run = await createEsper({ plugins: [] }, quiet).start();
    expect(() => run.resolve(Tokens.Oona)).toThrowError(PortUnavailableError);
    await run.stop();
  });
});

describe('containers', () => {
  it('gives every run its own child container and leaves the global container untouched', async () => {
    const esper = createEsper({ plugins: [greeterPlugin()] }, quiet);
    const run1 = await esper.start();
    const run2 = await esper.start();
    const g1 = run1.resolve(GreeterPort);
    expect(run1.resolve(GreeterPort)).toBe(g1); // one instance per run
    expect(run2.resolve(GreeterPort)).not.toBe(g1);
    expect(run1.runId).not.toBe(run2.runId);
    expect(globalContainer.isRegistered(GreeterPort, true)).toBe(false);
    expect(g1.greet('Ada')).toBe('hello, Ada');
    await run1.stop();
    await run2.stop();
  });

  it('provides the kernel defaults: clock, logger, events, signer when a secret is set', async () => {
    const clock = new ManualClock();
    const run = await createEsper({ plugins: [] }, { ...quiet, clock, env: { ESPER_LEYLINE_SECRET: 'secret-key-123' } }).start();
    expect(run.resolve(Tokens.Clock)).toBe(clock);
    const signer = run.resolve(Tokens.Signer);
    const bytes = new TextEncoder().encode('payload');
    expect(signer.verify(bytes, signer.sign(bytes))).toBe(true);
    expect(run.resolve(Tokens.Events)).toBe(run.events);
    await run.stop();
  });
});

describe('event hooks', () => {
  it('awaits on<Subject><Event> hooks of lifecycle events and isolates failing ones', async () => {
    const seen: number[] = [];
    const plugin = barePlugin('watcher', {
      hooks: {
        onEpochStart: (payload) => void seen.push(payload.epoch),
      },
    });
    const crashing = barePlugin('crashing', {
      hooks: {
        onEpochStart: () => {
          throw new Error('listener bug');
        },
      },
    });
    const run = await createEsper({ plugins: [crashing, plugin] }, quiet).start();
    const error = await run.lifecycle.emit('epoch:start', { runId: run.runId, epoch: 3 }).catch((e: unknown) => e);
    expect(seen).toEqual([3]);
    expect(error).toBeInstanceOf(HookFailedError);
    expect((error as HookFailedError).plugin).toBe('crashing');
    await run.stop();
    await expect(run.lifecycle.emit('epoch:start', { runId: run.runId, epoch: 4 })).rejects.toThrowError(/has been stopped/);
    expect(seen).toEqual([3]);
  });
});
