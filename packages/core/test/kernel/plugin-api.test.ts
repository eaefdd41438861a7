import { create } from '@bufbuild/protobuf';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  createEsper,
  definePlugin,
  definePort,
  HookFailedError,
  HookTimeoutError,
  LeylineSigner,
  ManualClock,
  MultiPortResolveError,
  PortConflictError,
  PortNameError,
  ProvidesMismatchError,
  TeardownError,
  Tokens,
  UnknownHookError,
  commandSigningPayload,
  type Clock,
  type HookContext,
  type Resolver,
  type SetupContext,
  type TelemetrySink,
} from '../../src/index.js';
import { AdaptationCommandSchema, MessagePriority, SystemStatePacketSchema, TelemetryPacketSchema } from '../../src/leyline/index.js';
import { silentLogger, startTestRun } from '../../src/testing/index.js';
import { barePlugin, GreeterPort, type Greeter } from './fixtures.js';

const quiet = () => ({ env: {}, logger: silentLogger(), clock: new ManualClock() });
const packet = (id: string) => create(TelemetryPacketSchema, { packetId: id, sourceSubsystem: 'test' });

/** A TelemetrySink plugin that records what it receives into `into` (or throws when `fail`). */
function recordingSink(name: string, into: string[], fail = false) {
  return definePlugin({
    name,
    configKey: name,
    provides: [Tokens.TelemetrySink],
    setup(ctx) {
      const sink: TelemetrySink = {
        emit: (p) => {
          if (fail) throw new Error(`${name} is broken`);
          into.push(`${name}:${p.packetId}`);
        },
        flush: async () => void into.push(`${name}:flush`),
      };
      ctx.provideValue(Tokens.TelemetrySink, sink);
    },
  });
}

describe('finding 1: per-run instances', () => {
  it('calls setup once per run, so state closed over by the hooks belongs to that run', async () => {
    const plugin = definePlugin({
      name: 'acme-counter',
      configKey: 'counter',
      provides: [GreeterPort],
      setup(ctx) {
        let epochs = 0;
        ctx.provide(GreeterPort, () => ({ greet: (n) => `${n}:${epochs}:${ctx.run.runId}` }));
        return { onEpochEnd: () => void (epochs += 1) };
      },
    });
    const esper = createEsper({ plugins: [plugin] }, quiet());
    const a = await esper.start({ runId: 'a' });
    const b = await esper.start({ runId: 'b' });
    await a.lifecycle.emit('epoch:end', { runId: 'a', epoch: 0, packet: create(SystemStatePacketSchema) });
    await a.lifecycle.emit('epoch:end', { runId: 'a', epoch: 1, packet: create(SystemStatePacketSchema) });
    expect(a.resolve(GreeterPort).greet('x')).toBe('x:2:a');
    expect(b.resolve(GreeterPort).greet('x')).toBe('x:0:b');
    await a.stop();
    await b.stop();
  });

  it('runs onDispose callbacks last in first out, after stop and dispose hooks, each under its timeout', async () => {
    const log: string[] = [];
    const plugin = definePlugin({
      name: 'acme-resources',
      configKey: 'resources',
      hookTimeoutsMs: { dispose: 30 },
      setup(ctx) {
        ctx.onDispose(() => void log.push('close first-acquired'));
        ctx.onDispose(() => new Promise<void>(() => {})); // hangs: cut by the timeout
        ctx.onDispose(async () => void log.push('close last-acquired'));
        return { stop: () => void log.push('stop'), dispose: () => void log.push('dispose') };
      },
    });
    const run = await createEsper({ plugins: [plugin] }, quiet()).start();
    const error = (await run.stop().catch((e: unknown) => e)) as TeardownError;
    expect(log).toEqual(['stop', 'dispose', 'close last-acquired', 'close first-acquired']);
    expect(error).toBeInstanceOf(TeardownError);
    expect(error.errors).toHaveLength(1);
    expect(error.errors[0]).toBeInstanceOf(HookTimeoutError);
    expect((error.errors[0] as Error).message).toMatch(/"acme-resources" did not finish its onDispose hook within 30 ms/);
  });

  it('releases what setup acquired when a later plugin fails to boot', async () => {
    const log: string[] = [];
    const holder = definePlugin({
      name: 'holder',
      configKey: 'holder',
      setup(ctx) {
        ctx.onDispose(() => void log.push('holder released'));
      },
    });
    const failing = definePlugin({
      name: 'failing',
      configKey: 'failing',
      setup() {
        throw new Error('no licence');
      },
    });
    const error = await createEsper({ plugins: [holder, failing] }, quiet()).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookFailedError);
    expect((error as Error).message).toMatch(/"failing" failed in its setup hook: no licence/);
    expect(log).toEqual(['holder released']);
  });
});

