import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { followSignals } from './follow-signals.js';

describe('followSignals', () => {
  it('aborts with the first source that aborts, then no longer listens to any source', () => {
    const a = new AbortController();
    const b = new AbortController();
    const followed = followSignals([a.signal, undefined, b.signal]);
    expect(followed.signal.aborted).toBe(false);
    b.abort('stop');
    expect(followed.signal.aborted).toBe(true);
    expect(followed.signal.reason).toBe('stop');
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(0);
  });

  it('unlink() stops following; an already aborted source aborts at once', () => {
    const a = new AbortController();
    const followed = followSignals([a.signal]);
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(1);
    followed.unlink();
    followed.unlink();
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0);
    a.abort();
    expect(followed.signal.aborted).toBe(false);
    expect(followSignals([a.signal]).signal.aborted).toBe(true);
  });
});
