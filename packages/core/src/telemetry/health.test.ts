import { describe, expect, it } from 'vitest';
import { HealthStatus, TelemetryLevel } from '../leyline/index.js';
import { deriveHealth, HEALTHY_SUMMARY } from './health.js';

const H = HealthStatus;
const L = TelemetryLevel;
const ev = (description: string, level?: TelemetryLevel) => ({ description, level });

describe('deriveHealth: every row', () => {
  it.each([
    ['no events', [], undefined, H.HEALTHY, HEALTHY_SUMMARY],
    ['INFO only', [ev('tick', L.INFO), ev('tock')], undefined, H.HEALTHY, 'stable'],
    ['UNSPECIFIED level', [ev('odd', L.UNSPECIFIED)], undefined, H.HEALTHY, 'stable'],
    ['one WARNING', [ev('tick'), ev('latency_high', L.WARNING)], undefined, H.DEGRADED, 'latency_high'],
    ['ERROR degrades too', [ev('zero_samples', L.ERROR)], undefined, H.DEGRADED, 'zero_samples'],
    ['first WARNING/ERROR gives the summary', [ev('a', L.ERROR), ev('b', L.WARNING)], undefined, H.DEGRADED, 'a'],
    ['CRITICAL wins over WARNING', [ev('w', L.WARNING), ev('boom', L.CRITICAL), ev('boom2', L.CRITICAL)], undefined, H.CRITICAL, 'boom'],
    ['caller condition degrades', [ev('tick')], 'pause', H.DEGRADED, 'pause'],
    ['caller condition beats a WARNING summary', [ev('w', L.WARNING)], 'risk_high', H.DEGRADED, 'risk_high'],
    ['CRITICAL beats caller condition', [ev('c', L.CRITICAL)], 'pause', H.CRITICAL, 'c'],
  ] as const)('%s', (_label, events, degradedReason, status, summary) => {
    expect(deriveHealth({ events, degradedReason })).toEqual({ status, summary });
  });

  it('never improves on the caller status, and keeps its summary', () => {
    expect(deriveHealth({ status: H.UNHEALTHY, summary: 'zero_samples', events: [ev('w', L.WARNING)] })).toEqual({
      status: H.UNHEALTHY,
      summary: 'zero_samples',
    });
    expect(deriveHealth({ status: H.DEGRADED, summary: 'mine', events: [ev('w', L.WARNING)] })).toEqual({
      status: H.DEGRADED,
      summary: 'mine',
    });
    expect(deriveHealth({ status: H.UNHEALTHY, summary: 'x', events: [ev('c', L.CRITICAL)] })).toEqual({
      status: H.CRITICAL,
      summary: 'c',
    });
  });

  it('treats UNKNOWN as HEALTHY and keeps a caller summary when nothing triggers', () => {
    expect(deriveHealth({ status: H.UNKNOWN, events: [ev('w', L.WARNING)] }).status).toBe(H.DEGRADED);
    expect(deriveHealth({ summary: 'steady' })).toEqual({ status: H.HEALTHY, summary: 'steady' });
    expect(deriveHealth()).toEqual({ status: H.HEALTHY, summary: 'stable' });
  });
});
