import { EsperError } from '../errors.js';

/** One problem found in a config, with the path it is at. */
export interface ConfigIssue {
  /** Dotted path, e.g. `tamiyo.stepTimeoutMs` or `plugins[2]`. */
  readonly path: string;
  /** What is wrong and what was expected. */
  readonly message: string;
  /** Environment variable the bad value came from, if any. */
  readonly envVar?: string;
}

/** Formats one issue the way the CLI prints it. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? '(config)' : issue.path;
  return `${where}${issue.envVar !== undefined ? ` (from ${issue.envVar})` : ''}: ${issue.message}`;
}

/**
 * The config is invalid. `issues` lists every problem found (not just the first), each with
 * a precise path; the message lists them one per line.
 */
export class ConfigValidationError extends EsperError<'ESPER_CONFIG_INVALID'> {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], source?: string) {
    super(
      'ESPER_CONFIG_INVALID',
      `Invalid Esper config${source !== undefined ? ` ${source}` : ''} (${issues.length} problem${issues.length === 1 ? '' : 's'}); fix these and retry:\n` +
        issues.map((i) => `  - ${formatIssue(i)}`).join('\n'),
    );
    this.issues = issues;
  }
}

/**
 * A config file could not be read or evaluated: it is not valid JSON, it threw while being
 * evaluated (or its exported config function threw), or its extension is not a config's.
 * The more specific load failures have their own codes: {@link ConfigNotFoundError},
 * {@link ConfigNotAFileError}, {@link ConfigNoDefaultExportError},
 * {@link ConfigPluginModuleError}, {@link ConfigPluginFactoryError}.
 */
export class ConfigLoadError extends EsperError<'ESPER_CONFIG_LOAD'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_CONFIG_LOAD', message, options);
  }
}

/** The config path does not exist. */
export class ConfigNotFoundError extends EsperError<'ESPER_CONFIG_NOT_FOUND'> {
  /** The absolute path that was looked for. */
  readonly file: string;
  constructor(file: string) {
    super('ESPER_CONFIG_NOT_FOUND', `Config file not found: ${file}. Pass the path of an esper.config.ts or esper.config.json file.`);
    this.file = file;
  }
}

/**
 * The config path exists but is not a file: a directory (even one named `x.json` or `x.ts`),
 * a socket, a device. `candidates` lists the `esper.config.*` files inside a directory.
 */
export class ConfigNotAFileError extends EsperError<'ESPER_CONFIG_NOT_A_FILE'> {
  /** The absolute path given. */
  readonly file: string;
  /** Config files found inside the directory, absolute (empty when none or not a directory). */
  readonly candidates: readonly string[];
  constructor(file: string, kind: 'directory' | 'not a regular file', candidates: readonly string[] = []) {
    const hint =
      candidates.length > 0
        ? ` It holds ${candidates.map((c) => `"${c}"`).join(', ')}: pass that file instead.`
        : ' Pass the path of an esper.config.ts or esper.config.json file.';
    super(
      'ESPER_CONFIG_NOT_A_FILE',
      `Config path ${file} is ${kind === 'directory' ? 'a directory' : 'not a regular file'}, not a config file.${hint}`,
    );
    this.file = file;
    this.candidates = candidates;
  }
}

/**
 * A `.ts`/`.mts`/`.js`/`.mjs` config file has no default export: it is empty, exports only
 * named bindings, or exports `default` as `undefined`. `exports` lists the names it does export.
 */
export class ConfigNoDefaultExportError extends EsperError<'ESPER_CONFIG_NO_DEFAULT_EXPORT'> {
  /** The absolute path of the config file. */
  readonly file: string;
  /** The named exports found (empty for an empty file). */
  readonly exports: readonly string[];
  constructor(file: string, exports: readonly string[], undefinedDefault = false) {
    const what = undefinedDefault
      ? 'exports `default` as undefined'
      : exports.length === 0
        ? 'exports nothing (is it empty?)'
        : `has no default export (it exports only ${exports.map((e) => `\`${e}\``).join(', ')})`;
    const fix =
      exports.length === 1 && !undefinedDefault
        ? `End it with \`export default ${exports[0]}\`, or \`export default defineConfig({...})\`.`
        : 'End it with `export default defineConfig({...})`.';
    super('ESPER_CONFIG_NO_DEFAULT_EXPORT', `Config file ${file} ${what}. ${fix}`);
    this.file = file;
    this.exports = exports;
  }
}

/**
 * A plugin entry of a JSON config cannot be turned into a plugin: its module cannot be resolved
 * or imported, the module lacks the export the entry names (the default export, or `#name`),
 * or the entry is malformed.
 */
export class ConfigPluginModuleError extends EsperError<'ESPER_CONFIG_PLUGIN_MODULE'> {
  /** Where the entry is: `plugins[2]`. */
  readonly path: string;
  /** The entry as written: `"@esper/plugin-oona-memory"`, `"./my-plugin.js#named"`. */
  readonly specifier: string;
  constructor(path: string, specifier: string, message: string, options?: { cause?: unknown }) {
    super('ESPER_CONFIG_PLUGIN_MODULE', `${path}: ${message}`, options);
    this.path = path;
    this.specifier = specifier;
  }
}

/** The plugin factory a JSON config names threw (or rejected) when called; the error is the `cause`. */
export class ConfigPluginFactoryError extends EsperError<'ESPER_CONFIG_PLUGIN_FACTORY'> {
  /** Where the entry is: `plugins[2]`. */
  readonly path: string;
  /** The entry as written. */
  readonly specifier: string;
  constructor(path: string, specifier: string, cause: unknown) {
    super(
      'ESPER_CONFIG_PLUGIN_FACTORY',
      `${path}: the plugin factory "${specifier}" threw: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        "Fix the plugin's options in its config section (or the environment), or report it to the plugin's author.",
      { cause },
    );
    this.path = path;
    this.specifier = specifier;
  }
}

/**
 * A config schema's setting metadata (`.meta({ env, secret })`) is wrong, or a plugin still
 * passes the removed plugin-level `env` map or `secrets` list. Thrown by `definePlugin` (and by
 * `resolveConfig` for plugin objects not made by it), so the mistake shows when the plugin is
 * defined rather than when a variable happens to be set. `problems` lists every one found.
 */
export class SettingMetaError extends EsperError<'ESPER_CONFIG_META_INVALID'> {
  /** One line per problem, each starting with the option path it is at. */
  readonly problems: readonly string[];
  constructor(owner: string, problems: readonly string[]) {
    super(
      'ESPER_CONFIG_META_INVALID',
      `Setting metadata of ${owner} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}); fix the config schema's .meta() and retry:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.problems = problems;
  }
}
