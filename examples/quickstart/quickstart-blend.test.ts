// P8 end to end: the quickstart with Tamiyo's GNN controller and blend-mode annotations on
// (`tamiyo.blendAnnotations`, TAMIYO_ENABLE_BLEND_MODE_ANN). The untrained policy grafts at the
// first epoch boundary; the signed SEED command carries the annotated mode, Tolaria hands it to
// Kasmina, and Kasmina's `blend_config` telemetry (telemetry.jsonl) reports that mode for the
// seed, computed as such (no fallback). Small data and 1 epoch keep each run to a few seconds.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandLogLine } from 'esper';
import { describe, expect, it } from 'vitest';
import { here, readRun, runQuickstart } from './test-helpers.js';

/** One telemetry event as telemetry.jsonl writes it (proto JSON names). */
interface EventLine {
  readonly description: string;
  readonly attributes?: Record<string, string>;
}

interface TelemetryLine {
  readonly packet: { readonly source_subsystem?: string; readonly events?: readonly EventLine[] };
}

/** `esper run` of the quickstart with the GNN controller and `blend` as `tamiyo.blendAnnotations`, 1 epoch. */
async function runWithBlend(blend: Record<string, unknown>) {
  const file = join(here, `.blend-${randomBytes(4).toString('hex')}.config.ts`);
  const overrides = {
    // 500 training digits, 100 held out, hidden widths 32: the seed's slot is 32 features wide.
    tolaria: { maxEpochs: 1, dataset: { trainSize: 500, validationSize: 100 }, host: { hidden: [32, 32] } },
    tamiyo: { controller: 'gnn', blendAnnotations: { enabled: true, ...blend } },
  };
  writeFileSync(
    file,
    `import base from './esper.config.js';\nconst o = ${JSON.stringify(overrides)};\n` +
      `export default { ...base, tolaria: { ...base.tolaria, ...o.tolaria }, tamiyo: { ...base.tamiyo, ...o.tamiyo } };\n`,
  );
  const out = mkdtempSync(join(tmpdir(), 'esper-quickstart-blend-'));
  try {
    const result = await runQuickstart(file, 1, out);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { dir, summary } = readRun(out);
    expect(summary.outcome).toBe('completed');
    const commands = readFileSync(join(dir, 'commands.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CommandLogLine);
    const telemetry = readFileSync(join(dir, 'telemetry.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TelemetryLine);
    const events = telemetry.flatMap((t) => (t.packet.events ?? []).map((e) => ({ source: t.packet.source_subsystem, ...e })));
    return { commands, events };
  } finally {
    rmSync(file, { force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

/** The first command, which the untrained policy makes a graft, applied by Kasmina. */
function firstGraft(commands: readonly CommandLogLine[]) {
  const graft = commands[0]!;
  expect(graft, JSON.stringify(graft)).toMatchObject({ outcome: 'applied', operation: 'SEED_OP_GERMINATE' });
  return { seedId: graft.target, annotations: (graft.command as { annotations: Record<string, string> }).annotations };
}

describe('examples/quickstart: Tamiyo annotates a blend mode, Kasmina blends the seed with it', () => {
  it('CONFIDENCE: the gate parameters Tamiyo signed are the seed’s blend configuration', { timeout: 120_000 }, async () => {
    const { commands, events } = await runWithBlend({ mode: 'CONFIDENCE', confidenceGateK: 4, confidenceGateTau: 0.2, alphaLo: 0.1, alphaHi: 0.9 });
    const { seedId, annotations } = firstGraft(commands);
    expect(annotations).toMatchObject({ controller: 'gnn', blend_mode: 'CONFIDENCE', blend_mode_source: 'override', gate_k: '4.0000', gate_tau: '0.2000', alpha_lo: '0.1000', alpha_hi: '0.9000' });
    const configs = events.filter((e) => e.description === 'blend_config' && e.attributes?.seed_id === seedId);
    expect(configs.length).toBeGreaterThan(0);
    for (const c of configs) expect(c.attributes).toEqual({ seed_id: seedId, mode: 'CONFIDENCE', source: 'override' });
    expect(events.filter((e) => e.description === 'blend_annotation_invalid')).toEqual([]);
  });

  it('CHANNEL: the seed blends per channel with a vector as wide as its slot', { timeout: 120_000 }, async () => {
    const { commands, events } = await runWithBlend({ mode: 'CHANNEL' });
    const { seedId, annotations } = firstGraft(commands);
    expect(annotations).toMatchObject({ blend_mode: 'CHANNEL', blend_mode_source: 'override', alpha_vec_len: '32' });
    expect(JSON.parse(annotations.alpha_vec!)).toEqual(new Array(32).fill(1));
    const configs = events.filter((e) => e.description === 'blend_config' && e.attributes?.seed_id === seedId);
    expect(configs.length).toBeGreaterThan(0);
    // No `effective_mode`/`fallback`: the graph computes CHANNEL, not the convex fallback.
    for (const c of configs) expect(c.attributes).toEqual({ seed_id: seedId, mode: 'CHANNEL', source: 'override', alpha_vec_len: '32' });
    expect(events.filter((e) => e.description === 'blend_annotation_invalid')).toEqual([]);
  });
});
