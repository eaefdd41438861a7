// Reference §2.5: the realistic fixtures round-trip and stay within the wire-size budgets.
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { buildTelemetryPacket } from '../../src/telemetry/builder.js';
import {
  AdaptationCommandSchema,
  BlueprintDescriptorSchema,
  BusEnvelopeSchema,
  BusMessageType,
  decodeMessage,
  FieldReportSchema,
  SystemStatePacketSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
  HealthStatus,
} from '../../src/leyline/index.js';
import { blueprintFixture, commandFixture, fieldReportFixture, FIXTURE_NOW_MS, statePacketFixture } from './fixtures.js';
import { prng } from './prng.js';

/** Encodes, decodes, and checks that re-encoding gives the same bytes; returns the bytes and the copy. */
function roundTrip<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): { bytes: Uint8Array; back: MessageShape<Desc> } {
  const bytes = toBinary(schema, message);
  const back = decodeMessage(schema, bytes);
  expect(toBinary(schema, back)).toEqual(bytes);
  return { bytes, back };
}

/**
 * The builder-made packet of §2.5: 4 metrics with units, 1 event with 1 attribute, HEALTHY
 * "stable", indicator epoch=3 (plus the builder's `priority` indicator). Metric names are short,
 * as in the reference fixture: with subsystem-prefixed names (`tolaria.train.loss`) the same
 * packet is 296 B, over the 280 B design target.
 */
function builtTelemetryPacket() {
  return buildTelemetryPacket({
    packetId: 'tolaria-epoch-3',
    source: 'tolaria',
    timestamp: FIXTURE_NOW_MS,
    metrics: [
      { name: 'loss', value: 0.31, unit: 'loss' },
      { name: 'accuracy', value: 0.91, unit: 'ratio' },
      { name: 'epoch_time', value: 1234.5, unit: 'ms' },
      { name: 'grad_norm', value: 1.7, unit: 'norm' },
    ],
    events: [{ description: 'epoch_complete', level: TelemetryLevel.INFO, attributes: { epoch: '3' } }],
    health: { status: HealthStatus.HEALTHY, summary: 'stable', indicators: { epoch: '3' } },
  });
}

describe('§2.5 size budgets', () => {
  it('SystemStatePacket < 280 B, round-trips (float fields as Math.fround)', () => {
    const packet = statePacketFixture();
    const { bytes, back } = roundTrip(SystemStatePacketSchema, packet);
    expect(bytes.length).toBeLessThan(280);
    expect(back.currentEpoch).toBe(3);
    expect(back.validationAccuracy).toBe(Math.fround(packet.validationAccuracy));
    expect(back.trainingMetrics).toEqual({ loss: Math.fround(0.31), grad_norm: Math.fround(1.7) });
    expect(back.hardwareContext?.deviceType).toBe('cuda');
    expect(back.seedStates[0]?.metrics).toEqual({ alpha: 0.5 });
    expect(back.timestampNs).toBe(packet.timestampNs);
  });

  it('AdaptationCommand < 280 B, round-trips', () => {
    const command = commandFixture();
    const { bytes, back } = roundTrip(AdaptationCommandSchema, command);
    expect(bytes.length).toBeLessThan(280);
    expect(back).toEqual(command); // every float in it (0.5) is float32-exact
  });

  it('TelemetryPacket from the builder < 280 B, round-trips', () => {
    const packet = builtTelemetryPacket();
    const { bytes, back } = roundTrip(TelemetryPacketSchema, packet);
    expect(bytes.length).toBeLessThan(280);
    expect(back).toEqual(packet); // MetricPoint.value is a double: exact
    expect(back.systemHealth?.indicators['epoch']).toBe('3');
  });

  it('FieldReport < 512 B, round-trips', () => {
    const { bytes, back } = roundTrip(FieldReportSchema, fieldReportFixture());
    expect(bytes.length).toBeLessThan(512);
    expect(back.followUpActions[0]?.rationale).toBe('All good');
    expect(back.metrics['delta_loss']).toBe(Math.fround(-0.02));
  });

  it('BlueprintDescriptor round-trips; a BusEnvelope around it decodes to the inner descriptor', () => {
    const descriptor = blueprintFixture();
    const { bytes, back } = roundTrip(BlueprintDescriptorSchema, descriptor);
    expect(back.allowedParameters).toEqual(descriptor.allowedParameters);
    expect(back.risk).toBe(Math.fround(0.1));
    // Descriptors travel as opaque envelope payloads (no BusMessageType of their own).
    const envelope = create(BusEnvelopeSchema, { messageType: BusMessageType.UNSPECIFIED, payload: bytes, attributes: { origin: 'karn' } });
    const env = roundTrip(BusEnvelopeSchema, envelope).back;
    expect(env.attributes).toEqual({ origin: 'karn' });
    expect(decodeMessage(BlueprintDescriptorSchema, env.payload)).toEqual(back);
  });

  it('property: 1–4 metrics from fixed names, values in ±10000, units from a fixed list survive a round trip', () => {
    const names = ['loss', 'accuracy', 'grad_norm', 'latency', 'throughput', 'lr'];
    const units = ['', 'ms', 'ratio', 'count', 'samples/s', '°C'];
    const rnd = prng(2025);
    for (let i = 0; i < 300; i++) {
      const chosen = rnd.shuffle(names).slice(0, 1 + rnd.int(4));
      const metrics = chosen.map((name) => ({ name, value: rnd.range(-10_000, 10_000), unit: rnd.pick(units) }));
      const packet = create(TelemetryPacketSchema, { packetId: `p-${i}`, sourceSubsystem: 'prop', metrics });
      const back = fromBinary(TelemetryPacketSchema, toBinary(TelemetryPacketSchema, packet));
      expect(back.metrics.map((m) => [m.name, m.unit])).toEqual(metrics.map((m) => [m.name, m.unit]));
      back.metrics.forEach((m, j) => expect(m.value).toBe(metrics[j]?.value)); // double: exact
      expect(toBinary(TelemetryPacketSchema, packet).length).toBeLessThan(280);

      // The same values in a float map (SystemStatePacket.training_metrics) come back as float32.
      const state = create(SystemStatePacketSchema, { trainingMetrics: Object.fromEntries(metrics.map((m) => [m.name, m.value])) });
      const stateBack = fromBinary(SystemStatePacketSchema, toBinary(SystemStatePacketSchema, state));
      for (const m of metrics) {
        const v = stateBack.trainingMetrics[m.name] as number;
        expect(v).toBe(Math.fround(m.value));
        expect(v).toBeCloseTo(m.value, 2);
      }
    }
  });
});
