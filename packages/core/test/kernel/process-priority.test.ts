import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createEsper, lowerProcessPriority, ManualClock, MAX_NICE, setThreadRealtime, type PrioritySystem } from '../../src/index.js';

/** A fake system of threads with niceness values; `fail` maps a thread to the errno its set call raises. */
function fakeSystem(nice: Record<number, number>, fail: Record<number, string> = {}, platform: NodeJS.Platform = 'linux') {
  const calls: [number, number][] = [];
  const system: PrioritySystem = {
    platform,
    threadIds: () => Object.keys(nice).map(Number),
    getPriority: (id) => {
      const v = nice[id];
      if (v === undefined) throw Object.assign(new Error('A system error occurred'), { code: 'ERR_SYSTEM_ERROR', info: { code: 'ESRCH' } });
      return v;
    },
    setPriority: (id, value) => {
      calls.push([id, value]);
      const code = fail[id];
      if (code !== undefined) throw Object.assign(new Error('A system error occurred'), { code: 'ERR_SYSTEM_ERROR', info: { code } });
      nice[id] = value;
    },
  };
  return { system, calls, nice };
}

const quietLogger = () => {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const logger = {
    debug: () => {},
    info: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'info', msg, ...(fields ? { fields } : {}) }),
    warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'warn', msg, ...(fields ? { fields } : {}) }),
    error: () => {},
    child: () => logger,
  };
  return { logger, lines };
};

