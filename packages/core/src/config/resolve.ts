import { inspect } from 'node:util';
import type { z } from 'zod';
import type { AnyPlugin } from '../kernel/plugin.js';
import { CORE_ENV, CORE_SECRETS, CORE_SECTIONS, coreConfigSchema, type CoreConfig } from './core-schema.js';
import { ConfigValidationError, SettingMetaError, type ConfigIssue } from './errors.js';
import { describeExpected, objectKeys, schemaAt, valueKind } from './introspect.js';
import { maskValue } from './mask.js';
import { checkPluginSettings, secretSettings, settingsEnv } from './meta.js';

/** Environment variables as Node exposes them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** One plugin with its validated options. */
export interface ResolvedPlugin {
  readonly plugin: AnyPlugin;
  readonly options: Readonly<Record<string, unknown>>;
}

/** Options for {@link resolveConfig}. */
export interface ResolveOptions {
  /** Environment to read overrides from (default `process.env`). */
  readonly env?: Env;
  /** Where the config came from, for error messages (a file path). */
  readonly source?: string;
}

const RESERVED_KEYS = new Set<string>([...CORE_SECTIONS, 'plugins', '$schema']);

/**
 * A validated config: kernel sections, each plugin's options, and which values came from
 * the environment. Printing it (JSON, `util.inspect`, `String`) masks every secret; read
 * secrets only through the typed fields.
 */
export class ResolvedConfig {
  constructor(
    /** The kernel's sections. */
    readonly core: CoreConfig,
    /** Plugins in config order, each with validated options. */
    readonly plugins: readonly ResolvedPlugin[],
    /** Config path → environment variable that set it. */
    readonly envOverrides: Readonly<Record<string, string>>,
    /** Dotted paths (from the root) that hold secrets. */
    readonly secretPaths: readonly string[],
  ) {}

  /** The options of the plugin with config key `key`, if that plugin is composed. */
  optionsOf(key: string): Readonly<Record<string, unknown>> | undefined {
    return this.plugins.find((p) => p.plugin.configKey === key)?.options;
  }

  /** Every secret value present, for log redaction. */
  secretValues(): string[] {
    const tree = this.tree();
    const values: string[] = [];
    for (const path of this.secretPaths) {
      const value = getAt(tree, path.split('.'));
      if (typeof value === 'string' && value.length > 0) values.push(value);
    }
    return values;
  }

  /** The config as one plain object with secrets masked: safe to print or log. */
  masked(): Record<string, unknown> {
    const tree = copyPlain(this.tree());
    for (const path of this.secretPaths) {
      const segments = path.split('.');
      const value = getAt(tree, segments);
      if (value !== undefined) setAt(tree, segments, maskValue(value));
    }
    return tree;
  }

  /** JSON form: masked. */
  toJSON(): Record<string, unknown> {
    return this.masked();
  }

  /** String form: masked JSON. */
  toString(): string {
    return JSON.stringify(this.masked(), null, 2);
  }

  [inspect.custom](): string {
    return `ResolvedConfig ${inspect(this.masked(), { depth: 8 })}`;
  }

  private tree(): Record<string, unknown> {
    const tree: Record<string, unknown> = { ...this.core };
    for (const { plugin, options } of this.plugins) tree[plugin.configKey] = options;
    return tree;
  }
}

/**
 * Validates a config object (as `defineConfig` or a JSON file produces it), applies
 * environment overrides, and returns the resolved config. Every problem is collected and
 * thrown together as a {@link ConfigValidationError} with path-precise messages.
 *
 * Precedence, lowest first: schema defaults, options given to the plugin factory, the
 * config section, environment variables.
 */
