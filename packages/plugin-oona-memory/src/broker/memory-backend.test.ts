import { describe, expect, it } from 'vitest';
import { ManualClock } from '@esper/core';
import {
  FaultInjectingBackend,
  OonaBusyGroupError,
  OonaClosedError,
  OonaIdTooSmallError,
  OonaNoGroupError,
  OonaReadCancelledError,
  submitAppend,
  type AppendRequest,
  type StreamBackend,
} from '@esper/core/oona';
import { MemoryBroker } from './memory-backend.js';

const f = { payload: new Uint8Array([1]) };

describe('MemoryStreamBackend', () => {
  it('ids are <ms>-<seq>, strictly increasing even when the wall clock goes back', async () => {
    const clock = new ManualClock(1_000);
    const b = new MemoryBroker(clock).backend();
    expect(await b.append('s', f)).toBe('1000-0');
    expect(await b.append('s', f)).toBe('1000-1');
    clock.setWall(500);
    expect(await b.append('s', f)).toBe('1000-2');
    clock.setWall(2_000);
    expect(await b.append('s', f)).toBe('2000-0');
    await expect(b.append('s', f, { id: '2000-0' })).rejects.toBeInstanceOf(OonaIdTooSmallError);
    expect(await b.append('s', f, { id: '3000-5' })).toBe('3000-5');
  });

  it('submitAppend stores at once and settles every request of the tick after it returned; closed, it throws', async () => {
    const clock = new ManualClock(1_000);
    const b = new MemoryBroker(clock).backend();
    const settled: Array<Error | undefined> = [];
    const request = (stream: string): AppendRequest => ({ stream, fields: f, settle: (error) => settled.push(error) });
    b.submitAppend(request('s'));
    const explicit = b.append('s', f, { id: '5000-0' });
    b.submitAppend(request('s'));
    expect(settled).toEqual([]);
    expect(b.broker.stream('s', false)?.entries.length).toBe(3);
    expect(await explicit).toBe('5000-0');
    // Auto ids after the explicit one: stored in call order.
    expect((await b.range('s', '-', '+', 10)).map((e) => e.id)).toEqual(['1000-0', '5000-0', '5000-1']);
    expect(settled).toEqual([undefined, undefined]);
    // An id at or below the stream's last one cannot happen with auto ids; a broker error still settles the request.
    const broken = new MemoryBroker(clock).backend();
    broken.broker.append = () => {
      throw new OonaIdTooSmallError('s', '1-0', '2-0');
    };
    broken.submitAppend(request('s'));
    await Promise.resolve();
    expect(settled[2]).toBeInstanceOf(OonaIdTooSmallError);
    await b.close();
    expect(() => b.submitAppend(request('s'))).toThrow(OonaClosedError);
  });

  it('submitAppend() falls back to append on backends without it, and settles with what append rejected with', async () => {
    const broker = new MemoryBroker(new ManualClock(1_000));
    const inner = broker.backend();
    // The same backend seen without submitAppend (its other methods through the prototype).
    const viaAppend = Object.assign(Object.create(inner) as StreamBackend, { submitAppend: undefined });
    const results: Array<Error | undefined> = [];
    submitAppend(viaAppend, { stream: 's', fields: f, settle: (error) => results.push(error) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(results).toEqual([undefined]);
    expect(await inner.length('s')).toBe(1);
    // The fault wrapper takes append faults for submitAppend too.
    const faults = new FaultInjectingBackend(inner);
    faults.failNext('append');
    submitAppend(faults, { stream: 's', fields: f, settle: (error) => results.push(error) });
    submitAppend(faults, { stream: 's', fields: f, settle: (error) => results.push(error) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(results[1]).toMatchObject({ code: 'ESPER_OONA_BACKEND' });
    expect(results[2]).toBeUndefined();
    await inner.close();
    submitAppend(viaAppend, { stream: 's', fields: f, settle: (error) => results.push(error) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(results[3]).toBeInstanceOf(OonaClosedError);
  });

  it('groups: BUSYGROUP on duplicates, NOGROUP on missing, creation at the end', async () => {
    const b = new MemoryBroker(new ManualClock()).backend();
    await b.append('s', f);
    await b.createGroup('s', 'g');
    await expect(b.createGroup('s', 'g')).rejects.toBeInstanceOf(OonaBusyGroupError);
    await expect(b.readGroup('s', 'nope', 'c', { count: 1 })).rejects.toBeInstanceOf(OonaNoGroupError);
    await expect(b.pendingCount('s', 'nope')).rejects.toBeInstanceOf(OonaNoGroupError);
    expect(await b.readGroup('s', 'g', 'c', { count: 10 })).toEqual([]);
    expect(await b.groups('s')).toEqual([{ name: 'g', pending: 0, lastDeliveredId: expect.any(String), lag: 0 }]);
  });

  it('a blocking read wakes on append from another backend, and is cancelled by its signal', async () => {
    const broker = new MemoryBroker(new ManualClock());
    const reader = broker.backend();
    const writer = broker.backend();
    await reader.createGroup('s', 'g');
    const waiting = reader.readGroup('s', 'g', 'c', { count: 5, blockMs: 0 });
    await writer.append('s', f);
    expect(await waiting).toHaveLength(1);
    const controller = new AbortController();
    const cancelled = reader.readGroup('s', 'g', 'c', { count: 5, blockMs: 0, signal: controller.signal });
    controller.abort();
    await expect(cancelled).rejects.toBeInstanceOf(OonaReadCancelledError);
    const timed = await reader.readGroup('s', 'g', 'c', { count: 5, blockMs: 5 });
    expect(timed).toEqual([]);
  });

  it('trimming leaves the PEL alone; autoClaim drops ids whose entries were trimmed', async () => {
    const clock = new ManualClock(10_000);
    const b = new MemoryBroker(clock).backend();
    await b.createGroup('s', 'g');
    for (let i = 0; i < 4; i++) {
      await b.append('s', f);
      clock.advance(1);
    }
    await b.readGroup('s', 'g', 'c1', { count: 4 });
    expect(await b.trimMinId('s', '10002-0')).toBe(2);
    expect(await b.pendingCount('s', 'g')).toBe(4);
    expect(await b.oldestPending('s', 'g')).toBe('10000-0');
    clock.advance(100);
    const claim = await b.autoClaim('s', 'g', 'c2', 50, '0-0', 10);
    expect(claim.deletedIds).toEqual(['10000-0', '10001-0']);
    expect(claim.entries.map((e) => [e.id, e.deliveries])).toEqual([
      ['10002-0', 2],
      ['10003-0', 2],
    ]);
    expect(claim.next).toBe('0-0');
    expect(await b.pendingCount('s', 'g')).toBe(2);
  });

  it('range and reverse range', async () => {
    const clock = new ManualClock(1);
    const b = new MemoryBroker(clock).backend();
    for (let i = 0; i < 3; i++) await b.append('s', f, { id: `${i + 1}-0` });
    expect((await b.range('s', '-', '+', 10)).map((e) => e.id)).toEqual(['1-0', '2-0', '3-0']);
    expect((await b.range('s', '+', '-', 1, true)).map((e) => e.id)).toEqual(['3-0']);
    expect((await b.range('s', '2', '+', 10)).map((e) => e.id)).toEqual(['2-0', '3-0']);
  });

  it('appendMany appends in order with increasing ids, wakes a blocked reader once, and refuses after close', async () => {
    const clock = new ManualClock(7_000);
    const broker = new MemoryBroker(clock);
    const reader = broker.backend();
    const writer = broker.backend();
    await reader.createGroup('s', 'g');
    expect(await writer.append('s', f)).toBe('7000-0');
    await reader.readGroup('s', 'g', 'c', { count: 10 });
    const waiting = reader.readGroup('s', 'g', 'c', { count: 10, blockMs: 0 });
    const batch = [1, 2, 3].map((n) => ({ payload: new Uint8Array([n]) }));
    expect(await writer.appendMany('s', batch)).toEqual(['7000-1', '7000-2', '7000-3']);
    const read = await waiting;
    expect(read.map((e) => [e.id, e.fields.payload![0]])).toEqual([
      ['7000-1', 1],
      ['7000-2', 2],
      ['7000-3', 3],
    ]);
    expect(await writer.appendMany('s', [])).toEqual([]);
    clock.setWall(8_000);
    expect(await writer.appendMany('s', batch.slice(0, 1))).toEqual(['8000-0']);
    expect(await reader.pendingCount('s', 'g')).toBe(4);
    expect(await reader.ack('s', 'g', ['7000-0', '7000-1', '7000-2', '7000-3', '9-9'])).toBe(4);
    await writer.close();
    await expect(writer.appendMany('s', batch)).rejects.toBeInstanceOf(OonaClosedError);
    await expect(writer.append('s', f)).rejects.toBeInstanceOf(OonaClosedError);
    expect(await reader.length('s')).toBe(5);
  });

  it('a claim moves one pending id to the claiming consumer without changing the ids read with it', async () => {
    const clock = new ManualClock(1_000);
    const b = new MemoryBroker(clock).backend();
    await b.createGroup('s', 'g');
    await b.appendMany('s', [f, f, f]);
    await b.readGroup('s', 'g', 'c1', { count: 3 });
    clock.advance(100);
    const first = await b.autoClaim('s', 'g', 'c2', 50, '0-0', 1);
    expect(first.entries.map((e) => [e.id, e.deliveries])).toEqual([['1000-0', 2]]);
    clock.advance(10);
    // Only 1000-1 and 1000-2 are idle for 50 ms now; 1000-0 was just claimed.
    const second = await b.autoClaim('s', 'g', 'c3', 50, '0-0', 10);
    expect(second.entries.map((e) => [e.id, e.deliveries])).toEqual([
      ['1000-1', 2],
      ['1000-2', 2],
    ]);
  });

  it('named brokers are shared in the process', () => {
    expect(MemoryBroker.named('unit-x')).toBe(MemoryBroker.named('unit-x'));
    MemoryBroker.forget('unit-x');
  });
});
