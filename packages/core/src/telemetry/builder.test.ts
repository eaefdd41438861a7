import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { isEsperError } from '../errors.js';
import { ManualClock } from '../kernel/ports/clock.js';
import {
  HealthStatus,
  MessagePriority,
  MetricPointSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
} from '../leyline/index.js';
import { buildTelemetryPacket } from './builder.js';
import { TelemetryPacketBuilder } from './packet-builder.js';
import { priorityFromIndicator } from './priority.js';

const clock = new ManualClock(1_767_225_600_123);

describe('buildTelemetryPacket header', () => {
  it('writes id, source, level and the clock time', () => {
    const p = buildTelemetryPacket({ packetId: 'tolaria-epoch-3', source: 'tolaria', level: TelemetryLevel.WARNING }, { clock });
    expect(p.packetId).toBe('tolaria-epoch-3');
    expect(p.sourceSubsystem).toBe('tolaria');
    expect(p.level).toBe(TelemetryLevel.WARNING);
    expect(timestampMs(p.timestamp!)).toBe(1_767_225_600_123);
    expect(p.spans).toEqual([]);
  });

  it('defaults the level to INFO and takes an explicit timestamp in any form', () => {
    const base = { packetId: 'p', source: 's' };
    expect(buildTelemetryPacket(base, { clock }).level).toBe(TelemetryLevel.INFO);
    expect(timestampMs(buildTelemetryPacket({ ...base, timestamp: 42_000 }, { clock }).timestamp!)).toBe(42_000);
    expect(timestampMs(buildTelemetryPacket({ ...base, timestamp: new Date(43_000) }).timestamp!)).toBe(43_000);
    const ts = timestampFromMs(44_000);
    const p = buildTelemetryPacket({ ...base, timestamp: ts });
    expect(timestampMs(p.timestamp!)).toBe(44_000);
    expect(p.timestamp).not.toBe(ts);
  });

  it.each([
    ['empty packet id', { packetId: '', source: 's' }],
    ['empty source', { packetId: 'p', source: '' }],
    ['unnamed metric', { packetId: 'p', source: 's', metrics: [{ name: '', value: 1 }] }],
    ['NaN timestamp', { packetId: 'p', source: 's', timestamp: Number.NaN }],
    ['invalid Date', { packetId: 'p', source: 's', timestamp: new Date('nope') }],
  ])('rejects an %s with ESPER_TELEMETRY_PACKET_INVALID', (_label, input) => {
    expect(() => buildTelemetryPacket(input, { clock })).toThrow(
      expect.objectContaining({ code: 'ESPER_TELEMETRY_PACKET_INVALID' }) as Error,
    );
    try {
      buildTelemetryPacket(input, { clock });
    } catch (error) {
      expect(isEsperError(error, 'ESPER_TELEMETRY_PACKET_INVALID')).toBe(true);
    }
  });
});

describe('metrics', () => {
  it('keeps order, copies attributes, and writes the unit only when non-empty', () => {
    const attributes = { seed: 's1' };
    const p = buildTelemetryPacket(
      {
        packetId: 'p',
        source: 's',
        metrics: [
          { name: 'b.loss', value: 0.5, unit: 'loss', attributes },
          { name: 'a.count', value: 3 },
          { name: 'c.ratio', value: -1.25, unit: '' },
        ],
      },
      { clock },
    );
    expect(p.metrics.map((m) => m.name)).toEqual(['b.loss', 'a.count', 'c.ratio']);
    expect(p.metrics.map((m) => m.unit)).toEqual(['loss', '', '']);
    expect(p.metrics[0]!.attributes).toEqual({ seed: 's1' });
    attributes.seed = 'changed';
    expect(p.metrics[0]!.attributes).toEqual({ seed: 's1' });
    // No unit field (3) on the wire for an empty unit.
    const withoutUnit = toBinary(MetricPointSchema, p.metrics[1]!);
    const bare = toBinary(MetricPointSchema, create(MetricPointSchema, { name: 'a.count', value: 3 }));
    expect(withoutUnit).toEqual(bare);
    expect(withoutUnit.includes(0x1a)).toBe(false);
  });
});

