import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createJiti } from 'jiti';
import {
  ConfigLoadError,
  ConfigNoDefaultExportError,
  ConfigNotAFileError,
  ConfigNotFoundError,
  ConfigPluginFactoryError,
  ConfigPluginModuleError,
} from './errors.js';
import { isPlainObject, resolveConfig, type Env, type ResolvedConfig } from './resolve.js';

const SCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
const CONFIG_FILE = /^esper\.config\.(?:[mc]?ts|[mc]?js|json)$/;

/**
 * Reads a config file and returns the raw config object, not yet validated.
 *
 * - `.ts`/`.mts`/`.js`/`.mjs` (and `.cts`/`.cjs`): the default export (an object from
 *   `defineConfig`, or a function returning one, possibly async). TypeScript is transpiled on
 *   the fly, so a `.ts` config runs on Node 20 without a build step. A CommonJS file's
 *   `module.exports` counts as its default export.
 * - `.json`: each string in `plugins` names a module, resolved from the file's folder, and
 *   an export of it: `"@esper/plugin-oona-memory"` (the package's default export),
 *   `"./my-plugin.js"`, `"pkg#namedExport"`. The export is a plugin, or a plugin factory called
 *   without options (options go in the plugin's config section). Other entries are kept as
 *   they are, for validation to judge.
 *
 * @throws {@link ConfigNotFoundError} (`ESPER_CONFIG_NOT_FOUND`) when the path does not exist.
 * @throws {@link ConfigNotAFileError} (`ESPER_CONFIG_NOT_A_FILE`) when it is a directory or
 *   another non-file, whatever its name.
 * @throws {@link ConfigNoDefaultExportError} (`ESPER_CONFIG_NO_DEFAULT_EXPORT`) when a script
 *   config is empty, exports only named bindings, or exports `default` as `undefined`.
 * @throws {@link ConfigPluginModuleError} (`ESPER_CONFIG_PLUGIN_MODULE`) when a JSON config's
 *   plugin module cannot be loaded or lacks the export the entry names.
 * @throws {@link ConfigPluginFactoryError} (`ESPER_CONFIG_PLUGIN_FACTORY`) when a JSON config's
 *   plugin factory throws.
 * @throws {@link ConfigLoadError} (`ESPER_CONFIG_LOAD`) when the file cannot be read, is not
 *   valid JSON, throws while being evaluated (or its config function throws or returns
 *   nothing), or has an extension that is not a config's.
 */
export async function loadConfigFile(file: string): Promise<unknown> {
  const path = resolvePath(file);
  checkIsFile(path);
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return loadJson(path);
  if (!SCRIPT_EXTENSIONS.has(ext)) {
    throw new ConfigLoadError(`Unsupported config file type "${ext}" (${path}). Use .ts, .mts, .js, .mjs or .json.`);
  }
  let namespace: unknown;
  try {
    // interopDefault off: the module's namespace comes back as is, so a missing default
    // export is seen rather than papered over with the namespace itself.
    const jiti = createJiti(import.meta.url, { fsCache: false, moduleCache: false, interopDefault: false });
    namespace = await jiti.import(path);
  } catch (error) {
    throw new ConfigLoadError(`Could not evaluate config file ${path}: ${message(error)}`, { cause: error });
  }
  let exported = defaultExport(path, namespace);
  if (typeof exported === 'function') {
    try {
      exported = await (exported as () => unknown)();
    } catch (error) {
      throw new ConfigLoadError(`The config function exported by ${path} threw: ${message(error)}`, { cause: error });
    }
    if (exported === undefined) {
      throw new ConfigLoadError(`The config function exported by ${path} returned undefined. Return the config: \`return defineConfig({...})\`.`);
    }
  }
  return exported;
}

/** Loads, validates and resolves a config file in one call; throws what {@link loadConfigFile} and `resolveConfig` throw. */
export async function loadConfig(file: string, options: { env?: Env } = {}): Promise<ResolvedConfig> {
  const raw = await loadConfigFile(file);
  return resolveConfig(raw, { ...options, source: resolvePath(file) });
}

function checkIsFile(path: string): void {
  let stats: Stats | undefined;
  try {
    stats = statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    throw new ConfigLoadError(`Cannot read config file ${path}: ${message(error)}`, { cause: error });
  }
  if (stats === undefined) throw new ConfigNotFoundError(path);
  if (stats.isDirectory()) {
    let candidates: string[] = [];
    try {
      candidates = readdirSync(path)
        .filter((name) => CONFIG_FILE.test(name))
        .sort()
        .map((name) => join(path, name));
    } catch {
      // an unreadable directory: no suggestion
    }
    throw new ConfigNotAFileError(path, 'directory', candidates);
  }
  if (!stats.isFile()) throw new ConfigNotAFileError(path, 'not a regular file');
}

