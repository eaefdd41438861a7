import { create, fromBinary } from '@bufbuild/protobuf';
import { createEsper, ManualClock, Tokens, type Logger, type OonaMessage } from '@esper/core';
import { SystemStatePacketSchema } from '@esper/core/leyline';
import { describeOonaContract } from '@esper/core/testing';
import { describe, expect, it } from 'vitest';
import { MemoryBroker, oonaMemory } from '../src/index.js';

function silentLogger(): Logger {
  const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
  return logger;
}

// The shared contract suite, on the broker type this plugin uses.
describeOonaContract('@esper/plugin-oona-memory', ({ clock }) => {
  const broker = new MemoryBroker(clock);
  return Promise.resolve({ backend: () => broker.backend(), cleanup: () => Promise.resolve() });
});

describe('oonaMemory plugin', () => {
  it('provides Oona in a run: env overrides, groups created at start, closed at stop', async () => {
    const clock = new ManualClock(Date.now());
    const esper = createEsper(
      { plugins: [oonaMemory({ broker: 'plugin-test-1', group: 'trainer' })], oona: { retryMaxAttempts: 3 } },
      { env: { OONA_NORMAL_STREAM: 'pt.normal', OONA_EMERGENCY_MAX_PER_MIN: '7' }, clock, logger: silentLogger() },
    );
    const run = await esper.start();
    const oona = run.resolve(Tokens.Oona);
    expect(oona.streams.normal).toBe('pt.normal');
    expect(oona.group).toBe('trainer');
    expect(await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: 4n }))).toBe(true);
    const seen: OonaMessage[] = [];
    expect(await oona.consume((m) => void seen.push(m))).toBe(1);
    expect(fromBinary(SystemStatePacketSchema, seen[0]!.payload).globalStep).toBe(4n);
    await run.stop();
    expect(oona.health().closed).toBe(true);
    MemoryBroker.forget('plugin-test-1');
  });

  it('signs with the kernel Signer when ESPER_LEYLINE_SECRET is configured', async () => {
    const esper = createEsper(
      { plugins: [oonaMemory({ broker: 'plugin-test-2' })] },
      { env: { ESPER_LEYLINE_SECRET: 'plugin-secret' }, clock: new ManualClock(Date.now()), logger: silentLogger() },
    );
    const run = await esper.start();
    const oona = run.resolve(Tokens.Oona);
    await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1 }));
    const [entry] = await MemoryBroker.named('plugin-test-2').backend().range(oona.streams.normal, '-', '+', 1);
    expect(new TextDecoder().decode(entry!.fields.signature)).toHaveLength(44);
    await run.stop();
    MemoryBroker.forget('plugin-test-2');
  });

  it('rejects unknown config keys', () => {
    expect(() =>
      createEsper({ plugins: [oonaMemory()], oona: { nope: 1 } }, { env: {}, logger: silentLogger() }),
    ).toThrow(/nope/);
  });
});
