import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { toBinary } from '@bufbuild/protobuf';
import {
  createEsper,
  EsperError,
  JsonLogger,
  LeylineSigner,
  loadConfigFile,
  resolveConfig,
  Tokens,
  type Env,
  type Oona,
  type PublishResult,
  type Signer,
} from '@esper/core';
import { PolicyUpdateSchema, type PolicyUpdate } from '@esper/core/leyline';
import type { Command } from 'commander';
import { resolveRunTarget } from '../run/target.js';
import type { CliIo } from './io.js';

/** What `esper policy` needs of `@esper/plugin-tamiyo` (its `packPolicyUpdate` and `publishPolicyUpdate`). */
export interface PolicyTools {
  packPolicyUpdate(signer: Signer, source: { path: string; policyVersion: string; policyId?: string; issuedAtMs?: number }): Promise<PolicyUpdate>;
  publishPolicyUpdate(
    oona: Oona,
    signer: Signer,
    source: { path: string; policyVersion: string; policyId?: string; stream?: string },
  ): Promise<{ readonly update: PolicyUpdate; readonly published: Exclude<PublishResult, false>; readonly stream: string; readonly sizeBytes: number }>;
}

/** Loads {@link PolicyTools} as seen from `fromFile` (a config file, or a file in the working directory). */
export type PolicyToolsLoader = (fromFile: string) => Promise<PolicyTools>;

/**
 * `esper policy` could not do what it was asked: no secret to sign with, no Oona plugin in the
 * config, or `@esper/plugin-tamiyo` cannot be loaded from the config's folder.
 */
export class PolicyCommandError extends EsperError<'ESPER_CLI_POLICY'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_CLI_POLICY', message, options);
  }
}

/**
 * The default {@link PolicyToolsLoader}: `@esper/plugin-tamiyo` resolved from `fromFile`'s folder,
 * as a JSON config's plugins are (the project that runs Tamiyo has it installed; `esper` itself
 * does not depend on it).
 */
export const loadPolicyTools: PolicyToolsLoader = async (fromFile) => {
  try {
    const path = createRequire(fromFile).resolve('@esper/plugin-tamiyo');
    return (await import(pathToFileURL(path).href)) as PolicyTools;
  } catch (error) {
    throw new PolicyCommandError(
      `cannot load @esper/plugin-tamiyo from ${resolve(fromFile, '..')}: ${error instanceof Error ? error.message.split('\n', 1)[0] : String(error)}. ` +
        'Install it in the project (pnpm add @esper/plugin-tamiyo) or run the command from that project.',
      { cause: error },
    );
  }
};

/** Options of the `policy` commands' actions. */
interface PolicyContext {
  readonly io: CliIo;
  readonly env: Env;
  readonly cwd: string;
  readonly loader: PolicyToolsLoader;
  readonly onConfig: (config: string) => void;
}

/**
 * Adds `esper policy pack` and `esper policy publish` (decision 0064) to `program`: build a signed
 * policy update from an ONNX model or a weights file, write it to a file or publish it on the
 * Oona of a config.
 */
export function addPolicyCommands(program: Command, ctx: PolicyContext): void {
  const policy = program.command('policy').description("build and publish signed policy updates for Tamiyo's GNN controller");

  policy
    .command('publish')
    .description("sign a policy update from an ONNX model or weights file and publish it on the config's Oona policy stream")
    .argument('<config>', 'esper.config.ts / .json (its Oona plugin, oona settings and ESPER_LEYLINE_SECRET), or a folder holding one')
    .argument('<file>', '.onnx model, safetensors state_dict, or a checkpoint written by savePolicyWeights')
    .requiredOption('--version <v>', 'policy version to install: tamiyo_gnn_v1@<tag>, or just <tag>')
    .option('--id <policyId>', 'update id (default <tag>-<body digest>); an id already applied is refused')
    .option('--stream <name>', "stream to publish to (default the config's oona.policyStream)")
    .action(async (target: string, file: string, opts: { version: string; id?: string; stream?: string }) => {
      ctx.onConfig(target);
      await publishCommand(target, file, opts, ctx);
    });

  policy
    .command('pack')
    .description('sign a policy update from an ONNX model or weights file and write it (a serialized Leyline PolicyUpdate) to a file')
    .argument('<file>', '.onnx model, safetensors state_dict, or a checkpoint written by savePolicyWeights')
    .requiredOption('--version <v>', 'policy version to install: tamiyo_gnn_v1@<tag>, or just <tag>')
    .requiredOption('--out <path>', 'file to write the PolicyUpdate to')
    .option('--id <policyId>', 'update id (default <tag>-<body digest>)')
    .option('--config <config>', 'take the signing secret from this config (default: ESPER_LEYLINE_SECRET)')
    .action(async (file: string, opts: { version: string; out: string; id?: string; config?: string }) => {
      if (opts.config !== undefined) ctx.onConfig(opts.config);
      await packCommand(file, opts, ctx);
    });
}

