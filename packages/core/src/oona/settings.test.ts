import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { StreamBackend } from './backend.js';
import { OonaClient } from './client.js';
import * as ids from './ids.js';
import * as settings from './settings.js';
import { oonaSettingsShape, parseOonaSettings, pickOonaSettings } from './settings.js';

// A client's constructor does not touch its backend.
const backend = {} as StreamBackend;

describe('Oona settings are parsed once (issue 12, finding 6)', () => {
  it("a plugin's validated options are picked, not parsed again, and the client keeps what was picked", () => {
    const pluginSchema = z.strictObject({ ...oonaSettingsShape, broker: z.string().default('default') });
    const options = pluginSchema.parse({ group: 'trainer', retryMaxAttempts: 3 });
    const picked = pickOonaSettings(options);
    expect(picked).not.toHaveProperty('broker');
    expect(picked.group).toBe('trainer');
    expect(parseOonaSettings(picked)).toBe(picked);
    const client = new OonaClient({ backend, settings: picked });
    expect(client.settings).toBe(picked);
  });

  it('partial input is validated, with defaults, and bad input is refused', () => {
    const client = new OonaClient({ backend, settings: { group: 'g' } });
    expect(client.settings.retryMaxAttempts).toBe(5);
    expect(client.settings.normalStream).toBe('oona.normal');
    expect(() => new OonaClient({ backend, settings: { retryMaxAttempts: 0 } })).toThrow();
    // An object shaped like validated settings but not picked from validated options is parsed.
    expect(parseOonaSettings({ ...client.settings })).not.toBe(client.settings);
  });

  it('the dead helpers are gone (resolveOonaSettings, formatStreamId)', () => {
    expect(settings).not.toHaveProperty('resolveOonaSettings');
    expect(ids).not.toHaveProperty('formatStreamId');
  });

  it('the publish defaults fit together (decision 0055): breaker trials well inside the retry window, room for it at 1 600 msg/s', () => {
    const s = settings.oonaSettingsSchema.parse({});
    expect(s.publishRetryTimeoutMs).toBe(10_000);
    expect(s.publishBreaker.timeoutMs * 4).toBeLessThanOrEqual(s.publishRetryTimeoutMs);
    expect(s.publishRetryBufferSize / (s.publishRetryTimeoutMs / 1_000)).toBeGreaterThanOrEqual(1_600);
    // A partial breaker setting keeps the other defaults of its own breaker.
    expect(settings.oonaSettingsSchema.parse({ publishBreaker: { failureThreshold: 5 } }).publishBreaker.timeoutMs).toBe(2_000);
    expect(s.consumeBreaker.timeoutMs).toBe(30_000);
  });
});
