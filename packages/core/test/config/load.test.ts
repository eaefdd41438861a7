// loadConfigFile / loadConfig on files that are configs and on files that are not: each
// failure has its own ESPER_CONFIG_* code. Files are written to a fresh temp folder per test,
// since some cases (a directory named x.json) cannot be committed as fixtures.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigLoadError,
  ConfigNoDefaultExportError,
  ConfigNotAFileError,
  ConfigNotFoundError,
  ConfigPluginFactoryError,
  ConfigPluginModuleError,
  isEsperError,
  loadConfig,
  loadConfigFile,
  type EsperError,
} from '../../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'esper-load-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function loadError<C extends string>(file: string, code: C): Promise<EsperError<C>> {
  const error: unknown = await loadConfigFile(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `loading ${file} should fail with ${code}`).toBeInstanceOf(Error);
  expect((error as { code?: unknown }).code).toBe(code);
  if (!isEsperError(error, code)) throw new Error('unreachable');
  return error;
}

// A plugin module as a JSON config names it: plain objects, no import of @esper/core.
const PLUGINS_MJS = `
export default function greeter() { return { name: 'json-greeter', configKey: 'greeter', setup() {} }; }
export function exploding() { throw new Error('needs an apiKey'); }
export async function later() { return { name: 'async-plugin', configKey: 'later', setup() {} }; }
export const ready = { name: 'ready-plugin', configKey: 'ready', setup() {} };
`;

describe('script configs without a default export', () => {
  it('rejects an empty .ts file (jiti hands back an empty namespace)', async () => {
    const file = write('esper.config.ts', '');
    const error = await loadError(file, 'ESPER_CONFIG_NO_DEFAULT_EXPORT');
    expect(error).toBeInstanceOf(ConfigNoDefaultExportError);
    expect(error.message).toBe(`Config file ${file} exports nothing (is it empty?). End it with \`export default defineConfig({...})\`.`);
  });

  it('rejects a .ts file of comments and statements only', async () => {
    const file = write('esper.config.ts', '// a config, one day\nconst plugins: unknown[] = [];\nvoid plugins;\n');
    expect((await loadError(file, 'ESPER_CONFIG_NO_DEFAULT_EXPORT')).message).toContain('exports nothing');
  });

  it('rejects a .ts file with only named exports and names them', async () => {
    const file = write('esper.config.ts', 'export const config = { plugins: [] };\n');
    const error = (await loadError(file, 'ESPER_CONFIG_NO_DEFAULT_EXPORT')) as ConfigNoDefaultExportError;
    expect(error.exports).toEqual(['config']);
    expect(error.message).toContain('has no default export (it exports only `config`). End it with `export default config`');
  });

  it('rejects a .mjs file without a default export, and one whose default is undefined', async () => {
    const named = write('a.config.mjs', 'export const plugins = []; export const run = { name: "x" };\n');
    const error = (await loadError(named, 'ESPER_CONFIG_NO_DEFAULT_EXPORT')) as ConfigNoDefaultExportError;
    expect(error.exports).toEqual(['plugins', 'run']);
    expect(await loadError(write('b.config.mjs', ''), 'ESPER_CONFIG_NO_DEFAULT_EXPORT')).toBeInstanceOf(ConfigNoDefaultExportError);
    const undef = await loadError(write('c.config.ts', 'export default undefined;\n'), 'ESPER_CONFIG_NO_DEFAULT_EXPORT');
    expect(undef.message).toContain('exports `default` as undefined');
  });

  it('still loads default exports, config functions and CommonJS module.exports', async () => {
    expect(await loadConfigFile(write('a.config.ts', 'export default { run: { name: "ts" } };\n'))).toEqual({ run: { name: 'ts' } });
    expect(await loadConfigFile(write('b.config.mjs', 'export default async () => ({ run: { name: "fn" } });\n'))).toEqual({ run: { name: 'fn' } });
    expect(await loadConfigFile(write('c.config.cjs', 'module.exports = { run: { name: "cjs" } };\n'))).toEqual({ run: { name: 'cjs' } });
    expect(await loadConfigFile(write('d.config.ts', 'module.exports = { run: { name: "cts" } };\n'))).toEqual({ run: { name: 'cts' } });
    // A default export may sit beside named ones.
    expect(await loadConfigFile(write('e.config.ts', 'export const name = "x";\nexport default { run: { name } };\n'))).toEqual({ run: { name: 'x' } });
  });

  it('a config function that returns nothing is a load error', async () => {
    const error = await loadError(write('esper.config.mjs', 'export default () => {};\n'), 'ESPER_CONFIG_LOAD');
    expect(error).toBeInstanceOf(ConfigLoadError);
    expect(error.message).toContain('returned undefined');
  });
});

