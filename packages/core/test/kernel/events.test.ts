import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/index.js';

describe('EventBus', () => {
  it('delivers typed payloads in subscription order and unsubscribes', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    const off = bus.on('epoch:start', ({ epoch }) => void seen.push(`a${epoch}`));
    bus.on('epoch:start', ({ epoch }) => void seen.push(`b${epoch}`));
    bus.emit('epoch:start', { runId: 'r', epoch: 1 });
    off();
    bus.emit('epoch:start', { runId: 'r', epoch: 2 });
    expect(seen).toEqual(['a1', 'b1', 'b2']);
  });

  it('keeps one subscription per listener and event, and the same listener on two events', () => {
    const bus = new EventBus();
    let calls = 0;
    const listener = () => void (calls += 1);
    bus.on('epoch:start', listener);
    bus.on('epoch:start', listener);
    bus.on('step:end', listener);
    bus.emit('epoch:start', { runId: 'r', epoch: 1 });
    bus.emit('step:end', { runId: 'r', epoch: 1, globalStep: 3, loss: 0.5 });
    expect(calls).toBe(2);
    bus.off('epoch:start', listener);
    bus.emit('step:end', { runId: 'r', epoch: 1, globalStep: 4, loss: 0.4 });
    expect(calls).toBe(3);
  });

  it('isolates throwing and rejecting listeners and reports them', async () => {
    const errors: string[] = [];
    const bus = new EventBus((error, event) => errors.push(`${event}: ${(error as Error).message}`));
    const seen: number[] = [];
    bus.on('epoch:start', () => {
      throw new Error('sync bug');
    });
    bus.on('epoch:start', () => Promise.reject(new Error('async bug')));
    bus.on('epoch:start', ({ epoch }) => void seen.push(epoch));
    expect(() => bus.emit('epoch:start', { runId: 'r', epoch: 7 })).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([7]);
    expect(errors).toEqual(['epoch:start: sync bug', 'epoch:start: async bug']);
    expect(bus.listenerFailures).toBe(2);
  });
});