describe('events', () => {
  it('numbers events evt-<n> by position, keeps given ids, defaults level to INFO', () => {
    const p = buildTelemetryPacket(
      {
        packetId: 'p',
        source: 's',
        events: [
          { description: 'first' },
          { description: 'second', id: 'custom', level: TelemetryLevel.WARNING, attributes: { k: 'v' } },
          { description: 'third', level: TelemetryLevel.ERROR },
        ],
      },
      { clock },
    );
    expect(p.events.map((e) => e.eventId)).toEqual(['evt-1', 'custom', 'evt-3']);
    expect(p.events.map((e) => e.level)).toEqual([TelemetryLevel.INFO, TelemetryLevel.WARNING, TelemetryLevel.ERROR]);
    expect(p.events[1]!.attributes).toEqual({ k: 'v' });
    // Ids restart per packet.
    const q = buildTelemetryPacket({ packetId: 'q', source: 's', events: [{ description: 'x' }] }, { clock });
    expect(q.events[0]!.eventId).toBe('evt-1');
  });
});

describe('system_health', () => {
  it('is always present, HEALTHY/stable with a NORMAL priority when nothing happened', () => {
    const p = buildTelemetryPacket({ packetId: 'p', source: 's' }, { clock });
    expect(p.systemHealth?.status).toBe(HealthStatus.HEALTHY);
    expect(p.systemHealth?.summary).toBe('stable');
    expect(p.systemHealth?.indicators).toEqual({ priority: 'MESSAGE_PRIORITY_NORMAL' });
  });

  it.each([
    [TelemetryLevel.INFO, HealthStatus.HEALTHY, 'stable', 'MESSAGE_PRIORITY_NORMAL'],
    [TelemetryLevel.WARNING, HealthStatus.DEGRADED, 'e', 'MESSAGE_PRIORITY_HIGH'],
    [TelemetryLevel.ERROR, HealthStatus.DEGRADED, 'e', 'MESSAGE_PRIORITY_HIGH'],
    [TelemetryLevel.CRITICAL, HealthStatus.CRITICAL, 'e', 'MESSAGE_PRIORITY_CRITICAL'],
  ])('an event of level %i gives health %i "%s" and indicator %s', (level, status, summary, indicator) => {
    const p = buildTelemetryPacket({ packetId: 'p', source: 's', events: [{ description: 'e', level }] }, { clock });
    expect(p.systemHealth?.status).toBe(status);
    expect(p.systemHealth?.summary).toBe(summary);
    expect(p.systemHealth?.indicators['priority']).toBe(indicator);
  });

  it('keeps a priority indicator the caller set, and other indicators as given', () => {
    const p = buildTelemetryPacket(
      {
        packetId: 'p',
        source: 's',
        events: [{ description: 'boom', level: TelemetryLevel.CRITICAL }],
        health: { indicators: { priority: 'MESSAGE_PRIORITY_LOW', epoch: '3' } },
      },
      { clock },
    );
    expect(p.systemHealth?.indicators).toEqual({ priority: 'MESSAGE_PRIORITY_LOW', epoch: '3' });
    expect(priorityFromIndicator(p)).toBe(MessagePriority.LOW);
  });

  it('passes status, summary and degradedReason through deriveHealth', () => {
    const paused = buildTelemetryPacket({ packetId: 'p', source: 'tamiyo', health: { degradedReason: 'pause' } }, { clock });
    expect([paused.systemHealth?.status, paused.systemHealth?.summary]).toEqual([HealthStatus.DEGRADED, 'pause']);
    expect(paused.systemHealth?.indicators['priority']).toBe('MESSAGE_PRIORITY_NORMAL');
    const floor = buildTelemetryPacket(
      { packetId: 'p', source: 's', health: { status: HealthStatus.UNHEALTHY, summary: 'zero_samples' }, events: [{ description: 'w', level: TelemetryLevel.WARNING }] },
      { clock },
    );
    expect([floor.systemHealth?.status, floor.systemHealth?.summary]).toEqual([HealthStatus.UNHEALTHY, 'zero_samples']);
  });

  it('writes status and summary verbatim when derive is false', () => {
    const p = buildTelemetryPacket(
      { packetId: 'p', source: 's', events: [{ description: 'w', level: TelemetryLevel.WARNING }], health: { derive: false } },
      { clock },
    );
    expect([p.systemHealth?.status, p.systemHealth?.summary]).toEqual([HealthStatus.HEALTHY, '']);
    expect(p.systemHealth?.indicators['priority']).toBe('MESSAGE_PRIORITY_HIGH');
  });
});

