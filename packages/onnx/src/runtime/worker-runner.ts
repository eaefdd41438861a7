import { createRequire } from 'node:module';
import { setThreadRealtime, type RealtimeResult } from '@esper/core';
import { Worker } from 'node:worker_threads';
import { OnnxBackendUnavailableError, OnnxDeadlineError, OnnxDisposedError, OnnxRunError, OnnxSessionCreateError } from '../errors.js';
import { modelDigest } from '../ir/digest.js';
import type { DType } from '../ir/dtype.js';
import { tensor, type TensorData } from '../ir/tensor-data.js';
import { backendHint, ortSessionOptions, type BackendName, type SessionOptions } from './backend.js';
import type { BackendFallbackEvent, ModelSource } from './runtime.js';
import type { Feeds, Results } from './session.js';
import { serializeModel } from '../ir/serialize.js';

/** Options of {@link WorkerSessionRunner.create}. */
export interface WorkerRunnerOptions extends SessionOptions {
  /** Default deadline of every run in milliseconds (none when omitted). */
  readonly deadlineMs?: number;
  /**
   * Put the worker's thread under `SCHED_FIFO` at this priority (1–99) once its session exists
   * (`setThreadRealtime` of `@esper/core`; Linux, needs `CAP_SYS_NICE` or `RLIMIT_RTPRIO`), so a
   * run starts as soon as it is posted even when other processes keep every core busy. ONNX
   * Runtime's own pool threads (more than one intra-op thread) keep the normal policy. A refusal
   * is reported in {@link WorkerSessionRunner.realtime} and the runner works on at normal priority.
   */
  readonly realtimePriority?: number;
  /** Called when a backend fails in the worker and the next is tried. */
  readonly onFallback?: (event: BackendFallbackEvent) => void;
}

