import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import type { Env } from '@esper/core';
import type { PolicyToolsLoader } from './policy.js';

/** Where the CLI reads and writes; injectable so tests run it in process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Environment (default `process.env` merged over `.env` in `cwd`). */
  readonly env?: Env;
  /** Working directory for relative paths (default `process.cwd()`). */
  readonly cwd?: string;
  /**
   * Stream for live progress bars (`esper run` on a terminal). When it is absent or not a TTY,
   * `esper run` writes one JSON line per epoch to `stdout` instead. The binary passes
   * `process.stderr`.
   */
  readonly progressStream?: NodeJS.WritableStream & { readonly isTTY?: boolean };
  /** Aborting stops `esper run` at the trainer's next step boundary (the binary wires SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
  /** Loads `@esper/plugin-tamiyo` for `esper policy` (default: resolved from the config's folder). */
  readonly policyTools?: PolicyToolsLoader;
}

/** `process.env` over the variables of `<cwd>/.env` (variables already set win). */
export function withDotEnv(env: Env, cwd: string): Env {
  const file = join(cwd, '.env');
  if (!existsSync(file)) return env;
  return { ...parseEnv(readFileSync(file, 'utf8')), ...env };
}