async function packCommand(file: string, opts: { version: string; out: string; id?: string; config?: string }, ctx: PolicyContext): Promise<void> {
  const { cwd, env, io } = ctx;
  let secret = env.ESPER_LEYLINE_SECRET;
  let from = join(cwd, 'esper.config.ts');
  if (opts.config !== undefined) {
    const configFile = resolveRunTarget(opts.config, cwd);
    from = configFile;
    const resolved = resolveConfig(await loadConfigFile(configFile), { env, source: configFile });
    secret = resolved.core.security.leylineSecret;
  }
  const signer = signerFor(secret);
  const tools = await ctx.loader(from);
  const update = await tools.packPolicyUpdate(signer, { path: resolve(cwd, file), policyVersion: opts.version, ...(opts.id !== undefined ? { policyId: opts.id } : {}) });
  const bytes = toBinary(PolicyUpdateSchema, update);
  const out = resolve(cwd, opts.out);
  writeFileSync(out, bytes);
  io.stdout(`packed ${update.policyId} (${update.tamiyoPolicyVersion}, ${bytes.byteLength} bytes) to ${relative(cwd, out) || out}\n`);
}

async function publishCommand(target: string, file: string, opts: { version: string; id?: string; stream?: string }, ctx: PolicyContext): Promise<void> {
  const { cwd, env, io } = ctx;
  const configFile = resolveRunTarget(target, cwd);
  const inside = relative(cwd, configFile);
  const source = inside.startsWith('..') || inside === '' ? configFile : inside;
  const raw = (await loadConfigFile(configFile)) as Record<string, unknown>;
  // Only the Oona plugin boots (with the core sections): a Tamiyo started here would consume the
  // update itself, and a trainer is not wanted. The run directory is a temporary one.
  const plugins = Array.isArray(raw.plugins) ? (raw.plugins as unknown[]) : [];
  const isOona = (p: unknown): boolean => Array.isArray((p as { provides?: unknown[] } | null)?.provides) && (p as { provides: unknown[] }).provides.includes(Tokens.Oona);
  const oonaPlugins = plugins.filter(isOona);
  if (oonaPlugins.length === 0) throw new PolicyCommandError(`${source} has no Oona plugin: add @esper/plugin-oona-redis (or -memory) to its plugins to publish policy updates`);
  const dropped = new Set(plugins.filter((p) => !isOona(p)).map((p) => (p as { configKey?: unknown } | null)?.configKey).filter((k): k is string => typeof k === 'string'));
  const dir = mkdtempSync(join(tmpdir(), 'esper-policy-'));
  try {
    const runSection = typeof raw.run === 'object' && raw.run !== null ? (raw.run as Record<string, unknown>) : {};
    const kept = Object.fromEntries(Object.entries(raw).filter(([key]) => !dropped.has(key)));
    const resolved = resolveConfig({ ...kept, plugins: oonaPlugins, run: { ...runSection, dir } }, { env, source });
    const signer = signerFor(resolved.core.security.leylineSecret);
    const tools = await ctx.loader(configFile);
    const logger = new JsonLogger({ level: 'warn', secrets: resolved.secretValues(), write: io.stderr });
    const run = await createEsper(resolved, { source, logger }).start({ runId: 'policy-publish' });
    try {
      const result = await tools.publishPolicyUpdate(run.resolve(Tokens.Oona), signer, {
        path: resolve(cwd, file),
        policyVersion: opts.version,
        ...(opts.id !== undefined ? { policyId: opts.id } : {}),
        ...(opts.stream !== undefined ? { stream: opts.stream } : {}),
      });
      const unsure = result.published === 'unknown' ? ' (the backend did not confirm: check before publishing again)' : '';
      io.stdout(`published ${result.update.policyId} (${result.update.tamiyoPolicyVersion}, ${result.sizeBytes} bytes) to ${result.stream}${unsure}\n`);
    } finally {
      await run.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function signerFor(secret: string | undefined): Signer {
  if (secret === undefined || secret.trim() === '') {
    throw new PolicyCommandError('no signing secret: set ESPER_LEYLINE_SECRET (or security.leylineSecret) to the key the Tamiyo runs verify with');
  }
  return new LeylineSigner(secret);
}