describe('finding 2: typed resolution and checked provides', () => {
  it('types resolve by the token and keeps the container out of contexts', () => {
    const r = {} as Resolver;
    expectTypeOf(() => r.resolve(Tokens.Clock)).returns.toEqualTypeOf<Clock>();
    expectTypeOf(() => r.resolveAll(Tokens.TelemetrySink)).returns.toEqualTypeOf<TelemetrySink[]>();
    expectTypeOf(() => r.tryResolve(GreeterPort)).returns.toEqualTypeOf<Greeter | undefined>();
    expectTypeOf<HookContext<unknown>>().not.toHaveProperty('container');
    expectTypeOf<SetupContext<unknown>>().not.toHaveProperty('container');
    expectTypeOf<SetupContext<unknown>['provide']>().parameter(1).parameter(0).toEqualTypeOf<Resolver>();
    const typed = () => {
      // @ts-expect-error a Clock is not a number
      const x: number = r.resolve(Tokens.Clock);
      return x;
    };
    expect(typeof typed).toBe('function');
  });

  it('fails boot when a plugin declares a port it did not bind, even if another plugin bound one first', async () => {
    const into: string[] = [];
    const liar = definePlugin({
      name: 'liar-sink',
      configKey: 'liar',
      provides: [Tokens.TelemetrySink],
      setup() {},
    });
    const error = await createEsper({ plugins: [recordingSink('real', into), liar] }, quiet())
      .start()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvidesMismatchError);
    expect((error as Error).message).toMatch(/"liar-sink" declares that it provides TelemetrySink but its setup\(\) did not bind it/);
  });

  it('resolves the one provider of a single port whatever the config order', async () => {
    const greeter = barePlugin('greeter-provider', { provides: [GreeterPort] });
    const sink = recordingSink('some-sink', []);
    for (const plugins of [[greeter, sink], [sink, greeter]]) {
      const run = await createEsper({ plugins }, quiet()).start();
      expect(run.resolve(GreeterPort)).toEqual({ from: 'greeter-provider' });
      expect(run.resolveAll(Tokens.TelemetrySink)).toHaveLength(1);
      await run.stop();
    }
  });

  it('refuses resolve() of a multi port instead of picking one provider', async () => {
    const run = await createEsper({ plugins: [recordingSink('s1', []), recordingSink('s2', [])] }, quiet()).start();
    expect(() => run.resolve(Tokens.TelemetrySink)).toThrowError(MultiPortResolveError);
    expect(() => run.resolve(Tokens.TelemetrySink)).toThrowError(/Use resolveAll/);
    expect(run.tryResolve(Tokens.Oona)).toBeUndefined();
    await run.stop();
  });

  it('gives factories a resolver, so a provider may depend on a port bound by a later plugin', async () => {
    const ShouterPort = definePort<{ shout(n: string): string }>('test.LateShouter', { description: 'test' });
    const early = definePlugin({
      name: 'early',
      configKey: 'early',
      provides: [ShouterPort],
      requires: [GreeterPort],
      setup(ctx) {
        ctx.provide(ShouterPort, (r) => ({ shout: (n) => r.resolve(GreeterPort).greet(n).toUpperCase() }));
      },
    });
    const late = definePlugin({
      name: 'late',
      configKey: 'late',
      provides: [GreeterPort],
      setup(ctx) {
        ctx.provide(GreeterPort, () => ({ greet: (n) => `hi ${n}` }));
      },
    });
    const run = await createEsper({ plugins: [early, late] }, quiet()).start();
    expect(run.resolve(ShouterPort).shout('ada')).toBe('HI ADA');
    await run.stop();
  });
});

