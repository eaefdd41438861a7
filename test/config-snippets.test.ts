// Every config snippet a reader may copy is a config that loads and validates: the fenced
// blocks of docs/*.md, README.md, examples/*/README.md and packages/*/README.md that are
// configs (a ts/js block with `export default` and `defineConfig(`, a json block with
// "plugins"), and the examples' own esper.config.{ts,json}. Each is written to a temp folder
// whose node_modules links every workspace package, then loaded and composed exactly as
// `esper validate` does (loadConfigFile + createEsper: options, plugins, ports), with an empty
// environment except what the snippet states in a comment (`NAME=value in the environment`).
// Snippets load the built packages, like a user's config (`pnpm test` builds first).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEsper, loadConfigFile } from '../packages/core/src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT_FENCES = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);

interface Snippet {
  /** `docs/configuration.md:12` (the line of the opening fence). */
  readonly where: string;
  readonly kind: 'ts' | 'json';
  readonly text: string;
}

function markdownFiles(): string[] {
  const inFolder = (dir: string, match: (name: string) => boolean): string[] =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .filter(match)
          .sort()
          .map((name) => `${dir}/${name}`)
      : [];
  const readmes = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, dir, entry.name, 'README.md')))
      .map((entry) => `${dir}/${entry.name}/README.md`)
      .sort();
  return ['README.md', ...inFolder('docs', (name) => name.endsWith('.md')), ...readmes('examples'), ...readmes('packages')];
}

/** The config snippets of one markdown file. */
function configSnippets(file: string, text: string): Snippet[] {
  const found: Snippet[] = [];
  for (const m of text.matchAll(/^```(\w*)[^\n]*\n([\s\S]*?)^```/gm)) {
    const lang = (m[1] ?? '').toLowerCase();
    const body = m[2] ?? '';
    const where = `${file}:${text.slice(0, m.index).split('\n').length}`;
    if (SCRIPT_FENCES.has(lang) && /\bexport default\b/.test(body) && /\bdefineConfig\(/.test(body)) found.push({ where, kind: 'ts', text: body });
    else if (lang === 'json' && /"plugins"\s*:/.test(body)) found.push({ where, kind: 'json', text: body });
  }
  return found;
}

const snippets = markdownFiles().flatMap((file) => configSnippets(file, readFileSync(join(root, file), 'utf8')));
const exampleConfigs = readdirSync(join(root, 'examples'))
  .flatMap((example) => ['esper.config.ts', 'esper.config.json'].map((name) => `examples/${example}/${name}`))
  .filter((file) => existsSync(join(root, file)));

let folder: string;

beforeAll(() => {
  // A user's project in miniature: node_modules/@esper/* → the workspace packages, and zod.
  folder = mkdtempSync(join(tmpdir(), 'esper-snippets-'));
  const modules = join(folder, 'node_modules');
  mkdirSync(join(modules, '@esper'), { recursive: true });
  for (const dir of readdirSync(join(root, 'packages'))) {
    const manifest = join(root, 'packages', dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string };
    symlinkSync(join(root, 'packages', dir), join(modules, name), 'dir');
  }
  symlinkSync(realpathSync(join(root, 'packages', 'core', 'node_modules', 'zod')), join(modules, 'zod'), 'dir');
});

afterAll(() => {
  if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
});

/** The variables a snippet says are set: `// REDIS_URL=rediss://… in the environment`. */
function statedEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*\/\/.*?\b([A-Z][A-Z0-9_]*)=(\S+) in the environment/gm)) env[m[1]!] = m[2]!;
  return env;
}

/** Loads and composes a config as `esper validate` does; resolves to the plugin names in boot order. */
async function validate(file: string, source: string, env: Record<string, string> = {}): Promise<string[]> {
  const esper = createEsper(await loadConfigFile(file), { env, source });
  return esper.plan.order.map((p) => p.plugin.name);
}

describe('config snippets in the docs', () => {
  it('are found (guards the scan): the TypeScript and JSON examples of docs/configuration.md among them', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(8);
    const configuration = snippets.filter((s) => s.where.startsWith('docs/configuration.md:'));
    expect(configuration.map((s) => s.kind)).toEqual(['ts', 'json']);
    expect(configuration[1]!.text).toContain('"@esper/plugin-oona-memory"');
  });

  it('read the environment a snippet states in a comment', () => {
    expect(statedEnv('// esper.config.ts; REDIS_URL=rediss://u:p@h:6380/0 in the environment\nconst a = 1;')).toEqual({ REDIS_URL: 'rediss://u:p@h:6380/0' });
    expect(statedEnv('const url = "REDIS_URL=x in the environment";')).toEqual({});
  });

  it.each(snippets.map((s, i) => [s.where, s, i] as const))('%s loads and validates', async (where, snippet, i) => {
    const file = join(folder, `snippet-${i}.config.${snippet.kind}`);
    writeFileSync(file, snippet.text);
    const plugins = await validate(file, where, statedEnv(snippet.text));
    expect(plugins.length, `${where} composes no plugin`).toBeGreaterThan(0);
  });

  it('the JSON example of docs/configuration.md composes the same plugins as its TypeScript twin', async () => {
    const [ts, json] = snippets.filter((s) => s.where.startsWith('docs/configuration.md:'));
    writeFileSync(join(folder, 'twin.config.ts'), ts!.text);
    writeFileSync(join(folder, 'twin.config.json'), json!.text);
    const fromTs = createEsper(await loadConfigFile(join(folder, 'twin.config.ts')), { env: {} });
    const fromJson = createEsper(await loadConfigFile(join(folder, 'twin.config.json')), { env: {} });
    expect(fromJson.plan.order.map((p) => p.plugin.name)).toEqual(fromTs.plan.order.map((p) => p.plugin.name));
    expect(fromJson.config.masked()).toEqual(fromTs.config.masked());
  });
});

describe('example configs', () => {
  it.each(exampleConfigs)('%s loads and validates', async (file) => {
    expect((await validate(join(root, file), relative(root, join(root, file)))).length).toBeGreaterThan(0);
  });
});