export function resolveConfig(input: unknown, options: ResolveOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const overrides: Record<string, string> = {};

  if (!isPlainObject(input)) {
    throw new ConfigValidationError(
      [{ path: '', message: `expected an object (export default defineConfig({...})), got ${show(input)}` }],
      options.source,
    );
  }

  const plugins = collectPlugins(input, issues);
  const keys = new Set(plugins.map((p) => p.configKey));

  for (const key of Object.keys(input)) {
    if (RESERVED_KEYS.has(key) || keys.has(key)) continue;
    const known = [...CORE_SECTIONS, ...keys];
    issues.push({
      path: key,
      message: `unknown config section: no composed plugin reads it${suggest(key, known)}. Sections here: ${known.join(', ')}`,
    });
  }

  // Kernel sections.
  const coreRaw: Record<string, unknown> = {};
  for (const section of CORE_SECTIONS) {
    if (input[section] !== undefined) coreRaw[section] = copyPlain(input[section]);
  }
  applyEnv(coreRaw, CORE_ENV, coreConfigSchema, '', env, issues, overrides);
  const secretPaths = [...CORE_SECRETS];
  const coreResult = coreConfigSchema.safeParse(coreRaw, { reportInput: true });
  if (!coreResult.success) pushZodIssues(coreResult.error.issues, coreConfigSchema, '', issues, overrides, secretPaths);

  // Plugin sections. Env names and secrets come from each schema's `.meta()`; a variable read
  // by two options (of the kernel or of two plugins) would set both, so it is an error.
  const envOwners = new Map<string, string>(Object.entries(CORE_ENV));
  const resolved: ResolvedPlugin[] = [];
  for (const plugin of plugins) {
    const key = plugin.configKey;
    const section = input[key];
    if (section !== undefined && !isPlainObject(section)) {
      issues.push({ path: key, message: `expected an object of options, got ${show(section)}` });
      continue;
    }
    const schema = plugin.configSchema as z.ZodType | undefined;
    const owner = `plugin "${plugin.name}"`;
    let envBindings: Readonly<Record<string, string>> = {};
    try {
      checkPluginSettings(plugin);
      if (schema !== undefined) {
        envBindings = settingsEnv(schema, owner);
        for (const secret of secretSettings(schema, owner)) secretPaths.push(`${key}.${secret}`);
      }
    } catch (error) {
      if (!(error instanceof SettingMetaError)) throw error;
      for (const problem of error.problems) issues.push({ path: key, message: `${owner} has invalid setting metadata: ${problem}` });
      continue;
    }
    let clash = false;
    for (const [name, path] of Object.entries(envBindings)) {
      const other = envOwners.get(name);
      if (other !== undefined) {
        clash = true;
        issues.push({ path: `${key}.${path}`, envVar: name, message: `${owner} binds ${name}, which already sets ${other}; a variable can set only one option` });
      } else {
        envOwners.set(name, `${key}.${path}`);
      }
    }
    if (clash) continue;
    const merged = deepMerge(copyPlain(plugin.factoryOptions ?? {}), copyPlain(section ?? {}));
    if (schema === undefined) {
      if (Object.keys(merged).length > 0) {
        issues.push({ path: key, message: `plugin "${plugin.name}" takes no options; remove: ${Object.keys(merged).join(', ')}` });
      }
      resolved.push({ plugin, options: {} });
      continue;
    }
    applyEnv(merged, envBindings, schema, `${key}.`, env, issues, overrides);
    const result = schema.safeParse(merged, { reportInput: true });
    if (result.success) {
      resolved.push({ plugin, options: result.data as Record<string, unknown> });
    } else {
      pushZodIssues(result.error.issues, schema, `${key}.`, issues, overrides, secretPaths);
    }
  }

  if (issues.length > 0 || !coreResult.success) throw new ConfigValidationError(issues, options.source);
  return new ResolvedConfig(coreResult.data, resolved, overrides, secretPaths);
}

function collectPlugins(input: Record<string, unknown>, issues: ConfigIssue[]): AnyPlugin[] {
  const raw = input.plugins ?? [];
  if (!Array.isArray(raw)) {
    issues.push({ path: 'plugins', message: `expected a list of plugins, got ${show(raw)}` });
    return [];
  }
  const out: AnyPlugin[] = [];
  const byName = new Map<string, number>();
  const byKey = new Map<string, number>();
  raw.forEach((entry: unknown, index) => {
    const path = `plugins[${index}]`;
    if (typeof entry === 'function') {
      issues.push({ path, message: `got a plugin factory, not a plugin: call it (e.g. \`${entry.name || 'plugin'}()\`)` });
      return;
    }
    if (!isPluginLike(entry)) {
      issues.push({ path, message: `expected a plugin made by definePlugin() (name, configKey, setup), got ${show(entry)}` });
      return;
    }
    const seenName = byName.get(entry.name);
    if (seenName !== undefined) {
      issues.push({ path, message: `duplicate plugin "${entry.name}" (also at plugins[${seenName}]); list each plugin once` });
      return;
    }
    if (RESERVED_KEYS.has(entry.configKey)) {
      issues.push({ path, message: `plugin "${entry.name}" uses the reserved config key "${entry.configKey}"; choose another configKey` });
      return;
    }
    const seenKey = byKey.get(entry.configKey);
    if (seenKey !== undefined) {
      issues.push({
        path,
        message: `plugin "${entry.name}" reads config section "${entry.configKey}", which plugins[${seenKey}] already reads; two plugins cannot share a section`,
      });
      return;
    }
    byName.set(entry.name, index);
    byKey.set(entry.configKey, index);
    out.push(entry);
  });
  return out;
}

function isPluginLike(value: unknown): value is AnyPlugin {
  return (
    isPlainObject(value) &&
    typeof value.name === 'string' &&
    value.name.length > 0 &&
    typeof value.configKey === 'string' &&
    value.configKey.length > 0 &&
    typeof value.setup === 'function'
  );
}