// The worker is plain JavaScript evaluated from a string, so it runs the same from TypeScript
// sources (tests) and from the built package, with no loader. It only needs onnxruntime-node,
// whose resolved path comes in workerData.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session = null;
(async () => {
  const attempts = [];
  for (const item of workerData.plan) {
    try {
      session = await ort.InferenceSession.create(workerData.model, item.options);
      let tid = null;
      try { tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()) || null; } catch {}
      parentPort.postMessage({ type: 'ready', backend: item.backend, attempts, tid });
      break;
    } catch (e) {
      attempts.push({ backend: item.backend, reason: String(e && e.message || e).split('\\n')[0].slice(0, 300) });
      if (item.backend === 'cpu') break;
    }
  }
  if (!session) parentPort.postMessage({ type: 'failed', attempts });
})();
parentPort.on('message', async (msg) => {
  if (msg.type !== 'run') return;
  try {
    const feeds = {};
    for (const f of msg.feeds) feeds[f.name] = new ort.Tensor(f.dtype, f.data, f.dims);
    const out = msg.outputs ? await session.run(feeds, msg.outputs) : await session.run(feeds);
    const results = [];
    const transfer = [];
    for (const [name, t] of Object.entries(out)) {
      results.push({ name, dtype: t.type, dims: t.dims, data: t.data });
      if (t.data && t.data.buffer) transfer.push(t.data.buffer);
    }
    parentPort.postMessage({ type: 'result', id: msg.id, results }, transfer);
  } catch (e) {
    parentPort.postMessage({ type: 'error', id: msg.id, message: String(e && e.message || e) });
  }
});
`;

interface Pending {
  resolve(r: Results): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs one model in a `worker_threads` worker, so `run()` does not block the caller's event
 * loop and a deadline can be enforced: when a run passes its deadline it rejects at once with
 * {@link OnnxDeadlineError} (`ESPER_ONNX_DEADLINE`), the worker is abandoned, and the next run
 * starts a fresh worker and session.
 *
 * ONNX Runtime cannot be interrupted mid-run, and terminating a worker while its native run is
 * in flight aborts the whole process (`terminate called after throwing an instance of
 * 'Napi::Error'`, measured with onnxruntime-node 1.30). So an abandoned worker finishes its run
 * in the background (using CPU until then), its result is discarded, and only then is it
 * terminated. {@link dispose} waits for abandoned workers the same way.
 *
 * Runs are queued one at a time. Feeds are copied to the worker; results come back by
 * transfer. Dispose it when done.
 */
export class WorkerSessionRunner {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private chain: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private currentBackend: BackendName | null = null;
  /** Workers still finishing an abandoned run, each with a promise that settles once it is terminated. */
  private readonly abandoned = new Map<Worker, Promise<void>>();
  /** Runs that passed their deadline (each abandoned its worker). */
  deadlineMisses = 0;
  private realtimeResult: RealtimeResult | undefined;

  private constructor(
    private readonly model: Uint8Array,
    /** sha256 of the model bytes. */
    readonly digest: string,
    private readonly options: WorkerRunnerOptions,
  ) {}

  /** Starts the worker and creates the session there (with backend fallback). */
  static async create(model: ModelSource, options: WorkerRunnerOptions = {}): Promise<WorkerSessionRunner> {
    const bytes = model instanceof Uint8Array ? model : serializeModel(model);
    const runner = new WorkerSessionRunner(bytes, modelDigest(bytes), options);
    await runner.start();
    return runner;
  }

  /** The backend the worker's session runs on. */
  get backend(): BackendName | null {
    return this.currentBackend;
  }

  /** How `realtimePriority` went for the current worker (undefined when not asked for). */
  get realtime(): RealtimeResult | undefined {
    return this.realtimeResult;
  }

  /** Runs the model in the worker. `deadlineMs` overrides the default deadline. */
  run(feeds: Feeds, options: { deadlineMs?: number; outputs?: readonly string[] } = {}): Promise<Results> {
    if (this.disposed) return Promise.reject(new OnnxDisposedError('WorkerSessionRunner was disposed'));
    const job = this.chain.then(() => this.runNow(feeds, options));
    this.chain = job.catch(() => undefined);
    return job;
  }

  /** Number of abandoned workers still finishing a run. */
  get abandonedWorkers(): number {
    return this.abandoned.size;
  }

  /**
   * Terminates the worker once idle. Pending runs reject with {@link OnnxDisposedError};
   * abandoned workers are awaited until their runs end (see the class notes).
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const w = this.worker;
    this.worker = null;
    if (w) {
      if (this.pending.size > 0) this.abandon(w);
      else await w.terminate();
    }
    this.failAll(new OnnxDisposedError('WorkerSessionRunner was disposed'));
    await Promise.all(this.abandoned.values());
  }

  /** Lets `w` finish its current run, then terminates it (terminating mid-run aborts the process). */
  private abandon(w: Worker): void {
    if (this.abandoned.has(w)) return;
    const done = new Promise<void>((resolve) => {
      const finish = () => {
        w.terminate().then(() => resolve(), () => resolve());
      };
      w.removeAllListeners('message');
      w.once('message', finish);
      w.once('exit', () => resolve());
    }).finally(() => this.abandoned.delete(w));
    this.abandoned.set(w, done);
  }

  private start(): Promise<void> {
    const order = this.options.backends ?? ['cpu'];
    const plan = order.map((backend) => ({ backend, options: ortSessionOptions(backend, this.options) }));
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    // The source is CommonJS: a host started with --input-type=module must not pass that on.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: workerExecArgv(), workerData: { model: this.model, plan, ortPath } });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready' || msg.type === 'failed') {
          msg.attempts.forEach((a, i) => {
            const to = msg.type === 'ready' && i === msg.attempts.length - 1 ? msg.backend : msg.attempts[i + 1]?.backend;
            if (to !== undefined) this.options.onFallback?.({ from: a.backend, to, reason: a.reason, requested: [...order], digest: this.digest, cause: new Error(a.reason) });
          });
        }
        if (msg.type === 'ready') {
          this.currentBackend = msg.backend;
          const priority = this.options.realtimePriority;
          if (priority !== undefined) this.realtimeResult = setThreadRealtime(priority, { tid: msg.tid });
          resolve();
        } else if (msg.type === 'failed') {
          void worker.terminate();
          const last = msg.attempts.at(-1);
          if (last?.backend === 'cpu') reject(new OnnxSessionCreateError(`ONNX Runtime rejected model ${this.digest.slice(0, 12)} on cpu (in a worker): ${last.reason}`));
          else {
            const detail = msg.attempts.map((a) => `  - ${a.backend}: ${a.reason} (${backendHint(a.backend)})`).join('\n');
            reject(new OnnxBackendUnavailableError(`no requested backend could create a session in the worker (tried ${order.join(', ')}):\n${detail}`, msg.attempts));
          }
        } else this.settle(msg);
      });
      worker.on('error', (e) => {
        reject(e);
        this.failAll(new OnnxRunError(`ONNX Runtime worker crashed: ${e.message}`, { cause: e }));
      });
    });
    return this.ready;
  }

  private async runNow(feeds: Feeds, options: { deadlineMs?: number; outputs?: readonly string[] }): Promise<Results> {
    if (this.disposed) throw new OnnxDisposedError('WorkerSessionRunner was disposed');
    if (!this.worker) await this.start();
    await this.ready;
    const worker = this.worker as Worker;
    const id = this.nextId++;
    const deadline = options.deadlineMs ?? this.options.deadlineMs;
    return new Promise<Results>((resolve, reject) => {
      const timer = deadline === undefined ? undefined : setTimeout(() => {
        this.pending.delete(id);
        this.deadlineMisses++;
        this.worker = null;
        this.ready = null;
        this.abandon(worker);
        reject(new OnnxDeadlineError(`run did not finish within its ${deadline} ms deadline; its result will be discarded and the next run starts a fresh worker`));
      }, deadline);
      this.pending.set(id, { resolve, reject, timer });
      const list = Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.dtype, dims: [...t.dims], data: t.data }));
      worker.postMessage({ type: 'run', id, feeds: list, outputs: options.outputs ? [...options.outputs] : undefined });
    });
  }

  private settle(msg: WorkerMessage): void {
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (p.timer) clearTimeout(p.timer);
    if (msg.type === 'error') p.reject(new OnnxRunError(`ONNX Runtime run failed in the worker: ${msg.message}`));
    else {
      const out: Results = {};
      for (const r of msg.results) out[r.name] = tensor(r.dtype, r.dims, r.data as never);
      p.resolve(out);
    }
  }

  private failAll(e: unknown): void {
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }
}

type WorkerMessage =
  | { type: 'ready'; backend: BackendName; attempts: { backend: BackendName; reason: string }[]; tid: number | null }
  | { type: 'failed'; attempts: { backend: BackendName; reason: string }[] }
  | { type: 'result'; id: number; results: { name: string; dtype: DType; dims: number[]; data: unknown }[] }
  | { type: 'error'; id: number; message: string };


export type { TensorData };

/** The process's Node options without `--input-type`, which would make the eval'd worker source ESM. */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=')) out.push(a);
  }
  return out;
}
