import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createJiti } from 'jiti';
import { ConfigLoadError } from './errors.js';
import { isPlainObject, resolveConfig, type Env, type ResolvedConfig } from './resolve.js';

const SCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

/**
 * Reads a config file and returns the raw config object, not yet validated.
 *
 * - `.ts`/`.mts`/`.js`/`.mjs`: the default export (an object from `defineConfig`, or a
 *   function returning one, possibly async). TypeScript is transpiled on the fly, so a `.ts`
 *   config runs on Node 20 without a build step.
 * - `.json`: plugins are given as module specifiers resolved from the file's folder
 *   (`"@esper/plugin-oona-memory"`, `"./my-plugin.js"`, `"pkg#namedExport"`); the module's
 *   default export (or the named one) is a plugin or a plugin factory, called without options.
 *
 * Throws {@link ConfigLoadError} (`ESPER_CONFIG_LOAD`) when the file is missing, unreadable,
 * not valid JSON, throws while evaluating, or names a plugin module that cannot be loaded.
 */
export async function loadConfigFile(file: string): Promise<unknown> {
  const path = resolvePath(file);
  if (!existsSync(path)) {
    throw new ConfigLoadError(`Config file not found: ${path}. Pass the path of an esper.config.ts or esper.config.json file.`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return loadJson(path);
  if (!SCRIPT_EXTENSIONS.has(ext)) {
    throw new ConfigLoadError(`Unsupported config file type "${ext}" (${path}). Use .ts, .mts, .js, .mjs or .json.`);
  }
  let exported: unknown;
  try {
    const jiti = createJiti(import.meta.url, { fsCache: false, moduleCache: false, interopDefault: true });
    exported = await jiti.import(path, { default: true });
  } catch (error) {
    throw new ConfigLoadError(`Could not evaluate config file ${path}: ${message(error)}`, { cause: error });
  }
  if (typeof exported === 'function') {
    try {
      exported = await (exported as () => unknown)();
    } catch (error) {
      throw new ConfigLoadError(`The config function exported by ${path} threw: ${message(error)}`, { cause: error });
    }
  }
  if (exported === undefined) {
    throw new ConfigLoadError(`Config file ${path} has no default export. End it with \`export default defineConfig({...})\`.`);
  }
  return exported;
}

/** Loads, validates and resolves a config file in one call. */
export async function loadConfig(file: string, options: { env?: Env } = {}): Promise<ResolvedConfig> {
  const raw = await loadConfigFile(file);
  return resolveConfig(raw, { ...options, source: resolvePath(file) });
}

async function loadJson(path: string): Promise<unknown> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigLoadError(`Config file ${path} is not valid JSON: ${message(error)}`, { cause: error });
  }
  if (!isPlainObject(data) || !Array.isArray(data.plugins)) return data;
  const require = createRequire(path);
  const plugins: unknown[] = [];
  for (const [index, entry] of data.plugins.entries()) {
    if (typeof entry !== 'string') {
      plugins.push(entry);
      continue;
    }
    const [specifier = '', exportName = 'default'] = entry.split('#');
    let module: Record<string, unknown>;
    try {
      const resolved = require.resolve(specifier.startsWith('.') ? resolvePath(dirname(path), specifier) : specifier);
      module = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigLoadError(
        `plugins[${index}]: cannot load plugin module "${specifier}" from ${dirname(path)}: ${message(error)}. Install it (pnpm add ${specifier}) or fix the path.`,
        { cause: error },
      );
    }
    const value = module[exportName];
    if (value === undefined) {
      throw new ConfigLoadError(
        `plugins[${index}]: module "${specifier}" has no ${exportName === 'default' ? 'default export' : `export named "${exportName}"`}; name the export with "${specifier}#exportName".`,
      );
    }
    plugins.push(typeof value === 'function' ? (value as () => unknown)() : value);
  }
  return { ...data, plugins };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