describe('finding 3: checked metadata', () => {
  it('throws on a conflicting port redefinition and accepts the same definition again', () => {
    const first = definePort<number>('acme.Conflicted', { description: 'one' });
    expect(definePort<number>('acme.Conflicted', { description: 'two copies of one package' })).toBe(first);
    expect(() => definePort('acme.Conflicted', { multi: true, description: 'now multi' })).toThrowError(PortConflictError);
    const error = (() => {
      try {
        definePort('Oona', { multi: true, description: 'hijack' });
      } catch (e) {
        return e as PortConflictError;
      }
    })();
    expect(error).toBeInstanceOf(PortConflictError);
    expect(error?.code).toBe('ESPER_KERNEL_PORT_CONFLICT');
    expect(error?.message).toMatch(/"Oona" is already declared as single-provider, kernel default|"Oona" is already declared as single-provider/);
  });

  it('requires third-party port names to be namespaced', () => {
    expect(() => definePort('MyPort', { description: 'x' })).toThrowError(PortNameError);
    expect(() => definePort('Clock', { description: 'x' })).toThrowError(/no namespace/);
    expect(() => definePort('acme.MyPort', { description: 'x' })).not.toThrow();
    expect(() => definePort('@acme/plugin-x:MyPort', { description: 'x' })).not.toThrow();
    expect(() => definePort('acme-plugin:MyPort', { description: 'x' })).not.toThrow();
  });

  it('keeps function-valued factory options as given (no structuredClone)', async () => {
    const schema = z.strictObject({
      format: z.custom<(n: number) => string>((v) => typeof v === 'function').optional(),
      label: z.string().default('n'),
    });
    const format = (n: number) => `#${n}`;
    const plugin = (options: Partial<z.input<typeof schema>>) =>
      definePlugin({
        name: 'acme-formatter',
        configKey: 'formatter',
        configSchema: schema,
        factoryOptions: options,
        provides: [GreeterPort],
        setup(ctx) {
          ctx.provideValue(GreeterPort, { greet: (n) => `${ctx.options.label}${ctx.options.format?.(n.length)}` });
        },
      });
    const run = await createEsper({ plugins: [plugin({ format })], formatter: { label: 'len' } }, quiet()).start();
    expect(run.resolve(GreeterPort).greet('abc')).toBe('len#3');
    await run.stop();
  });

  it('rejects unknown hook names at definePlugin and at setup, listing the valid ones', async () => {
    const js = (definition: Record<string, unknown>) => () =>
      definePlugin(definition as unknown as Parameters<typeof definePlugin>[0]);
    expect(js({ name: 'old', configKey: 'old', register() {}, setup() {} })).toThrowError(UnknownHookError);
    expect(js({ name: 'typo', configKey: 'typo', setup() {}, onEpochEnd() {} })).toThrowError(
      /unknown member "onEpochEnd" in its definition\. Valid names there: name, configKey/,
    );
    expect(js({ name: 't', configKey: 't', setup() {}, hookTimeoutsMs: { strat: 10 } })).toThrowError(
      /unknown member "strat" in its hookTimeoutsMs\. Valid names there: setup, init, start, stop, dispose, onEpochStart/,
    );
    expect(js({ name: 'nosetup', configKey: 'nosetup' })).toThrowError(/setup\(ctx\)/);

    const typo = definePlugin({
      name: 'typo-instance',
      configKey: 'typoInstance',
      setup: () => ({ onEpochEnded: () => {} }) as never,
    });
    const error = await createEsper({ plugins: [typo] }, quiet()).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownHookError);
    expect((error as Error).message).toMatch(/"typo-instance" has an unknown member "onEpochEnded" in the object its setup\(\) returned/);
    expect((error as Error).message).toContain('onEpochEnd, onSeedStageChanged, onEmergencyRaised, onEmergencyCleared, onRunEnd');
  });
});

