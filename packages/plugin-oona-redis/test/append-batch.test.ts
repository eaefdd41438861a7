import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { RedisStreamBackend } from '../src/index.js';
import { deleteKeys, REDIS_URL, redisAvailable } from './redis-env.js';

const available = await redisAvailable();

const bytes = (n: number): Uint8Array => Uint8Array.from({ length: 40 }, (_, i) => (n * 31 + i * 7) & 0xff);

// Appends against the shared server: what one tick of appends turns into (pipelined XADDs on the
// append connection) must look, entry by entry, exactly like one XADD per append in call order.
describe.skipIf(!available)('batched appends (shared redis-server)', () => {
  const prefix = `append-batch-${process.pid}-${Date.now()}:`;
  let backend: RedisStreamBackend;
  let raw: ReturnType<typeof createClient>;

  beforeAll(async () => {
    backend = new RedisStreamBackend({ url: REDIS_URL, appendBatchMax: 64 });
    await backend.connect();
    raw = createClient({ url: REDIS_URL });
    await raw.connect();
  });

  afterAll(async () => {
    await backend.close();
    raw.destroy();
    await deleteKeys(prefix);
  });

  it('appends of one tick keep call order, ids and bytes across batches, field shapes and streams', async () => {
    const a = `${prefix}a`;
    const b = `${prefix}b`;
    const calls: Array<{ stream: string; fields: Record<string, Uint8Array> }> = [];
    for (let i = 0; i < 300; i++) {
      const stream = i % 3 === 0 ? b : a;
      // payload only, payload + signature, and a three-field shape.
      const fields: Record<string, Uint8Array> =
        i % 5 === 0 ? { payload: bytes(i), signature: bytes(i + 1) } : i % 7 === 0 ? { x: bytes(i), y: bytes(i + 2), z: bytes(i + 3) } : { payload: bytes(i) };
      calls.push({ stream, fields });
    }
    const ids = await Promise.all(calls.map((c) => backend.append(c.stream, c.fields)));
    for (const stream of [a, b]) {
      const mine = calls.map((c, i) => ({ ...c, id: ids[i]! })).filter((c) => c.stream === stream);
      const stored = await backend.range(stream, '-', '+', 1_000);
      expect(stored.map((e) => e.id)).toEqual(mine.map((c) => c.id));
      stored.forEach((entry, k) => {
        expect(Object.keys(entry.fields)).toEqual(Object.keys(mine[k]!.fields));
        for (const [name, value] of Object.entries(mine[k]!.fields)) expect(Buffer.from(entry.fields[name]!).equals(Buffer.from(value))).toBe(true);
      });
    }
  });

  it('big writes (1,500 entries in one appendMany) and big values (writes split at 256 KiB) arrive intact', async () => {
    const wide = new RedisStreamBackend({ url: REDIS_URL, appendBatchMax: 2_000 });
    await wide.connect();
    const s = `${prefix}wide`;
    const entries = Array.from({ length: 1_500 }, (_, i) => ({ payload: bytes(i), signature: bytes(i + 9) }));
    const ids = await wide.appendMany(s, entries);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    const stored = await wide.range(s, '-', '+', 2_000);
    expect(stored.map((e) => e.id)).toEqual(ids);
    for (const k of [0, 999, 1_000, 1_499]) {
      expect(Buffer.from(stored[k]!.fields.payload!).equals(Buffer.from(entries[k]!.payload))).toBe(true);
      expect(Buffer.from(stored[k]!.fields.signature!).equals(Buffer.from(entries[k]!.signature))).toBe(true);
    }
    const big = `${prefix}big`;
    const values = Array.from({ length: 7 }, (_, i) => Uint8Array.from({ length: 100_000 + i }, (_, j) => (i + j) & 0xff));
    await Promise.all(values.map((v) => wide.append(big, { payload: v })));
    const back = await wide.range(big, '-', '+', 10);
    expect(back.map((e) => Buffer.from(e.fields.payload!).equals(Buffer.from(values[back.indexOf(e)]!)))).toEqual(values.map(() => true));
    await wide.close();
  });

  it('values whose lengths cross every decimal digit count arrive intact; acknowledging many ids works', async () => {
    const s = `${prefix}lengths`;
    const lengths = [0, 1, 9, 10, 99, 100, 999, 1_000, 9_999, 10_000, 99_999, 100_000, 100_001];
    const values = lengths.map((n) => Uint8Array.from({ length: n }, (_, j) => (n + j * 13) & 0xff));
    await backend.createGroup(s, 'g');
    const ids = await backend.appendMany(s, values.map((payload) => ({ payload })));
    const read = await backend.readGroup(s, 'g', 'c', { count: 100 });
    expect(read.map((e) => e.id)).toEqual(ids);
    read.forEach((e, i) => expect(Buffer.from(e.fields.payload!).equals(Buffer.from(values[i]!))).toBe(true));
    expect(await backend.ack(s, 'g', read.map((e) => e.id))).toBe(lengths.length);
    // Explicit ids of many lengths in one XACK: unknown ones are ignored, as Redis does.
    expect(await backend.ack(s, 'g', ['1-1', '12345678901234-99', ids[0] as string])).toBe(0);
  });

  it('appendMany resolves one id or Error per entry; a failing stream does not fail another', async () => {
    const good = `${prefix}good`;
    const bad = `${prefix}bad`;
    await raw.set(bad, 'not a stream');
    const [okIds, badIds] = await Promise.all([
      backend.appendMany(good, [{ payload: bytes(1) }, { payload: bytes(2) }, { payload: bytes(3) }]),
      backend.appendMany(bad, [{ payload: bytes(4) }, { payload: bytes(5) }]),
    ]);
    expect(okIds.every((id) => typeof id === 'string')).toBe(true);
    expect(await backend.length(good)).toBe(3);
    expect(badIds).toHaveLength(2);
    for (const e of badIds) {
      expect(e).toBeInstanceOf(Error);
      expect((e as Error & { code?: string }).code).toBe('ESPER_OONA_BACKEND');
      expect((e as Error).message).toContain('WRONGTYPE');
    }
    // A single append to the same key fails the same way.
    await expect(backend.append(bad, { payload: bytes(6) })).rejects.toThrow(/WRONGTYPE/);
    expect(await backend.appendMany(good, [])).toEqual([]);
  });

  it('submitAppend settles each request once, after it returned, in call order with append, and with the error that kept it out', async () => {
    const s = `${prefix}submit`;
    const bad = `${prefix}submit-bad`;
    await raw.set(bad, 'not a stream');
    const settled: Array<{ n: number; error: Error | undefined }> = [];
    let returned = false;
    const request = (stream: string, n: number) => ({
      stream,
      fields: { payload: bytes(n) },
      settle(error: Error | undefined) {
        expect(returned).toBe(true);
        settled.push({ n, error });
      },
    });
    const before = backend.append(s, { payload: bytes(0) });
    backend.submitAppend(request(s, 1));
    backend.submitAppend(request(bad, 2));
    backend.submitAppend(request(s, 3));
    returned = true;
    const after = backend.append(s, { payload: bytes(4) });
    const ids = [await before, await after];
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled.map((x) => x.n)).toEqual([1, 2, 3]);
    expect(settled[0]!.error).toBeUndefined();
    expect(settled[2]!.error).toBeUndefined();
    expect((settled[1]!.error as Error & { code?: string }).code).toBe('ESPER_OONA_BACKEND');
    expect(settled[1]!.error!.message).toContain('WRONGTYPE');
    const stored = await backend.range(s, '-', '+', 10);
    // Stored in call order: append, the two good requests, append.
    expect(stored.map((e) => Buffer.from(e.fields.payload!).toString('hex'))).toEqual([0, 1, 3, 4].map((n) => Buffer.from(bytes(n)).toString('hex')));
    expect([stored[0]!.id, stored[3]!.id]).toEqual(ids);
  });

  it('submitAppend on a closed backend throws OonaClosedError and settles nothing', async () => {
    const closing = new RedisStreamBackend({ url: REDIS_URL });
    await closing.connect();
    await closing.close();
    let settled = false;
    expect(() =>
      closing.submitAppend({
        stream: `${prefix}closed`,
        fields: { payload: bytes(1) },
        settle: () => {
          settled = true;
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'ESPER_OONA_CLOSED' }) as Error);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
  });

  it('an entry without fields fails alone; an explicit id goes after what the tick queued', async () => {
    const s = `${prefix}order`;
    const first = backend.append(s, { payload: bytes(1) });
    const empty = backend.append(s, {});
    const second = backend.append(s, { payload: bytes(2) });
    const explicit = backend.append(s, { payload: bytes(3) }, { id: '99999999999999-0' });
    await expect(empty).rejects.toThrow();
    const ids = [await first, await second, await explicit];
    expect(ids[2]).toBe('99999999999999-0');
    expect((await backend.range(s, '-', '+', 10)).map((e) => e.id)).toEqual(ids);
  });

  it('appendBatchMax 1 (one entry per write) gives the same results', async () => {
    const plain = new RedisStreamBackend({ url: REDIS_URL, appendBatchMax: 1 });
    await plain.connect();
    const s = `${prefix}plain`;
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => plain.append(s, { payload: bytes(i) })));
    expect((await plain.range(s, '-', '+', 100)).map((e) => e.id)).toEqual(ids);
    await plain.close();
  });

  it('appends and commands keep call order across the append and command connections', async () => {
    const s = `${prefix}lanes`;
    // Nothing awaited in between: each call must find the server as the calls before it left it.
    const created = backend.createGroup(s, 'g'); // XGROUP CREATE … $ MKSTREAM: sees only later entries
    const first = backend.append(s, { payload: bytes(1) });
    const length = backend.length(s);
    const read = backend.readGroup(s, 'g', 'c', { count: 10 });
    const second = backend.append(s, { payload: bytes(2) });
    const acked = read.then((entries) => backend.ack(s, 'g', entries.map((e) => e.id)));
    const third = backend.append(s, { payload: bytes(3) });
    const lengthAfter = backend.length(s);
    await created;
    expect(await length).toBe(1);
    expect((await read).map((e) => e.id)).toEqual([await first]);
    expect(await lengthAfter).toBe(3);
    expect(await acked).toBe(1);
    expect((await backend.range(s, '-', '+', 10)).map((e) => e.id)).toEqual([await first, await second, await third]);
  });

  it('close() sends the appends already queued, then refuses new ones', async () => {
    const closing = new RedisStreamBackend({ url: REDIS_URL });
    await closing.connect();
    const s = `${prefix}closing`;
    const queued = Array.from({ length: 10 }, (_, i) => closing.append(s, { payload: bytes(i) }));
    await closing.close();
    expect((await Promise.all(queued)).length).toBe(10);
    await expect(closing.append(s, { payload: bytes(0) })).rejects.toMatchObject({ code: 'ESPER_OONA_CLOSED' });
    expect(await backend.length(s)).toBe(10);
  });
});