/**
 * The default export of a module as jiti returns it with `interopDefault: false`: an ES module
 * namespace (native, `[object Module]`, or transpiled, `__esModule: true`) has it under
 * `default`; anything else is a CommonJS `module.exports`, which is the default export itself
 * unless it is the empty object an empty or export-less file leaves.
 */
function defaultExport(path: string, namespace: unknown): unknown {
  if (typeof namespace === 'function') return namespace;
  if (namespace === null || typeof namespace !== 'object') {
    if (namespace === undefined) throw new ConfigNoDefaultExportError(path, []);
    return namespace;
  }
  const names = Object.keys(namespace).filter((name) => name !== '__esModule');
  const esm = Object.prototype.toString.call(namespace) === '[object Module]' || (namespace as { __esModule?: unknown }).__esModule === true;
  if (!esm) {
    if (names.length === 0 && Object.getPrototypeOf(namespace) === Object.prototype) throw new ConfigNoDefaultExportError(path, []);
    return namespace;
  }
  const named = names.filter((name) => name !== 'default');
  if (!names.includes('default')) throw new ConfigNoDefaultExportError(path, named);
  const value = (namespace as { default?: unknown }).default;
  if (value === undefined) throw new ConfigNoDefaultExportError(path, named, true);
  return value;
}

async function loadJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigLoadError(`Cannot read config file ${path}: ${message(error)}`, { cause: error });
  }
  if (text.trim() === '') {
    throw new ConfigLoadError(`Config file ${path} is empty. Write a JSON object: { "plugins": ["@esper/plugin-oona-memory"] }.`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigLoadError(`Config file ${path} is not valid JSON: ${message(error)}`, { cause: error });
  }
  if (!isPlainObject(data) || !Array.isArray(data.plugins)) return data;
  const plugins: unknown[] = [];
  for (const [index, entry] of data.plugins.entries()) {
    plugins.push(typeof entry === 'string' ? await pluginFromEntry(path, `plugins[${index}]`, entry) : entry);
  }
  return { ...data, plugins };
}

/** A JSON config's plugin entry (`"pkg"`, `"./file.js"`, `"pkg#name"`) → the plugin it names. */
async function pluginFromEntry(configPath: string, at: string, entry: string): Promise<unknown> {
  const cut = entry.indexOf('#', 1);
  const specifier = cut === -1 ? entry : entry.slice(0, cut);
  const exportName = cut === -1 ? 'default' : entry.slice(cut + 1);
  if (specifier.trim() === '' || exportName === '') {
    throw new ConfigPluginModuleError(at, entry, `"${entry}" is not a plugin module: write "package", "./file.js" or "package#exportName".`);
  }
  const folder = dirname(configPath);
  let module: Record<string, unknown>;
  try {
    const resolved = createRequire(configPath).resolve(specifier.startsWith('.') ? resolvePath(folder, specifier) : specifier);
    module = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
  } catch (error) {
    const fix = specifier.startsWith('.') ? "Fix the path (it is resolved from the config file's folder)" : `Install it (pnpm add ${specifier}) or fix the name`;
    throw new ConfigPluginModuleError(at, entry, `cannot load plugin module "${specifier}" from ${folder}: ${firstLine(message(error)).replace(/\.$/, '')}. ${fix}.`, {
      cause: error,
    });
  }
  const value = module[exportName];
  if (value === undefined) {
    const factories = Object.keys(module).filter((name) => name !== 'default' && typeof module[name] === 'function');
    const missing = exportName === 'default' ? 'has no default export' : `has no export named "${exportName}"`;
    const hint =
      factories.length > 0
        ? `name one of its exports: ${factories.slice(0, 5).map((name) => `"${specifier}#${name}"`).join(', ')}${factories.length > 5 ? ', …' : ''}`
        : `name the export with "${specifier}#exportName"`;
    throw new ConfigPluginModuleError(at, entry, `module "${specifier}" ${missing}; ${hint}.`);
  }
  if (typeof value !== 'function') return value;
  try {
    return await (value as () => unknown)();
  } catch (error) {
    throw new ConfigPluginFactoryError(at, entry, error);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Node's resolution errors append a "Require stack:" list of internal files; keep the first line. */
function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