describe('finding 4: awaited lifecycle events', () => {
  it('awaits every hook in boot order before the bus listeners and the caller go on', async () => {
    const log: string[] = [];
    const slowHook = (name: string, ms: number) =>
      barePlugin(name, {
        hooks: {
          onEpochEnd: async ({ epoch }) => {
            log.push(`${name}:begin:${epoch}`);
            await new Promise((r) => setTimeout(r, ms));
            log.push(`${name}:end:${epoch}`);
          },
        },
      });
    const run = await createEsper({ plugins: [slowHook('first', 20), slowHook('second', 1)] }, quiet()).start();
    run.events.on('epoch:end', ({ epoch }) => void log.push(`bus:${epoch}`));
    await run.lifecycle.emit('epoch:end', { runId: run.runId, epoch: 7, packet: create(SystemStatePacketSchema) });
    log.push('after emit');
    expect(log).toEqual(['first:begin:7', 'first:end:7', 'second:begin:7', 'second:end:7', 'bus:7', 'after emit']);
    await run.stop();
  });

  it('times a hook out with HookTimeoutError, still runs the other hooks, and throws the first failure', async () => {
    const log: string[] = [];
    let aborted: AbortSignal | undefined;
    const hanging = barePlugin('hanging', {
      hookTimeoutsMs: { onSeedStageChanged: 25 },
      hooks: {
        onSeedStageChanged: (_payload, ctx) => {
          aborted = ctx.signal;
          return new Promise<void>(() => {});
        },
      },
    });
    const failing = barePlugin('failing', {
      hooks: {
        onSeedStageChanged: () => {
          throw new Error('report disk full');
        },
      },
    });
    const after = barePlugin('after', {
      hooks: { onSeedStageChanged: ({ seedId, reason }) => void log.push(`${seedId}:${reason}`) },
    });
    const run = await createEsper({ plugins: [hanging, failing, after] }, quiet()).start();
    const error = await run.lifecycle
      .emit('seed:stage-changed', { seedId: 'slot-1', from: 1, to: 2, epoch: 3, blueprintId: 'bp', reason: 'G0 passed' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookTimeoutError);
    expect((error as Error).message).toMatch(/"hanging" did not finish its onSeedStageChanged hook within 25 ms/);
    expect(aborted?.aborted).toBe(true);
    expect(log).toEqual(['slot-1:G0 passed']);
    await run.stop();
  });

  it('fires run:end to onRunEnd hooks', async () => {
    const seen: string[] = [];
    const run = await createEsper(
      { plugins: [barePlugin('reporter', { hooks: { onRunEnd: ({ outcome, epochs }) => void seen.push(`${outcome}@${epochs}`) } })] },
      quiet(),
    ).start();
    await run.lifecycle.emit('run:end', { runId: run.runId, epochs: 4, outcome: 'completed' });
    expect(seen).toEqual(['completed@4']);
    await run.stop();
  });
});

describe('finding 9: telemetry fan-out', () => {
  it('delivers each packet emitted on Tokens.Telemetry to every sink, isolating a failing one', async () => {
    const into: string[] = [];
    await using t = await startTestRun({
      plugins: [recordingSink('s1', into), recordingSink('broken', into, true), recordingSink('s2', into)],
    });
    const announced: string[] = [];
    t.run.events.on('telemetry:emitted', ({ packet: p }) => void announced.push(p.packetId));
    const telemetry = t.resolve(Tokens.Telemetry);
    await telemetry.emit(packet('p1'), MessagePriority.NORMAL);
    await telemetry.emit(packet('p2'), MessagePriority.HIGH);
    await telemetry.flush();
    expect(into).toEqual(['s1:p1', 's2:p1', 's1:p2', 's2:p2', 's1:flush', 'broken:flush', 's2:flush']);
    expect(announced).toEqual(['p1', 'p2']);
    expect(t.telemetry.map((c) => [c.packet.packetId, c.priority])).toEqual([
      ['p1', MessagePriority.NORMAL],
      ['p2', MessagePriority.HIGH],
    ]);
    expect(t.logged('warn', 'telemetry sink emit failed').map((l) => l.fields.provider)).toEqual(['broken', 'broken']);
  });
});

describe('Tokens.CommandSigner', () => {
  const command = () => create(AdaptationCommandSchema, { targetSeedId: 'seed-1' });

  it('is always present: a per-run key without a secret, and replays are refused', async () => {
    await using t = await startTestRun({ plugins: [] });
    const signer = t.resolve(Tokens.CommandSigner);
    expect(signer.ephemeral).toBe(true);
    const signed = signer.sign(command());
    expect(signed.commandId).not.toBe('');
    expect(signer.verify(signed)).toEqual({ ok: true });
    expect(signer.verify(signed)).toEqual({ ok: false, reason: 'nonce_replayed' });
    expect(signer.verify({ ...signer.sign(command()), targetSeedId: 'seed-2' })).toEqual({ ok: false, reason: 'invalid_signature' });
    t.clock.advance(61_000);
    const old = signer.sign(command());
    t.clock.advance(61_000);
    expect(signer.verify(old)).toEqual({ ok: false, reason: 'stale_command' });
  });

  it('signs with ESPER_LEYLINE_SECRET when configured, so other processes can verify', async () => {
    const secret = 's'.repeat(32);
    await using t = await startTestRun({ plugins: [], env: { ESPER_LEYLINE_SECRET: secret } });
    const signer = t.resolve(Tokens.CommandSigner);
    expect(signer.ephemeral).toBe(false);
    const signed = signer.sign(command());
    expect(new LeylineSigner(secret).verify(commandSigningPayload(signed), signed.annotations.signature!)).toBe(true);
  });
});

describe('@esper/core/testing harness', () => {
  it('boots with a manual clock and a silent logger, and fires epochs', async () => {
    const seen: string[] = [];
    const watcher = barePlugin('watcher', {
      hooks: {
        onEpochStart: ({ epoch }, ctx) => void seen.push(`start ${epoch} @${ctx.clock.nowMs()}`),
        onEpochEnd: ({ epoch, packet: p }) => void seen.push(`end ${epoch} packet ${p.currentEpoch}`),
      },
    });
    const t = await startTestRun({ plugins: [watcher], clock: new ManualClock(5_000) });
    t.clock.advance(10);
    await t.epoch(2);
    expect(seen).toEqual(['start 2 @5010', 'end 2 packet 2']);
    expect(t.info.runId).toBe('test-run');
    expect(t.logged('info', 'run started')).toHaveLength(1);
    await t.stop();
    expect(t.run.running).toBe(false);
  });
});

