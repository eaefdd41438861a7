// `esper run` end to end on toy plugins (fixtures/toy-plugins.ts, on the public plugin API):
// the command line, bad input refused before training with its code, progress, the run
// directory and the summary.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli, type CommandLogLine, type ProgressLine, type RunSummary } from '../../src/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
// Left to the OS's temp cleaning: a failed test's run directory is worth a look.
const scratch = mkdtempSync(join(tmpdir(), 'esper-run-test-'));

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], options: { env?: Record<string, string>; tty?: PassThrough & { isTTY?: boolean }; signal?: AbortSignal } = {}): Promise<Cli> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: options.env ?? {},
    cwd: fixtures,
    ...(options.tty !== undefined ? { progressStream: options.tty } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  return { code, stdout, stderr };
}

/** A fresh, empty folder for `--out`. */
function outDir(): string {
  return mkdtempSync(join(scratch, 'out-'));
}

function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}

function onlyRunDir(out: string): string {
  const entries = readdirSync(out);
  expect(entries).toHaveLength(1);
  return join(out, entries[0]!);
}

describe('esper run on a short toy run', () => {
  const out = outDir();
  const secret = 'never-print-this-secret';
  let result: Cli;
  let dir: string;

  it('trains, prints one JSON line per epoch off a terminal, then the summary, and exits 0', async () => {
    result = await cli(['run', 'toy.config.ts', '--epochs', '4', '--seed', '7', '--out', out], {
      env: { ESPER_LEYLINE_SECRET: secret, TOY_MAX_EPOCHS: '9' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    dir = onlyRunDir(out);

    const lines = jsonLines<ProgressLine>(result.stdout);
    expect(lines.map((l) => l.event)).toEqual(['run:start', 'epoch', 'epoch', 'epoch', 'epoch', 'run:end']);
    const start = lines[0] as Extract<ProgressLine, { event: 'run:start' }>;
    expect(start).toMatchObject({ dir, seed: 7, epochs: 4, seeds: { hidden1: 'DORMANT', hidden2: 'DORMANT' } });
    const first = lines[1] as Extract<ProgressLine, { event: 'epoch' }>;
    expect(first).toMatchObject({ epoch: 1, epochs: 4, step: 4, val_accuracy: 83, train_accuracy: 82, samples_per_s: 5000 });
    const third = lines[3] as Extract<ProgressLine, { event: 'epoch' }>;
    expect(third.transitions).toContainEqual({ seed: 'hidden2', from: 'GERMINATED', to: 'TRAINING', epoch: 3 });
    expect(lines.at(-1)).toEqual({ event: 'run:end', outcome: 'completed', epochs_done: 4 });
  });

  it('lets --epochs win over the environment variable of the same option, and --seed over run.seed', () => {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
      run: { seed: number; dir: string };
      toyTrainer: { maxEpochs: number };
      security: { leylineSecret: string };
    };
    expect(config.toyTrainer.maxEpochs).toBe(4);
    expect(config.run.seed).toBe(7);
    expect(config.run.dir).toBe(out);
    expect(config.security.leylineSecret).toBe('***');
  });

  it('writes the run directory: config, log, telemetry, commands, checkpoints, summary', () => {
    expect(readdirSync(dir).sort()).toEqual(['checkpoints', 'commands.ndjson', 'config.json', 'run.log', 'summary.json', 'telemetry.jsonl']);
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual([1, 2, 3, 4].map((n) => `epoch-${n}.ckpt`));
    for (const file of readdirSync(dir).filter((f) => f !== 'checkpoints')) {
      expect(readFileSync(join(dir, file), 'utf8'), file).not.toContain(secret);
    }

    const telemetry = jsonLines<{ packet: { packet_id: string } }>(readFileSync(join(dir, 'telemetry.jsonl'), 'utf8'));
    expect(telemetry.map((t) => t.packet.packet_id)).toEqual(['toy-1', 'toy-2', 'toy-3', 'toy-4']);

    const commands = jsonLines<CommandLogLine>(readFileSync(join(dir, 'commands.ndjson'), 'utf8'));
    expect(commands.map((c) => [c.epoch, c.outcome, c.type, c.target, c.operation, c.blueprint_id, c.decision])).toEqual([
      [1, 'applied', 'COMMAND_SEED', 'hidden1', 'SEED_OP_GERMINATE', 'residual-8', undefined],
      [2, 'applied', 'COMMAND_SEED', 'hidden2', 'SEED_OP_GERMINATE', 'residual-4', undefined],
      [3, 'applied', 'COMMAND_SEED', 'hidden2', 'SEED_OP_CULL', undefined, undefined],
      [4, 'applied', 'COMMAND_PAUSE', '', undefined, undefined, 'wait'],
    ]);
    expect((commands[0]!.command as { command_id: string }).command_id).toBe('toy-1');

    const log = jsonLines<{ msg: string; runId: string }>(readFileSync(join(dir, 'run.log'), 'utf8'));
    expect(log.map((l) => l.msg)).toContain('run started');
  });

  it('summarises accuracy per epoch, parameters before and after, and each seed’s path and fate', () => {
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary).toMatchObject({ outcome: 'completed', seed: 7, maxEpochs: 4, trainer: 'toy-trainer', config: 'toy.config.ts' });
    expect(summary.epochs.map((e) => e.valAccuracy)).toEqual([83, 86, 89, 92]);
    expect(summary.finalValAccuracy).toBe(92);
    expect(summary.parameters).toEqual({ initial: 1000, final: 1128 });
    expect(summary.commands).toEqual({ issued: 4, applied: 4, rejected: 0 });
    expect(summary.files).toEqual([
      'checkpoints/epoch-1.ckpt',
      'checkpoints/epoch-2.ckpt',
      'checkpoints/epoch-3.ckpt',
      'checkpoints/epoch-4.ckpt',
      'commands.ndjson',
      'config.json',
      'run.log',
      'summary.json',
      'telemetry.jsonl',
    ]);
    expect(summary.seeds).toEqual([
      {
        seedId: 'hidden1',
        slot: 'hidden1',
        blueprintId: 'residual-8',
        fate: 'LIVE',
        stage: 'PROBATIONARY',
        path: [
          { stage: 'GERMINATED', epoch: 1, reason: 'toy' },
          { stage: 'TRAINING', epoch: 2, reason: 'toy' },
          { stage: 'BLENDING', epoch: 3, reason: 'toy' },
          { stage: 'PROBATIONARY', epoch: 4, reason: 'toy' },
        ],
      },
      {
        seedId: 'hidden2',
        slot: 'hidden2',
        blueprintId: 'residual-4',
        fate: 'CULLED',
        stage: 'EMBARGOED',
        path: [
          { stage: 'GERMINATED', epoch: 2, reason: 'toy' },
          { stage: 'TRAINING', epoch: 3, reason: 'toy' },
          { stage: 'CULLED', epoch: 3, reason: 'toy' },
          { stage: 'EMBARGOED', epoch: 4, reason: 'toy' },
        ],
      },
    ]);

    // The printed summary says the same.
    const table = result.stdout.slice(result.stdout.lastIndexOf('"run:end"'));
    expect(table).toContain(`Run ${summary.runId} completed 4 epochs in`);
    expect(table).toMatch(/epoch\s+train loss\s+train acc\s+val loss\s+val acc\s+samples\/s\s+seeds/);
    expect(table).toMatch(/\n\s+4\s+0\.3000\s+91\.00 %\s+0\.2500\s+92\.00 %\s+5,000\s+hidden1 PROBATIONARY, hidden2 EMBARGOED\n/);
    expect(table).toContain('Parameters           1,000 → 1,128 (+128)');
    expect(table).toMatch(/hidden1\s+residual-8\s+live \(PROBATIONARY\)\s+GERMINATED e1 → TRAINING e2 → BLENDING e3 → PROBATIONARY e4/);
    expect(table).toMatch(/hidden2\s+residual-4\s+CULLED\s+GERMINATED e2 → TRAINING e3 → CULLED e3 → EMBARGOED e4\n/);
    expect(table).toContain('checkpoints/ (4)');
  });

  it('a seed that reaches FOSSILIZED is reported so, and a folder target finds its esper.config.ts', async () => {
    const more = outDir();
    const r = await cli(['run', 'example', '--out', more, '--json']);
    expect(r.code).toBe(0);
    const lines = jsonLines<{ event: string } & Partial<RunSummary>>(r.stdout);
    const summary = lines.at(-1)!;
    expect(summary.event).toBe('summary');
    expect(summary.config).toBe(join('example', 'esper.config.ts'));
    expect(summary.seeds!.find((s) => s.slot === 'hidden1')).toMatchObject({ fate: 'FOSSILIZED', stage: 'FOSSILIZED' });
    expect(summary.freeSlots).toEqual([]);
    // --json: JSON lines only.
    expect(r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('{'))).toEqual([]);
  });
});