function applyEnv(
  target: Record<string, unknown>,
  bindings: Readonly<Record<string, string>>,
  schema: z.ZodType,
  prefix: string,
  env: Env,
  issues: ConfigIssue[],
  overrides: Record<string, string>,
): void {
  for (const [name, path] of Object.entries(bindings)) {
    const raw = env[name];
    if (raw === undefined) continue;
    const segments = path.split('.');
    const coerced = coerceEnv(raw, valueKind(schemaAt(schema, segments)));
    const fullPath = `${prefix}${path}`;
    overrides[fullPath] = name;
    if (!coerced.ok) {
      issues.push({ path: fullPath, envVar: name, message: coerced.message });
      continue;
    }
    setAt(target, segments, coerced.value);
  }
}

type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Converts an environment string to the kind of value the schema expects. */
function coerceEnv(raw: string, kind: ReturnType<typeof valueKind>): Coerced {
  const text = raw.trim();
  switch (kind.kind) {
    case 'number': {
      // An unparsable number is passed through as text so that the schema reports it
      // with its own expectation ("expected a positive number, got "fast"").
      if (text === '') return { ok: true, value: raw };
      const n = Number(text);
      return { ok: true, value: Number.isNaN(n) ? raw : n };
    }
    case 'boolean': {
      const lower = text.toLowerCase();
      if (TRUE.has(lower)) return { ok: true, value: true };
      if (FALSE.has(lower)) return { ok: true, value: false };
      return { ok: false, message: `expected a boolean (true/false, 1/0, yes/no, on/off), got ${JSON.stringify(raw)}` };
    }
    case 'enum': {
      const match = kind.values.find((v) => v.toLowerCase() === text.toLowerCase());
      return { ok: true, value: match ?? raw };
    }
    case 'string-array':
      return { ok: true, value: text === '' ? [] : text.split(',').map((s) => s.trim()) };
    default:
      return { ok: true, value: raw };
  }
}

function pushZodIssues(
  zodIssues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  prefix: string,
  issues: ConfigIssue[],
  overrides: Readonly<Record<string, string>>,
  secretPaths: readonly string[],
): void {
  for (const issue of zodIssues) {
    const relative = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = objectKeys(schemaAt(schema, relative));
      for (const key of issue.keys) {
        const path = joinPath(prefix, [...relative, key]);
        issues.push({
          path,
          message: `unknown option${suggest(key, known)}${known.length > 0 ? `; known options: ${known.join(', ')}` : ''}`,
        });
      }
      continue;
    }
    const path = joinPath(prefix, relative);
    const envVar = overrides[path];
    const secret = secretPaths.includes(path);
    const input = (issue as { input?: unknown }).input;
    const got = secret ? '<redacted>' : show(input);
    const expected = describeExpected(schemaAt(schema, relative));
    let message: string;
    switch (issue.code) {
      case 'invalid_type':
        message =
          input === undefined
            ? `required: expected ${expected ?? issue.expected}`
            : `expected ${expected ?? issue.expected}, got ${got}`;
        break;
      case 'too_small':
      case 'too_big':
      case 'invalid_value':
      case 'invalid_format':
      case 'not_multiple_of':
        message = expected !== undefined ? `expected ${expected}, got ${got}` : `${issue.message}, got ${got}`;
        break;
      default:
        message = issue.message;
    }
    issues.push(envVar !== undefined ? { path, message, envVar } : { path, message });
  }
}

function joinPath(prefix: string, segments: readonly (string | number)[]): string {
  let path = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
  for (const s of segments) path += typeof s === 'number' ? `[${s}]` : path === '' ? s : `.${s}`;
  return path;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function suggest(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? ` (did you mean "${best}"?)` : '';
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** True for `{}`-style objects (not arrays, class instances or null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Copies the plain-data skeleton of a value (plain objects and arrays) so env overrides and
 * merging never write into the caller's objects; anything else (functions, class instances,
 * typed arrays) is kept by reference, where `structuredClone` would throw or strip it.
 */
function copyPlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => copyPlain(v)) as T;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyPlain(v);
  return out as T;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(over)) {
    const current = base[key];
    base[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return base;
}

function getAt(tree: unknown, segments: readonly string[]): unknown {
  let current: unknown = tree;
  for (const s of segments) {
    if (!isPlainObject(current)) return undefined;
    current = current[s];
  }
  return current;
}

function setAt(tree: Record<string, unknown>, segments: readonly string[], value: unknown): void {
  let current = tree;
  for (const s of segments.slice(0, -1)) {
    const next = current[s];
    if (!isPlainObject(next)) current[s] = {};
    current = current[s] as Record<string, unknown>;
  }
  current[segments[segments.length - 1]!] = value;
}
