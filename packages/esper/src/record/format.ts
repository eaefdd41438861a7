import { relative, sep } from 'node:path';
import type { EpochSummary, RunSummary, SeedLife } from './summary.js';

/**
 * Plain aligned text, not a table library: the summary is read in terminals and CI logs and pasted
 * into issues and READMEs, where box-drawing characters and colour codes get in the way.
 */
export function formatTable(rows: readonly (readonly string[])[], indent = '  '): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `${indent}${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}\n`).join('');
}

/** `95.12 %`, or `-` when unknown. */
export function formatPercent(value: number | undefined): string {
  return value === undefined ? '-' : `${value.toFixed(2)} %`;
}

/** `0.2134`, or `-`. */
export function formatLoss(value: number | undefined): string {
  return value === undefined ? '-' : value < 0.001 ? value.toExponential(2) : value.toFixed(4);
}

/** `12,345`, or `-`. */
export function formatCount(value: number | undefined): string {
  return value === undefined ? '-' : Math.round(value).toLocaleString('en-US');
}

/** `850 ms`, `8.3 s`, `1 min 52 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** `TRAINING e1 → BLENDING e3 → FOSSILIZED e5`. */
export function formatSeedPath(life: SeedLife): string {
  return life.path.map((s) => (s.epoch === undefined ? s.stage : `${s.stage} e${s.epoch}`)).join(' → ');
}

/** The non-dormant seeds of an epoch, `hidden1 TRAINING`, or `-`. */
export function formatEpochSeeds(seeds: EpochSummary['seeds']): string {
  const live = Object.entries(seeds).filter(([, stage]) => stage !== 'DORMANT' && stage !== 'UNKNOWN');
  return live.length === 0 ? '-' : live.map(([id, stage]) => `${id} ${stage}`).join(', ');
}

/** A path for people: relative to `cwd` when inside it. */
export function displayPath(path: string, cwd: string): string {
  const inside = relative(cwd, path);
  return inside === '' ? '.' : inside.startsWith('..') ? path : inside;
}

/**
 * The summary `esper run` prints at the end: accuracy and loss per epoch, parameter count before
 * and after growth, each seed's blueprint, slot, stages with the epoch it entered each, and fate.
 */
export function formatSummary(summary: RunSummary, cwd: string): string {
  const out: string[] = [];
  const done = summary.epochs.length;
  const verb =
    summary.outcome === 'completed' ? 'completed' : summary.outcome === 'stopped' ? 'stopped after' : 'failed after';
  out.push(
    `Run ${summary.runId} ${verb} ${done} epoch${done === 1 ? '' : 's'} in ${formatDuration(summary.wallMs)} (seed ${summary.seed}).\n`,
  );
  if (summary.error !== undefined) out.push(`  ${summary.error.message}${summary.error.code ? ` [${summary.error.code}]` : ''}\n`);
  out.push('\n');

  if (done > 0) {
    out.push(
      formatTable([
        ['epoch', 'train loss', 'train acc', 'val loss', 'val acc', 'samples/s', 'seeds'],
        ...summary.epochs.map((e) => [
          String(e.epoch),
          formatLoss(e.trainLoss),
          formatPercent(e.trainAccuracy),
          formatLoss(e.valLoss),
          formatPercent(e.valAccuracy),
          formatCount(e.samplesPerS),
          formatEpochSeeds(e.seeds),
        ]),
      ]),
    );
    out.push('\n');
  }

  if (summary.finalValAccuracy !== undefined) {
    const best = summary.bestValAccuracy;
    out.push(
      `Validation accuracy  ${formatPercent(summary.finalValAccuracy)} at the end` +
        (best !== undefined && best.value > summary.finalValAccuracy ? ` (best ${formatPercent(best.value)} in epoch ${best.epoch})` : '') +
        '\n',
    );
  }
  const { initial, final } = summary.parameters;
  if (initial !== undefined || final !== undefined) {
    const delta = initial !== undefined && final !== undefined ? final - initial : undefined;
    out.push(
      `Parameters           ${formatCount(initial)} → ${formatCount(final)}` +
        (delta !== undefined ? ` (${delta >= 0 ? '+' : '−'}${formatCount(Math.abs(delta))})` : '') +
        '\n',
    );
  }
  const c = summary.commands;
  out.push(`Commands             ${c.issued} issued, ${c.applied} applied, ${c.rejected} rejected\n`);

  out.push('\nSeeds\n');
  if (summary.seeds.length === 0) {
    out.push('  none germinated\n');
  } else {
    out.push(
      formatTable([
        ['slot', 'blueprint', 'fate', 'stages (epoch entered)'],
        ...summary.seeds.map((s) => [s.slot, s.blueprintId ?? '-', s.fate === 'LIVE' ? `live (${s.stage})` : s.fate, formatSeedPath(s)]),
      ]),
    );
  }
  if (summary.freeSlots.length > 0) out.push(`  free slots: ${summary.freeSlots.join(', ')}\n`);

  const dir = displayPath(summary.dir, cwd);
  // Top-level entries; a folder (checkpoints/, tamiyo/) is shown once with how many files it holds.
  const top = new Map<string, number>();
  for (const f of summary.files) {
    const [head, ...rest] = f.split(/[\\/]/);
    top.set(head!, (top.get(head!) ?? 0) + (rest.length > 0 ? 1 : 0));
  }
  out.push(
    `\nRun directory ${dir}${sep}\n  ${[...top].map(([f, n]) => (n > 0 ? `${f}/ (${n})` : f)).join(', ')}\n`,
  );
  return out.join('');
}