describe('live progress on a terminal', () => {
  it('draws a bar with epoch, step, loss, accuracy, samples/s and the seeds, and logs stage changes', async () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    let drawn = '';
    tty.on('data', (chunk: Buffer) => (drawn += chunk.toString('utf8')));
    const r = await cli(['run', 'toy.config.ts', '--epochs', '3', '--out', outDir()], { tty });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('"event":"epoch"');
    expect(r.stdout).toContain('completed 3 epochs');
    expect(drawn).toMatch(/epoch 3 \S+ 100 % · step 12 · loss [\d.]+ · val acc 89\.00 % · 5,000 samples\/s/);
    expect(drawn).toContain('seeds  hidden1 BLENDING, hidden2 CULLED');
    expect(drawn).toContain('epoch 1: seed hidden1 (residual-8) DORMANT → GERMINATED — toy');
  });
});

describe('bad input is refused before training, with its code and no stack trace', () => {
  async function refused(args: string[], code: number, errorCode: string, text: string): Promise<void> {
    const out = args.includes('--out') ? undefined : outDir();
    const r = await cli(out === undefined ? args : [...args, '--out', out]);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toContain(text);
    expect(r.stderr).toContain(errorCode);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).not.toContain('"event":"epoch"');
    if (out !== undefined) expect(readdirSync(out)).toEqual([]);
  }

  it('--epochs 0, a fraction, a word; --seed -1: ESPER_CLI_INVALID_OPTION, exit 2', async () => {
    await refused(['run', 'toy.config.ts', '--epochs', '0'], 2, '[ESPER_CLI_INVALID_OPTION]', '--epochs must be a whole number of epochs ≥ 1, got "0"');
    await refused(['run', 'toy.config.ts', '--epochs', '2.5'], 2, '[ESPER_CLI_INVALID_OPTION]', 'got "2.5"');
    await refused(['run', 'toy.config.ts', '--epochs', 'many'], 2, '[ESPER_CLI_INVALID_OPTION]', 'got "many"');
    await refused(['run', 'toy.config.ts', '--seed', '-1'], 2, '[ESPER_CLI_INVALID_OPTION]', '--seed must be a whole number ≥ 0');
    await refused(['run', 'toy.config.ts', '--out', outDir(), '--epochs'], 2, '[ESPER_CLI_USAGE]', "option '--epochs <n>' argument missing");
  });

  it('an unknown controller policy: ESPER_CONFIG_INVALID with its path, exit 1', async () => {
    await refused(['run', 'unknown-controller.config.ts'], 1, '[ESPER_CONFIG_INVALID]', 'toyController.policy: expected one of "heuristic", got "gnn-v9"');
  });

  it('an unknown blueprint, found by the plugin at boot: the plugin’s code under the kernel’s, exit 1', async () => {
    await refused(
      ['run', 'unknown-blueprint.config.ts'],
      1,
      '[ESPER_KERNEL_HOOK_FAILED ← ESPER_TOY_UNKNOWN_BLUEPRINT]',
      'Unknown blueprint "conv9"; the catalogue has residual-4, residual-8.',
    );
  });

  it('an --out that cannot be written: ESPER_RUN_OUT_NOT_WRITABLE, exit 1', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'not a folder');
    await refused(['run', 'toy.config.ts', '--out', join(file, 'runs')], 1, '[ESPER_RUN_OUT_NOT_WRITABLE]', `Cannot write runs to ${join(file, 'runs')} (ENOTDIR)`);
  });

  it.runIf(existsSync('/proc/self'))('an --out under /proc: refused at once (Node’s recursive mkdir would never return there)', async () => {
    await refused(['run', 'toy.config.ts', '--out', '/proc/no-such-folder/runs'], 1, '[ESPER_RUN_OUT_NOT_WRITABLE]', 'Cannot write runs to /proc/no-such-folder/runs (ENOENT)');
  });

  it('a target that is missing, a folder without a config, a config without a trainer: exit 1', async () => {
    await refused(['run', 'nowhere'], 1, '[ESPER_RUN_TARGET_NOT_FOUND]', 'nowhere does not exist');
    await refused(['run', 'empty-example'], 1, '[ESPER_RUN_TARGET_NOT_FOUND]', 'empty-example is a folder without a config: expected one of esper.config.ts');
    await refused(['run', 'no-trainer.config.ts'], 1, '[ESPER_RUN_NO_TRAINER]', 'no-trainer.config.ts has no trainer');
  });
});

describe('a run that fails or is stopped', () => {
  it('a trainer that throws: exit 3, ESPER_RUN_FAILED, summary of the epochs done', async () => {
    const out = outDir();
    const r = await cli(['run', 'failing.config.ts', '--out', out]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('failed during training: toy trainer diverged: loss is NaN');
    expect(r.stderr).toContain('[ESPER_RUN_FAILED]');
    expect(r.stdout).toContain('failed after 2 epochs');
    const summary = JSON.parse(readFileSync(join(onlyRunDir(out), 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.outcome).toBe('failed');
    expect(summary.error).toEqual({ message: 'toy trainer diverged: loss is NaN' });
    expect(summary.epochs).toHaveLength(2);
  });

  it('an aborted run ends "stopped" with exit 130 and still writes its summary', async () => {
    const out = outDir();
    const controller = new AbortController();
    controller.abort(new Error('interrupted by SIGINT'));
    const r = await cli(['run', 'toy.config.ts', '--out', out], { signal: controller.signal });
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('stopped after 0 epochs');
    expect(existsSync(join(onlyRunDir(out), 'summary.json'))).toBe(true);
  });
});
