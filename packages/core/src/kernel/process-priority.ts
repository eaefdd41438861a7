import { readdirSync } from 'node:fs';
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