describe('§2.5 size budget', () => {
  function fixture() {
    // Short metric names, as the reference's §2.5 fixtures use (`loss`, `grad_norm`).
    return new TelemetryPacketBuilder({ packetId: 'tolaria-epoch-3', source: 'tolaria', clock })
      .metric('loss', 0.4213, 'loss')
      .metric('grad_norm', 1.75, 'norm')
      .metric('latency_ms', 12.5, 'ms')
      .metric('samples', 50_000, 'count')
      .event('epoch_completed', { attributes: { epoch: '3' } })
      .health({ status: HealthStatus.HEALTHY, summary: 'stable' })
      .indicator('epoch', '3')
      .build();
  }

  it('encodes under 280 bytes and round-trips equal', () => {
    const packet = fixture();
    expect(packet.metrics).toHaveLength(4);
    expect(packet.systemHealth?.status).toBe(HealthStatus.HEALTHY);
    expect(packet.systemHealth?.summary).toBe('stable');
    expect(packet.systemHealth?.indicators).toEqual({ epoch: '3', priority: 'MESSAGE_PRIORITY_NORMAL' });
    const bytes = toBinary(TelemetryPacketSchema, packet);
    expect(bytes.length).toBeLessThan(280);
    // The derived priority indicator is part of the budget: 37 bytes of it.
    const withoutPriority = toBinary(TelemetryPacketSchema, { ...packet, systemHealth: { ...packet.systemHealth!, indicators: { epoch: '3' } } });
    expect(bytes.length - withoutPriority.length).toBe(37);
    expect(equals(TelemetryPacketSchema, fromBinary(TelemetryPacketSchema, bytes), packet)).toBe(true);
  });
});

describe('TelemetryPacketBuilder', () => {
  it('builds the same packet as buildTelemetryPacket, fresh on each build()', () => {
    const builder = new TelemetryPacketBuilder({ packetId: 'p', source: 's', level: TelemetryLevel.WARNING, clock })
      .metric('m', 1, 'u', { a: 'b' })
      .event('w', { level: TelemetryLevel.WARNING, id: 'x' })
      .indicator('epoch', '1')
      .timestamp(5_000);
    const direct = buildTelemetryPacket(
      {
        packetId: 'p',
        source: 's',
        level: TelemetryLevel.WARNING,
        metrics: [{ name: 'm', value: 1, unit: 'u', attributes: { a: 'b' } }],
        events: [{ description: 'w', level: TelemetryLevel.WARNING, id: 'x' }],
        health: { indicators: { epoch: '1' } },
        timestamp: 5_000,
      },
      { clock },
    );
    const a = builder.build();
    const b = builder.build();
    expect(equals(TelemetryPacketSchema, a, direct)).toBe(true);
    expect(a).not.toBe(b);
    expect(equals(TelemetryPacketSchema, a, b)).toBe(true);
  });

  it('merges health() calls', () => {
    const p = new TelemetryPacketBuilder({ packetId: 'p', source: 's', clock })
      .health({ summary: 'steady' })
      .health({ degradedReason: 'backoff' })
      .build();
    expect([p.systemHealth?.status, p.systemHealth?.summary]).toEqual([HealthStatus.DEGRADED, 'backoff']);
  });
});
