import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  MessagePriority,
  MessagePrioritySchema,
  SystemHealthSchema,
  TelemetryLevel,
  TelemetryPacketSchema,
} from '../leyline/index.js';
import {
  PRIORITY_INDICATOR,
  parsePriorityName,
  priorityForEvents,
  priorityForLevel,
  priorityForPacket,
  priorityFromIndicator,
  priorityName,
} from './priority.js';

const L = TelemetryLevel;
const P = MessagePriority;

function packet(level: TelemetryLevel, indicator?: string) {
  return create(TelemetryPacketSchema, {
    packetId: 'p',
    sourceSubsystem: 's',
    level,
    systemHealth: create(SystemHealthSchema, { indicators: indicator === undefined ? {} : { [PRIORITY_INDICATOR]: indicator } }),
  });
}

describe('priorityForLevel: every row', () => {
  it.each([
    [L.UNSPECIFIED, P.NORMAL],
    [L.INFO, P.NORMAL],
    [L.WARNING, P.HIGH],
    [L.ERROR, P.HIGH],
    [L.CRITICAL, P.CRITICAL],
    [99 as TelemetryLevel, P.NORMAL],
  ])('level %i → priority %i', (level, expected) => {
    expect(priorityForLevel(level)).toBe(expected);
  });
});

describe('priorityForEvents', () => {
  it.each([
    [[], P.NORMAL],
    [[L.INFO, L.INFO], P.NORMAL],
    [[L.INFO, L.WARNING], P.HIGH],
    [[L.ERROR, L.INFO], P.HIGH],
    [[L.WARNING, L.CRITICAL, L.INFO], P.CRITICAL],
    [[L.CRITICAL, L.WARNING], P.CRITICAL],
  ])('%j → %i (max over events)', (levels, expected) => {
    expect(priorityForEvents(levels)).toBe(expected);
  });

  it('accepts any iterable', () => {
    expect(priorityForEvents(new Set([L.INFO, L.ERROR]))).toBe(P.HIGH);
  });
});

describe('priority names', () => {
  it('uses the Leyline enum names from the descriptor', () => {
    for (const value of MessagePrioritySchema.values) {
      expect(priorityName(value.number as MessagePriority)).toBe(value.name);
    }
    expect(priorityName(P.HIGH)).toBe('MESSAGE_PRIORITY_HIGH');
  });

  it('parses only full, known, specified names', () => {
    expect(parsePriorityName('MESSAGE_PRIORITY_CRITICAL')).toBe(P.CRITICAL);
    expect(parsePriorityName('MESSAGE_PRIORITY_LOW')).toBe(P.LOW);
    expect(parsePriorityName('MESSAGE_PRIORITY_UNSPECIFIED')).toBeUndefined();
    expect(parsePriorityName('HIGH')).toBeUndefined();
    expect(parsePriorityName('message_priority_high')).toBeUndefined();
    expect(parsePriorityName(undefined)).toBeUndefined();
  });
});

describe('priorityFromIndicator (forwarders)', () => {
  it.each([
    ['MESSAGE_PRIORITY_CRITICAL', P.CRITICAL],
    ['MESSAGE_PRIORITY_HIGH', P.HIGH],
    ['MESSAGE_PRIORITY_NORMAL', P.NORMAL],
    ['MESSAGE_PRIORITY_LOW', P.LOW],
    ['MESSAGE_PRIORITY_UNSPECIFIED', P.NORMAL],
    ['bogus', P.NORMAL],
    [undefined, P.NORMAL],
  ])('indicator %j → %i', (indicator, expected) => {
    expect(priorityFromIndicator(packet(L.CRITICAL, indicator))).toBe(expected);
  });

  it('a packet without system_health is NORMAL', () => {
    expect(priorityFromIndicator(create(TelemetryPacketSchema, { packetId: 'p' }))).toBe(P.NORMAL);
  });
});

describe('priorityForPacket (own packets: indicator HIGH/CRITICAL wins, else level)', () => {
  it.each([
    [L.INFO, 'MESSAGE_PRIORITY_HIGH', P.HIGH],
    [L.INFO, 'MESSAGE_PRIORITY_CRITICAL', P.CRITICAL],
    [L.WARNING, 'MESSAGE_PRIORITY_CRITICAL', P.CRITICAL],
    [L.INFO, undefined, P.NORMAL],
    [L.INFO, 'MESSAGE_PRIORITY_LOW', P.NORMAL],
    [L.WARNING, 'MESSAGE_PRIORITY_NORMAL', P.HIGH],
    [L.WARNING, undefined, P.HIGH],
    [L.ERROR, undefined, P.HIGH],
    [L.CRITICAL, undefined, P.HIGH],
  ])('level %i, indicator %j → %i', (level, indicator, expected) => {
    expect(priorityForPacket(packet(level, indicator))).toBe(expected);
  });
});
