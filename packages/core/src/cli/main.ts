import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigLoadError, ConfigValidationError, formatIssue } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import type { Env } from '../config/resolve.js';
import { EsperError } from '../errors.js';
import { createEsper, type Esper } from '../kernel/kernel.js';
import { portInfo } from '../kernel/tokens.js';

/** Where the CLI reads and writes; injectable so tests run it in process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Environment (default `process.env` merged over `.env` in `cwd`). */
  readonly env?: Env;
  readonly cwd?: string;
}

const USAGE = `Usage: esper <command> [options]

Commands:
  validate <config>        Check a config (esper.config.ts or .json): options, env overrides, plugins and ports.
                           Exit 0 when valid, 1 with path-precise errors when not.
  config <config>          Print the resolved config (env overrides applied, secrets masked) and
                           which plugin provides each port.
  plugins <config>         List the composed plugins in boot order with their ports.

Options:
  --json                   Machine-readable output (config, plugins).
  -h, --help               Show this help.
  -v, --version            Show the version.

Environment overrides use the reference setting names (TAMIYO_STEP_TIMEOUT_MS, ESPER_LEYLINE_SECRET, ...).
A .env file in the working directory is read too; variables already set win.
`;

/**
 * Runs the `esper` command line and resolves to its exit code (0 ok, 1 invalid config or
 * failure, 2 usage error). Never calls `process.exit` itself.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const args = argv.filter((a) => !a.startsWith('-'));
  const flags = new Set(argv.filter((a) => a.startsWith('-')));
  const unknownFlags = [...flags].filter((f) => !['--json', '-h', '--help', '-v', '--version'].includes(f));
  if (flags.has('-h') || flags.has('--help')) {
    io.stdout(USAGE);
    return 0;
  }
  if (flags.has('-v') || flags.has('--version')) {
    io.stdout(`${readVersion()}\n`);
    return 0;
  }
  const [command, configPath, ...rest] = args;
  if (command === undefined) {
    io.stderr(USAGE);
    return 2;
  }
  if (unknownFlags.length > 0) {
    io.stderr(`Unknown option ${unknownFlags.join(', ')}.\n\n${USAGE}`);
    return 2;
  }
  if (!['validate', 'config', 'plugins'].includes(command)) {
    io.stderr(`Unknown command "${command}".\n\n${USAGE}`);
    return 2;
  }
  if (configPath === undefined || rest.length > 0) {
    io.stderr(`esper ${command} takes exactly one config path, e.g. esper ${command} esper.config.ts\n`);
    return 2;
  }
  const cwd = io.cwd ?? process.cwd();
  const env = io.env ?? withDotEnv(process.env, cwd);
  const json = flags.has('--json');

  let esper: Esper;
  try {
    const raw = await loadConfigFile(isAbsolute(configPath) ? configPath : join(cwd, configPath));
    esper = createEsper(raw, { env, source: configPath });
  } catch (error) {
    reportError(error, configPath, io);
    return 1;
  }

  switch (command) {
    case 'validate': {
      const names = esper.plan.order.map((p) => p.plugin.name);
      io.stdout(
        `✓ ${configPath} is valid: ${names.length} plugin${names.length === 1 ? '' : 's'}${names.length > 0 ? ` (${names.join(', ')})` : ''}.\n`,
      );
      const overrides = Object.entries(esper.config.envOverrides);
      if (overrides.length > 0) {
        io.stdout(`  environment overrides: ${overrides.map(([path, name]) => `${name} → ${path}`).join(', ')}\n`);
      }
      return 0;
    }
    case 'config': {
      const ports = Object.fromEntries(esper.plan.bindings.map((b) => [b.port, b.providers.join(', ') || '(none)']));
      if (json) {
        io.stdout(`${JSON.stringify({ config: esper.config.masked(), envOverrides: esper.config.envOverrides, ports }, null, 2)}\n`);
        return 0;
      }
      io.stdout(`# Resolved config for ${configPath} (secrets masked)\n`);
      io.stdout(`${JSON.stringify(esper.config.masked(), null, 2)}\n\n`);
      const overrides = Object.entries(esper.config.envOverrides);
      io.stdout(`# Set from the environment\n${overrides.length === 0 ? '  (nothing)\n' : overrides.map(([p, n]) => `  ${p} ← ${n}\n`).join('')}\n`);
      io.stdout(`# Ports\n${table([['port', 'provided by'], ...Object.entries(ports)])}`);
      return 0;
    }
    default: {
      const rows = esper.plan.order.map(({ plugin }, i) => ({
        order: i + 1,
        name: plugin.name,
        configKey: plugin.configKey,
        provides: (plugin.provides ?? []).map((t) => portInfo(t).name),
        requires: (plugin.requires ?? []).map((t) => portInfo(t).name),
      }));
      if (json) {
        io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
        return 0;
      }
      io.stdout(
        table([
          ['#', 'plugin', 'section', 'provides', 'requires'],
          ...rows.map((r) => [String(r.order), r.name, r.configKey, r.provides.join(', ') || '-', r.requires.join(', ') || '-']),
        ]),
      );
      return 0;
    }
  }
}

function reportError(error: unknown, configPath: string, io: CliIo): void {
  if (error instanceof ConfigValidationError) {
    io.stderr(`✗ ${configPath} is invalid (${error.issues.length} problem${error.issues.length === 1 ? '' : 's'}):\n`);
    for (const issue of error.issues) io.stderr(`  ${formatIssue(issue)}\n`);
    return;
  }
  if (error instanceof ConfigLoadError || error instanceof EsperError) {
    io.stderr(`✗ ${error.message}\n  [${error.code}]\n`);
    return;
  }
  io.stderr(`✗ unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}\n`).join('');
}

/** `process.env` over the variables of `<cwd>/.env` (variables already set win). */
export function withDotEnv(env: Env, cwd: string): Env {
  const file = join(cwd, '.env');
  if (!existsSync(file)) return env;
  return { ...parseEnv(readFileSync(file, 'utf8')), ...env };
}

function readVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  const fallback = new URL('../../package.json', import.meta.url);
  for (const candidate of [url, fallback]) {
    try {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@esper/core') return pkg.version ?? '0.0.0';
    } catch {
      // try the next location (source tree vs dist tree)
    }
  }
  return '0.0.0';
}
