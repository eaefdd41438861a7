import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppendLog, AppendLogError, writeFileAtomic } from './append-log.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

function tempLog(): string {
  return join(mkdtempSync(join(tmpdir(), 'esper-log-')), 'sub', 'x.log');
}

describe('AppendLog', () => {
  it('creates the file and its folder, and replays records in order after a reopen', async () => {
    const path = tempLog();
    const log = await AppendLog.open(path);
    expect(log.replay).toStrictEqual({ records: [], cutBytes: 0, cutAt: 8 });
    await log.append(bytes('one'));
    await log.append([bytes('two'), bytes(''), bytes('three')]);
    await log.close();
    const again = await AppendLog.open(path);
    expect(again.replay.records.map(text)).toStrictEqual(['one', 'two', '', 'three']);
    expect(again.replay.cutBytes).toBe(0);
    await again.close();
  });

  it('cuts a torn tail (short header, short payload, bad checksum) on replay and keeps the records before it', async () => {
    const path = tempLog();
    const log = await AppendLog.open(path);
    await log.append([bytes('kept-1'), bytes('kept-2')]);
    const good = log.sizeBytes;
    await log.append(bytes('torn-record'));
    await log.close();

    // An interrupted append: the last record lost its last 3 bytes.
    truncateSync(path, statSync(path).size - 3);
    let reopened = await AppendLog.open(path);
    expect(reopened.replay.records.map(text)).toStrictEqual(['kept-1', 'kept-2']);
    expect(reopened.replay.cutAt).toBe(good);
    expect(reopened.replay.cutBytes).toBe(8 + 'torn-record'.length - 3);
    expect(statSync(path).size).toBe(good);
    // Appending after the cut gives a clean log.
    await reopened.append(bytes('after'));
    await reopened.close();

    // Half a header.
    appendFileSync(path, Buffer.from([5, 0, 0]));
    reopened = await AppendLog.open(path);
    expect(reopened.replay.records.map(text)).toStrictEqual(['kept-1', 'kept-2', 'after']);
    expect(reopened.replay.cutBytes).toBe(3);
    await reopened.close();

    // A flipped payload byte fails the checksum: that record and what follows are cut.
    const raw = readFileSync(path);
    raw.writeUInt8(raw.readUInt8(raw.length - 1) ^ 0xff, raw.length - 1);
    writeFileSync(path, raw);
    reopened = await AppendLog.open(path);
    expect(reopened.replay.records.map(text)).toStrictEqual(['kept-1', 'kept-2']);
    await reopened.close();
  });

  it('treats a length over the limit as corruption, and refuses to append a record over it', async () => {
    const path = tempLog();
    const log = await AppendLog.open(path, { maxRecordBytes: 4 });
    await log.append(bytes('abcd'));
    await expect(log.append(bytes('abcde'))).rejects.toMatchObject({ code: 'ESPER_STORAGE_RECORD_TOO_LARGE' });
    await log.close();
    appendFileSync(path, Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]));
    const again = await AppendLog.open(path, { maxRecordBytes: 4 });
    expect(again.replay.records.map(text)).toStrictEqual(['abcd']);
    expect(again.replay.cutBytes).toBe(8);
    await again.close();
  });

  it('refuses a file that is not an append log and leaves it unchanged', async () => {
    const path = tempLog();
    await writeFileAtomic(path, '{"not":"a log"}');
    const error = await AppendLog.open(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppendLogError);
    expect(error).toMatchObject({ code: 'ESPER_STORAGE_LOG_INVALID' });
    expect(readFileSync(path, 'utf8')).toBe('{"not":"a log"}');
  });

  it('a crash while writing the header leaves a usable empty log', async () => {
    const path = tempLog();
    await writeFileAtomic(path, 'ESPR');
    const log = await AppendLog.open(path);
    expect(log.replay.records).toStrictEqual([]);
    await log.append(bytes('x'));
    await log.close();
    const again = await AppendLog.open(path);
    expect(again.replay.records.map(text)).toStrictEqual(['x']);
    await again.close();
  });

  it('concurrent appends land whole and in call order; rewrite replaces the records atomically', async () => {
    const path = tempLog();
    const log = await AppendLog.open(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(bytes(`r${i}`))));
    await log.rewrite([bytes('r3'), bytes('r7')]);
    await log.append(bytes('r20'));
    await log.close();
    await expect(log.append(bytes('late'))).rejects.toMatchObject({ code: 'ESPER_STORAGE_LOG_CLOSED' });
    const again = await AppendLog.open(path);
    expect(again.replay.records.map(text)).toStrictEqual(['r3', 'r7', 'r20']);
    await again.close();
  });
});