describe('paths that are not config files', () => {
  it('a missing file is ESPER_CONFIG_NOT_FOUND', async () => {
    const file = join(dir, 'nope.config.ts');
    const error = (await loadError(file, 'ESPER_CONFIG_NOT_FOUND')) as ConfigNotFoundError;
    expect(error).toBeInstanceOf(ConfigNotFoundError);
    expect(error.file).toBe(file);
    expect(error.message).toBe(`Config file not found: ${file}. Pass the path of an esper.config.ts or esper.config.json file.`);
  });

  it('a directory named x.json is ESPER_CONFIG_NOT_A_FILE, not invalid JSON', async () => {
    const folder = join(dir, 'x.json');
    mkdirSync(folder);
    const error = (await loadError(folder, 'ESPER_CONFIG_NOT_A_FILE')) as ConfigNotAFileError;
    expect(error).toBeInstanceOf(ConfigNotAFileError);
    expect(error.message).toBe(`Config path ${folder} is a directory, not a config file. Pass the path of an esper.config.ts or esper.config.json file.`);
    expect(error.candidates).toEqual([]);
  });

  it('a directory named x.ts is ESPER_CONFIG_NOT_A_FILE and names the configs it holds', async () => {
    const folder = join(dir, 'x.ts');
    mkdirSync(folder);
    writeFileSync(join(folder, 'esper.config.ts'), 'export default {};\n');
    writeFileSync(join(folder, 'esper.config.json'), '{}');
    writeFileSync(join(folder, 'notes.md'), '');
    const error = (await loadError(folder, 'ESPER_CONFIG_NOT_A_FILE')) as ConfigNotAFileError;
    expect(error.candidates).toEqual([join(folder, 'esper.config.json'), join(folder, 'esper.config.ts')]);
    expect(error.message).toContain(`It holds "${join(folder, 'esper.config.json')}", "${join(folder, 'esper.config.ts')}": pass that file instead.`);
    expect(error.message).not.toContain('Require stack');
  });

  it('loadConfig (load + validate) throws the same typed errors', async () => {
    await expect(loadConfig(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'ESPER_CONFIG_NOT_FOUND' });
    await expect(loadConfig(write('esper.config.ts', ''))).rejects.toMatchObject({ code: 'ESPER_CONFIG_NO_DEFAULT_EXPORT' });
  });

  it('an empty JSON file and an unknown extension are ESPER_CONFIG_LOAD', async () => {
    expect((await loadError(write('esper.config.json', '  \n'), 'ESPER_CONFIG_LOAD')).message).toContain('is empty');
    expect((await loadError(write('esper.config.json', '{ "plugins": [ }'), 'ESPER_CONFIG_LOAD')).message).toContain('is not valid JSON');
    expect((await loadError(write('esper.config.yaml', 'plugins: []'), 'ESPER_CONFIG_LOAD')).message).toContain('Unsupported config file type ".yaml"');
  });
});

describe('JSON configs naming plugin modules', () => {
  it('takes the default export, a #named export, async factories and plugin objects', async () => {
    write('plugins.mjs', PLUGINS_MJS);
    const file = write('esper.config.json', JSON.stringify({ plugins: ['./plugins.mjs', './plugins.mjs#later', './plugins.mjs#ready'], run: { name: 'json' } }));
    const config = await loadConfig(file, { env: {} });
    expect(config.plugins.map((p) => p.plugin.name)).toEqual(['json-greeter', 'async-plugin', 'ready-plugin']);
  });

  it('a factory that throws is ESPER_CONFIG_PLUGIN_FACTORY with the error as its cause', async () => {
    write('plugins.mjs', PLUGINS_MJS);
    const file = write('esper.config.json', JSON.stringify({ plugins: ['./plugins.mjs', './plugins.mjs#exploding'] }));
    const error = (await loadError(file, 'ESPER_CONFIG_PLUGIN_FACTORY')) as ConfigPluginFactoryError;
    expect(error).toBeInstanceOf(ConfigPluginFactoryError);
    expect(error.path).toBe('plugins[1]');
    expect(error.specifier).toBe('./plugins.mjs#exploding');
    expect(error.message).toMatch(/^plugins\[1\]: the plugin factory "\.\/plugins\.mjs#exploding" threw: needs an apiKey\. /);
    expect((error.cause as Error).message).toBe('needs an apiKey');
  });

  it('a module that cannot be loaded is ESPER_CONFIG_PLUGIN_MODULE, without the require stack', async () => {
    const relative = await loadError(write('a.json', '{ "plugins": ["./does-not-exist.mjs"] }'), 'ESPER_CONFIG_PLUGIN_MODULE');
    expect(relative).toBeInstanceOf(ConfigPluginModuleError);
    expect(relative.message).toMatch(/^plugins\[0\]: cannot load plugin module "\.\/does-not-exist\.mjs" from /);
    expect(relative.message).toContain("Fix the path (it is resolved from the config file's folder).");
    expect(relative.message).not.toContain('Require stack');
    const bare = await loadError(write('b.json', '{ "plugins": ["@esper/no-such-plugin"] }'), 'ESPER_CONFIG_PLUGIN_MODULE');
    expect(bare.message).toContain('Install it (pnpm add @esper/no-such-plugin) or fix the name.');
    for (const entry of ['', './plugins.mjs#']) {
      const malformed = await loadError(write('c.json', JSON.stringify({ plugins: [entry] })), 'ESPER_CONFIG_PLUGIN_MODULE');
      expect(malformed.message).toBe(`plugins[0]: "${entry}" is not a plugin module: write "package", "./file.js" or "package#exportName".`);
    }
  });

  it('a module without the export named is ESPER_CONFIG_PLUGIN_MODULE and lists the factories it has', async () => {
    write('named-only.mjs', 'export function alpha() {}\nexport function beta() {}\nexport const notAFactory = 1;\n');
    const noDefault = await loadError(write('a.json', '{ "plugins": ["./named-only.mjs"] }'), 'ESPER_CONFIG_PLUGIN_MODULE');
    expect(noDefault.message).toBe('plugins[0]: module "./named-only.mjs" has no default export; name one of its exports: "./named-only.mjs#alpha", "./named-only.mjs#beta".');
    const noNamed = await loadError(write('b.json', '{ "plugins": ["./named-only.mjs#gamma"] }'), 'ESPER_CONFIG_PLUGIN_MODULE');
    expect(noNamed.message).toContain('has no export named "gamma"');
  });

  it('keeps non-string entries for validation to report', async () => {
    const file = write('esper.config.json', '{ "plugins": [42] }');
    expect(await loadConfigFile(file)).toEqual({ plugins: [42] });
    await expect(loadConfig(file, { env: {} })).rejects.toMatchObject({ code: 'ESPER_CONFIG_INVALID' });
  });
});
