// The quickstart with Tamiyo's GNN controller selected (`tamiyo.controller: 'gnn'`), shortened
// to 3 epochs: the run completes, every epoch boundary gets a signed command from the policy, and
// the untrained policy's graft (action 0 with a free slot) is applied by Kasmina. Growth under
// an untrained policy is not asserted beyond that.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandLogLine } from 'esper';
import { describe, expect, it } from 'vitest';
import { here, readRun, runQuickstart, type CliResult } from './test-helpers.js';

/** Runs the quickstart with `controller: 'gnn'` plus `extra` (source text) in its tamiyo section, for `epochs` epochs. */
async function runGnnQuickstart(extra: string, epochs: number): Promise<{ result: CliResult; out: string }> {
  const file = join(here, `.gnn-${randomBytes(4).toString('hex')}.config.ts`);
  writeFileSync(file, `import base from './esper.config.js';\nexport default { ...base, tamiyo: { ...base.tamiyo, controller: 'gnn'${extra} } };\n`);
  const out = mkdtempSync(join(tmpdir(), 'esper-quickstart-gnn-'));
  try {
    return { result: await runQuickstart(file, epochs, out), out };
  } finally {
    rmSync(file, { force: true });
  }
}

describe('examples/quickstart with the GNN controller', () => {
  it('esper run, shortened to 3 epochs, completes with the policy deciding at every epoch', { timeout: 180_000 }, async () => {
    const { result, out } = await runGnnQuickstart('', 3);
    const { code, stdout, stderr } = result;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { dir, summary } = readRun(out);
    expect(summary.outcome).toBe('completed');
    expect(summary.epochs).toHaveLength(3);

    const commands = readFileSync(join(dir, 'commands.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CommandLogLine);
    expect(commands).toHaveLength(3);
    for (const c of commands) expect((c.command as { annotations: Record<string, string> }).annotations.controller).toBe('gnn');
    // Untrained weights choose a graft whenever a slot is free: the first one is applied.
    expect(commands[0], JSON.stringify(commands[0])).toMatchObject({ outcome: 'applied', operation: 'SEED_OP_GERMINATE' });
    expect(['hidden1', 'hidden2']).toContain(commands[0]!.target);
    expect(commands[0]!.blueprint_id).toMatch(/^residual-mlp/);
    // The policy's normaliser and registries persist in the run directory.
    expect(readdirSync(join(dir, 'tamiyo'))).toEqual(expect.arrayContaining(['gnn_norms.json', 'seed_registry.json']));
    expect(stdout).not.toBe('');
  });

  it('with tamiyo.gnn.precision int8 the run completes on the int8 policy and its telemetry says so', { timeout: 180_000 }, async () => {
    const { result, out } = await runGnnQuickstart(", gnn: { precision: 'int8' }", 2);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { dir, summary } = readRun(out);
    expect(summary.outcome).toBe('completed');
    const commands = readFileSync(join(dir, 'commands.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CommandLogLine);
    expect(commands).toHaveLength(2);
    for (const c of commands) expect((c.command as { annotations: Record<string, string> }).annotations.controller).toBe('gnn');
    const telemetry = readFileSync(join(dir, 'telemetry.jsonl'), 'utf8');
    expect(telemetry).toContain('"policy_precision":"int8"');
  });
});