describe('lowerProcessPriority', () => {
  it.runIf(process.platform === 'linux')('renices every thread of this process for real (in a child process) and threads started later inherit it', () => {
    // The child lowers itself to 7, then starts a worker thread and reports every thread's niceness.
    const script = `
      const { lowerProcessPriority } = await import(${JSON.stringify(new URL('../../src/kernel/process-priority.ts', import.meta.url).href)});
      const { getPriority } = await import('node:os');
      const { readdirSync } = await import('node:fs');
      const { Worker } = await import('node:worker_threads');
      const before = readdirSync('/proc/self/task').length;
      const r = lowerProcessPriority(7);
      const w = new Worker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((res) => w.once('online', res));
      const nice = readdirSync('/proc/self/task').map((t) => getPriority(Number(t)));
      await w.terminate();
      console.log(JSON.stringify({ before, r, nice }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { before, r, nice } = JSON.parse(out.trim().split('\n').at(-1) as string) as { before: number; r: { lowered: number; unchanged: number; failed: unknown[] }; nice: number[] };
    expect(r.failed).toEqual([]);
    expect(r.lowered + r.unchanged).toBe(before);
    expect(before).toBeGreaterThan(1); // V8 and libuv helpers
    expect(nice.length).toBeGreaterThan(before); // the worker's threads were listed too
    expect(new Set(nice)).toEqual(new Set([7]));
  });

  it('only lowers: threads already at that niceness or above are left alone', () => {
    const { system, calls, nice } = fakeSystem({ 10: 0, 11: 5, 12: 15 });
    const r = lowerProcessPriority(5, system);
    expect(r).toEqual({ nice: 5, lowered: 1, unchanged: 2, failed: [] });
    expect(calls).toEqual([[10, 5]]);
    expect(nice).toEqual({ 10: 5, 11: 5, 12: 15 });
  });

  it('lists threads it cannot change with the errno, skips threads that exited, and never throws for them', () => {
    const { system } = fakeSystem({ 1: 0, 2: 0, 3: 0 }, { 2: 'EPERM', 3: 'ESRCH' });
    const r = lowerProcessPriority(3, system);
    expect(r.failed).toEqual([{ tid: 2, reason: 'EPERM' }]);
    expect(r.lowered).toBe(1);
  });

  it('sets the whole process (id 0) off Linux', () => {
    const { system, calls } = fakeSystem({ 0: 0 }, {}, 'darwin');
    expect(lowerProcessPriority(10, system).lowered).toBe(1);
    expect(calls).toEqual([[0, 10]]);
  });

  it('rejects a niceness outside 0–19 or not an integer', () => {
    const { system } = fakeSystem({ 1: 0 });
    for (const bad of [-1, MAX_NICE + 1, 2.5, Number.NaN]) expect(() => lowerProcessPriority(bad, system)).toThrow(RangeError);
  });
});

describe('run.nice', () => {
  it('is applied when a run starts and logged; 0 (the default) changes nothing', async () => {
    const fake = fakeSystem({ 100: 0, 101: 0 });
    const { logger, lines } = quietLogger();
    const run = await createEsper({ plugins: [], run: { nice: 10 } }, { env: {}, logger, clock: new ManualClock(), prioritySystem: fake.system }).start();
    await run.stop();
    expect(fake.nice).toEqual({ 100: 10, 101: 10 });
    expect(lines.find((l) => l.msg.includes('run.nice'))).toMatchObject({ level: 'info', fields: { nice: 10, lowered: 2 } });

    const untouched = fakeSystem({ 100: 0 });
    const run0 = await createEsper({ plugins: [] }, { env: {}, logger, clock: new ManualClock(), prioritySystem: untouched.system }).start();
    await run0.stop();
    expect(untouched.calls).toEqual([]);
  });

  it('reads ESPER_NICE and warns (without failing the run) for threads it could not change', async () => {
    const fake = fakeSystem({ 100: 0, 101: 0 }, { 101: 'EACCES' });
    const { logger, lines } = quietLogger();
    const run = await createEsper({ plugins: [] }, { env: { ESPER_NICE: '4' }, logger, clock: new ManualClock(), prioritySystem: fake.system }).start();
    await run.stop();
    expect(fake.nice[100]).toBe(4);
    expect(lines.find((l) => l.level === 'warn')).toMatchObject({ fields: { nice: 4, failed: '101:EACCES' } });
  });

  it('rejects a niceness outside 0–19 at validation with the path', () => {
    expect(() => createEsper({ plugins: [], run: { nice: 20 } }, { env: {} })).toThrow(/run\.nice/);
    expect(() => createEsper({ plugins: [] }, { env: { ESPER_NICE: '-3' } })).toThrow(/ESPER_NICE/);
  });
});

describe('setThreadRealtime', () => {
  it.runIf(process.platform === 'linux')('puts the calling thread under SCHED_FIFO for real (in a child process), or says why it may not', () => {
    const script = `
      const { setThreadRealtime, currentThreadId } = await import(${JSON.stringify(new URL('../../src/kernel/process-priority.ts', import.meta.url).href)});
      const { readFileSync } = await import('node:fs');
      const r = setThreadRealtime(1);
      const stat = readFileSync('/proc/thread-self/stat', 'utf8');
      const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
      console.log(JSON.stringify({ r, policy, tid: currentThreadId(), pid: process.pid }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { r, policy, tid, pid } = JSON.parse(out.trim().split('\n').at(-1) as string) as { r: { applied: boolean; tid: number; reason?: string }; policy: number; tid: number; pid: number };
    expect(tid).toBe(pid); // the main thread's id is the process id
    expect(r.tid).toBe(tid);
    // Where the machine allows it (CI runs as root) the policy is SCHED_FIFO; elsewhere the reason names the fix.
    if (r.applied) expect(policy).toBe(1);
    else {
      expect(policy).toBe(0);
      expect(r.reason).toMatch(/\S/); // the refusal says why (permission, no chrt, …)
    }
  });

  it('runs chrt on the given thread and reports refusals without throwing', () => {
    const calls: string[][] = [];
    expect(setThreadRealtime(3, { tid: 1234, exec: (file, args) => void calls.push([file, ...args]), platform: 'linux' })).toEqual({ applied: true, tid: 1234, priority: 3 });
    expect(calls).toEqual([['chrt', '-f', '-p', '3', '1234']]);
    const refuse = () => {
      throw Object.assign(new Error('Command failed'), { stderr: Buffer.from("chrt: failed to set pid 7's policy: Operation not permitted\n") });
    };
    const denied = setThreadRealtime(1, { tid: 7, exec: refuse, platform: 'linux' });
    expect(denied).toMatchObject({ applied: false, tid: 7 });
    expect((denied as { reason: string }).reason).toMatch(/^chrt: failed to set pid 7's policy: Operation not permitted: grant CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 1/);
    const missing = () => {
      throw Object.assign(new Error('spawn chrt ENOENT'), { code: 'ENOENT' });
    };
    expect(setThreadRealtime(1, { tid: 7, exec: missing, platform: 'linux' })).toEqual({ applied: false, tid: 7, reason: 'chrt was not found: install util-linux' });
    expect(setThreadRealtime(1, { tid: 7, exec: () => {}, platform: 'darwin' })).toMatchObject({ applied: false, reason: expect.stringMatching(/Linux only/) });
    expect(setThreadRealtime(1, { tid: null, exec: () => {}, platform: 'linux' })).toMatchObject({ applied: false, reason: expect.stringMatching(/thread id is unknown/) });
    for (const bad of [0, 100, 1.5]) expect(() => setThreadRealtime(bad, { tid: 1, exec: () => {}, platform: 'linux' })).toThrow(RangeError);
  });
});
