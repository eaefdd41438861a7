// Shared by the quickstart tests: run `esper run` in-process and read back the run directory.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type RunSummary } from 'esper';

/** This folder: the quickstart project. */
export const here = dirname(fileURLToPath(import.meta.url));

/** What `esper run` returned and printed. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `esper run <target> --epochs <epochs> --out <out>` from the quickstart folder, with no environment. */
export async function runQuickstart(target: string, epochs: number, out: string): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['run', target, '--epochs', String(epochs), '--out', out], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {},
    cwd: here,
  });
  return { code, stdout, stderr };
}

/** The one run directory under `out`: its id, path and parsed `summary.json`. */
export function readRun(out: string): { runId: string; dir: string; summary: RunSummary } {
  const [runId] = readdirSync(out);
  if (runId === undefined) throw new Error(`no run directory under ${out}`);
  const dir = join(out, runId);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
  return { runId, dir, summary };
}
