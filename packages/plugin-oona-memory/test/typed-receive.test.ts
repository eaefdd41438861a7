import { create } from '@bufbuild/protobuf';
import { createEsper, ManualClock, Tokens, type Logger, type OonaMessage, type OonaMessageOf } from '@esper/core';
import {
  BusEnvelopeSchema,
  BusMessageType,
  EmergencyLevel,
  EmergencySignalSchema,
  FieldReportSchema,
  SystemStatePacketSchema,
  TelemetryPacketSchema,
  type EmergencySignal,
  type FieldReport,
  type SystemStatePacket,
  type TelemetryPacket,
} from '@esper/core/leyline';
import { OonaUnroutableError } from '@esper/core/oona';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { MemoryBroker, oonaMemory } from '../src/index.js';

function silentLogger(): Logger {
  const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
  return logger;
}

// Issue 12, finding 5: a handler gets typed Leyline messages from the Oona port, without
// decoding bytes itself (no fromBinary, no @bufbuild/protobuf on the receiving side).
describe('typed receive through the Oona port of a run', () => {
  it('subscribe(schema, handler) hands the decoded message and its delivery to the handler', async () => {
    const broker = 'typed-receive-1';
    const run = await createEsper({ plugins: [oonaMemory({ broker })] }, { env: {}, clock: new ManualClock(Date.now()), logger: silentLogger() }).start();
    try {
      const oona = run.resolve(Tokens.Oona);
      const steps: bigint[] = [];
      let arrived!: () => void;
      const done = new Promise<void>((resolve) => (arrived = resolve));
      const sub = oona.subscribe(
        SystemStatePacketSchema,
        (state, delivery) => {
          expectTypeOf(state).toEqualTypeOf<SystemStatePacket>();
          expectTypeOf(delivery.decode).returns.toEqualTypeOf<SystemStatePacket>();
          expectTypeOf(delivery.attempt).toBeNumber();
          steps.push(state.globalStep);
          if (steps.length === 2) arrived();
        },
        { blockMs: 10 },
      );
      await oona.publishMessage(FieldReportSchema, create(FieldReportSchema, { reportId: 'not for this handler' }));
      await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: 11n }));
      await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: 12n }));
      await done;
      await sub.stop();
      expect(steps).toEqual([11n, 12n]);
      expect((await oona.metricsSnapshot()).consume_skipped).toBe(1);
    } finally {
      await run.stop();
      MemoryBroker.forget(broker);
    }
  });

  it("an untyped handler narrows on messageType, and decode() returns that type's message", async () => {
    const broker = 'typed-receive-2';
    const run = await createEsper({ plugins: [oonaMemory({ broker })] }, { env: {}, clock: new ManualClock(Date.now()), logger: silentLogger() }).start();
    try {
      const oona = run.resolve(Tokens.Oona);
      await oona.publishMessage(SystemStatePacketSchema, create(SystemStatePacketSchema, { version: 1, globalStep: 3n }));
      await oona.publishMessage(FieldReportSchema, create(FieldReportSchema, { reportId: 'r-9' }));
      const seen: string[] = [];
      await oona.consume((m: OonaMessage) => {
        switch (m.messageType) {
          case BusMessageType.SYSTEM_STATE: {
            const state = m.decode();
            expectTypeOf(state).toEqualTypeOf<SystemStatePacket>();
            seen.push(`state ${state.globalStep}`);
            break;
          }
          case BusMessageType.FIELD_REPORT: {
            const report = m.decode();
            expectTypeOf(report).toEqualTypeOf<FieldReport>();
            seen.push(`report ${report.reportId}`);
            break;
          }
          default:
            expectTypeOf(m.decode()).not.toEqualTypeOf<SystemStatePacket>();
        }
      });
      expect(seen).toEqual(['state 3', 'report r-9']);
    } finally {
      await run.stop();
      MemoryBroker.forget(broker);
    }
  });

  it('consume(schema, …) and consumeEmergencySignals are typed too; a schema no bus type carries is refused at compile time', async () => {
    const broker = 'typed-receive-3';
    const run = await createEsper({ plugins: [oonaMemory({ broker })] }, { env: {}, clock: new ManualClock(Date.now()), logger: silentLogger() }).start();
    try {
      const oona = run.resolve(Tokens.Oona);
      await oona.publishMessage(TelemetryPacketSchema, create(TelemetryPacketSchema, { packetId: 't-1', sourceSubsystem: 'test' }));
      await oona.publishEmergencySignal(create(EmergencySignalSchema, { version: 1, level: EmergencyLevel.HALT, reason: 'r', origin: 'tolaria' }));
      const packets: string[] = [];
      expect(
        await oona.consume(TelemetryPacketSchema, (packet) => {
          expectTypeOf(packet).toEqualTypeOf<TelemetryPacket>();
          packets.push(packet.packetId);
        }),
      ).toBe(1);
      expect(packets).toEqual(['t-1']);
      const reasons: string[] = [];
      await oona.consumeEmergencySignals((m) => {
        expectTypeOf(m).toEqualTypeOf<OonaMessageOf<BusMessageType.EMERGENCY_SIGNAL>>();
        expectTypeOf(m.decode()).toEqualTypeOf<EmergencySignal>();
        reasons.push(m.decode().reason);
      });
      expect(reasons).toEqual(['r']);
      // @ts-expect-error a BusEnvelope is not a payload that any bus message type carries
      await expect(oona.consume(BusEnvelopeSchema, () => undefined)).rejects.toThrow(OonaUnroutableError);
    } finally {
      await run.stop();
      MemoryBroker.forget(broker);
    }
  });
});
