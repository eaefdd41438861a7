// tamiyo.gnn.realtime in service mode, in a child process (real-time scheduling must not reach
// the test runner's threads): the service's main thread and the policy worker are put under
// SCHED_FIFO where the machine allows it (CI runs as root), and a refusal is logged with its
// reason otherwise; the service still serves either way.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));

describe.runIf(process.platform === 'linux')('tamiyo.gnn.realtime (decision 0067)', () => {
  it('esper serve with the GNN controller: both decision threads run under SCHED_FIFO, or the refusal is logged', { timeout: 60_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tamiyo-rt-'));
    const script = `
      const { readFileSync, readdirSync } = await import('node:fs');
      const { createEsper } = await import('@esper/core');
      const { oonaMemory } = await import('@esper/plugin-oona-memory');
      const { tamiyo } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
      const policy = (tid) => { const s = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[38]); };
      const lines = [];
      const logger = { debug() {}, info: (msg, f) => lines.push({ msg, ...f }), warn: (msg, f) => lines.push({ msg, ...f }), error: (msg, f) => lines.push({ msg, ...f }), child: () => logger };
      const esper = createEsper({
        plugins: [oonaMemory(), tamiyo()],
        run: { dir: ${JSON.stringify(dir)} },
        security: { leylineSecret: 'realtime-test-secret' },
        tamiyo: { controller: 'gnn', gnn: { realtime: true, blueprints: ['BP001'] }, service: { enabled: true } },
      }, { env: {}, logger });
      const run = await esper.start();
      const fifo = readdirSync('/proc/self/task').filter((t) => policy(t) === 1).map(Number);
      await run.stop();
      console.log(JSON.stringify({ lines: lines.filter((l) => l.msg.includes('realtime') || l.msg.includes('SCHED_FIFO')), fifo, pid: process.pid }));
    `;
    const out = execFileSync(process.execPath, ['--conditions=@esper/source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: pkg, encoding: 'utf8' });
    const { lines, fifo, pid } = JSON.parse(out.trim().split('\n').at(-1) as string) as { lines: { msg: string; tid?: number; reason?: string }[]; fifo: number[]; pid: number };
    const service = lines.find((l) => l.msg.includes('service thread'))!;
    const worker = lines.find((l) => l.msg.includes('policy worker'))!;
    expect(service).toBeDefined();
    expect(worker).toBeDefined();
    if (service.msg.includes('runs under SCHED_FIFO')) {
      // The main thread and the policy worker(s), nothing else of the process.
      expect(service.tid).toBe(pid);
      expect(fifo).toContain(pid);
      expect(fifo).toContain(worker.tid);
      expect(fifo.length).toBeLessThanOrEqual(3); // main + the run's worker + the per-run controller's worker
    } else {
      expect(service.reason).toMatch(/\S/); // the refusal says why (permission, no chrt, …)
      expect(fifo).toEqual([]);
    }
  });
});
