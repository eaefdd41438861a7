import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Highest niceness {@link lowerProcessPriority} accepts (the lowest CPU priority on Linux and macOS). */
export const MAX_NICE = 19;

/** One thread whose priority could not be lowered. */
export interface PriorityFailure {
  /** Linux thread id (or 0 for the whole process elsewhere). */
  readonly tid: number;
  /** The system's reason (`EPERM`, `ESRCH`, …). */
  readonly reason: string;
}

/** What {@link lowerProcessPriority} did. */
export interface PriorityResult {
  /** The niceness asked for. */
  readonly nice: number;
  /** Threads now at that niceness or lower priority (each thread on Linux; 1 for the process elsewhere). */
  readonly lowered: number;
  /** Threads already at that niceness or lower priority, left as they were. */
  readonly unchanged: number;
  /** Threads that could not be changed; threads that exited meanwhile are not counted. */
  readonly failed: readonly PriorityFailure[];
}

/** The operating-system calls {@link lowerProcessPriority} uses (injectable for tests). */
export interface PrioritySystem {
  readonly platform: NodeJS.Platform;
  /** Thread ids of this process (Linux: `/proc/self/task`). */
  threadIds(): number[];
  getPriority(id: number): number;
  setPriority(id: number, nice: number): void;
}

const nodeSystem: PrioritySystem = {
  platform: process.platform,
  threadIds: () => readdirSync('/proc/self/task').map(Number).filter((n) => Number.isInteger(n) && n > 0),
  getPriority: (id) => getPriority(id),
  setPriority: (id, nice) => setPriority(id, nice),
};

/**
 * Lowers the CPU priority of this whole process to niceness `nice` (0–19; higher is lower
 * priority), so work that shares its cores (a colocated Tamiyo service deciding within its 5 ms
 * step budget, decision 0067) preempts it promptly. Only ever lowers: a thread already at a
 * higher niceness keeps it, and no privilege is needed.
 *
 * On Linux the niceness is per thread, so every thread listed in `/proc/self/task` is changed
 * (V8's and libuv's helpers included); threads started later inherit it from the thread that
 * starts them (ONNX Runtime's pools are started from the main thread). Elsewhere the process's
 * priority is set (Windows maps 1–19 to its below-normal and idle classes).
 *
 * Never throws for a thread it cannot change: those are listed in `failed`.
 *
 * @throws RangeError when `nice` is not an integer in 0–19.
 */
export function lowerProcessPriority(nice: number, system: PrioritySystem = nodeSystem): PriorityResult {
  if (!Number.isInteger(nice) || nice < 0 || nice > MAX_NICE) throw new RangeError(`lowerProcessPriority: nice must be an integer from 0 to ${MAX_NICE}, got ${nice}`);
  const ids = system.platform === 'linux' ? system.threadIds() : [0];
  let lowered = 0;
  let unchanged = 0;
  const failed: PriorityFailure[] = [];
  for (const tid of ids) {
    try {
      if (system.getPriority(tid) >= nice) {
        unchanged++;
        continue;
      }
      system.setPriority(tid, nice);
      lowered++;
    } catch (error) {
      // Node reports the errno in `info.code` (`code` is ERR_SYSTEM_ERROR).
      const e = error as { info?: { code?: string }; code?: string; message?: string };
      const code = e.info?.code ?? e.code ?? e.message ?? 'unknown';
      // A thread that exited between the listing and the call is not a failure.
      if (code !== 'ESRCH') failed.push({ tid, reason: code });
    }
  }
  return { nice, lowered, unchanged, failed };
}

/** Highest SCHED_FIFO priority Linux accepts. */
export const MAX_REALTIME_PRIORITY = 99;

/** What {@link setThreadRealtime} did. */
export type RealtimeResult =
  | { readonly applied: true; readonly tid: number; readonly priority: number }
  | { readonly applied: false; readonly tid: number | undefined; readonly reason: string };

/** Options of {@link setThreadRealtime}. */
export interface RealtimeOptions {
  /** The thread: absent for the calling one; `null` when its id is unknown (nothing is changed). */
  readonly tid?: number | null;
  /** Runs `chrt` (tests inject one). */
  readonly exec?: ExecFile;
  /** The platform (tests). */
  readonly platform?: NodeJS.Platform;
}

/** Runs a program (injectable for tests); throws as `execFileSync` does. */
export type ExecFile = (file: string, args: readonly string[]) => void;

const runChrt: ExecFile = (file, args) => {
  execFileSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5_000 });
};

/** This thread's Linux thread id (`/proc/thread-self`), or undefined elsewhere. */
export function currentThreadId(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Puts one thread (`options.tid`; default: the calling one) under the real-time `SCHED_FIFO` policy at
 * `priority` (1–99), so it runs as soon as it is woken, ahead of every normal thread on the
 * machine (decision 0067: Tamiyo's decision threads beside a trainer). Linux only, through
 * util-linux's `chrt` (Node has no call for it). It needs `CAP_SYS_NICE` or an `RLIMIT_RTPRIO`
 * of at least `priority` (`docker run --cap-add SYS_NICE`, systemd `LimitRTPRIO=`); the kernel's
 * real-time throttling still leaves normal threads 5 % of each second.
 *
 * Never throws for a refusal: the result says why (permission, no `chrt`, another platform).
 *
 * @throws RangeError when `priority` is not an integer in 1–99.
 */
export function setThreadRealtime(priority: number, options: RealtimeOptions = {}): RealtimeResult {
  const tid = options.tid === undefined ? currentThreadId() : (options.tid ?? undefined);
  const exec = options.exec ?? runChrt;
  const platform = options.platform ?? process.platform;
  if (!Number.isInteger(priority) || priority < 1 || priority > MAX_REALTIME_PRIORITY) {
    throw new RangeError(`setThreadRealtime: priority must be an integer from 1 to ${MAX_REALTIME_PRIORITY}, got ${priority}`);
  }
  if (platform !== 'linux') return { applied: false, tid, reason: `real-time scheduling is set on Linux only (this is ${platform})` };
  if (tid === undefined) return { applied: false, tid, reason: 'the thread id is unknown (/proc/thread-self is not readable)' };
  try {
    exec('chrt', ['-f', '-p', String(priority), String(tid)]);
    return { applied: true, tid, priority };
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer | string; message?: string };
    if (e.code === 'ENOENT') return { applied: false, tid, reason: 'chrt was not found: install util-linux' };
    const said = String(e.stderr ?? e.message ?? error).trim().split('\n')[0] ?? '';
    const denied = /not permitted|permission/i.test(said);
    return {
      applied: false,
      tid,
      reason: denied ? `${said}: grant CAP_SYS_NICE or an RLIMIT_RTPRIO of at least ${priority} (docker run --cap-add SYS_NICE, systemd LimitRTPRIO=${priority})` : said,
    };
  }
}
