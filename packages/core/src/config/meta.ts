import { globalRegistry, type z } from 'zod';
import { SettingMetaError } from './errors.js';
import { numberBounds, valueKind } from './introspect.js';

/**
 * What a config schema's `.meta()` may say about one option, besides zod's own `description`
 * and `deprecated`. It is the single source of env names, secret masking and the generated
 * config tables:
 *
 * ```ts
 * stepTimeoutMs: z.number().nonnegative().default(5)
 *   .meta({ env: 'TAMIYO_STEP_TIMEOUT_MS', reference: 'tamiyo §2.1', description: 'Inference budget per step, ms; 0 disables.' }),
 * ```
 *
 * Put `.meta()` last in the chain (after `.default()`/`.optional()` is fine too): zod's checks
 * (`.min()`, `.int()`) make a new schema that does not carry metadata set before them.
 */
export interface SettingMeta {
  /**
   * Environment variable that overrides the option (upper case, digits and `_`), unique in the
   * whole config. Its string is converted to the option's type: number, integer, boolean
   * (true/false, 1/0, yes/no, on/off), enum (any case), string, comma-separated string list.
   */
  readonly env?: string | undefined;
  /** The option holds a secret (strings only): masked wherever config is printed, redacted from kernel logs. */
  readonly secret?: boolean | undefined;
  /** Where the reference documents the setting (`tamiyo §2.1`), shown in the config tables. */
  readonly reference?: string | undefined;
  /** What an unset optional option stands for (`` `<run.dir>/tamiyo` ``), shown as its default in the config tables. */
  readonly unset?: string | undefined;
}

declare module 'zod' {
  // Types the setting keys of `.meta()` on every zod schema (zod's documented extension point).
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging adds the keys
  interface GlobalMeta extends SettingMeta {}
}

/** One option of a config schema, as the config tables and the env/secret handling see it. */
export interface SettingInfo {
  /** Dotted path inside the section (`blendAnnotations.mode`). */
  readonly path: string;
  /** What the option accepts, in words: `integer ≥ 1`, `boolean`, `` `CONVEX` | `RESIDUAL` ``. */
  readonly type: string;
  /** True when the option has no default and may not be left out. */
  readonly required: boolean;
  /** True when the schema gives a default ({@link SettingInfo.default}). */
  readonly hasDefault: boolean;
  /** The schema's default, when {@link SettingInfo.hasDefault}. */
  readonly default?: unknown;
  /** What leaving an optional option unset means (`meta.unset`). */
  readonly unset?: string;
  /** Environment variable that overrides it (`meta.env`). */
  readonly env?: string;
  /** Masked and redacted (`meta.secret`). */
  readonly secret: boolean;
  /** Where the reference documents it (`meta.reference`). */
  readonly reference?: string;
  /** One line on what it is for (`meta.description` or `.describe()`). */
  readonly description?: string;
  /** Kept for old configs; has no effect (`meta.deprecated`). */
  readonly deprecated: boolean;
}

/** Every setting of a schema plus the two lookups the config resolver needs. */
interface SchemaSettings {
  readonly settings: readonly SettingInfo[];
  /** Env name → dotted path. */
  readonly env: Readonly<Record<string, string>>;
  /** Dotted paths of secrets. */
  readonly secrets: readonly string[];
}

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
  readonly in?: z.ZodType;
  readonly out?: z.ZodType;
  readonly element?: z.ZodType;
  readonly entries?: Record<string, string | number>;
  readonly values?: readonly unknown[];
  readonly checks?: ReadonlyArray<{ _zod: { def: { check: string; value?: unknown; inclusive?: boolean; format?: string } } }>;
  readonly defaultValue?: unknown;
}

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);
const cache = new WeakMap<z.ZodType, SchemaSettings>();

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

function metaOf(schema: z.ZodType): (SettingMeta & z.GlobalMeta) | undefined {
  return globalRegistry.get(schema);
}

/**
 * Lists every option of a config schema (leaves of its nested objects) with its type,
 * default and setting metadata, in declaration order. The config tables of the READMEs and
 * `docs/config-reference.md` are generated from it.
 *
 * Throws {@link SettingMetaError} (`ESPER_CONFIG_META_INVALID`) when the metadata cannot work:
 * an env name that is not a valid variable name or is bound twice, `env` on an option an
 * environment string cannot be converted to, `secret` on a non-string option, or either on an
 * object group or inside a list or union, where no option path reaches it.
 *
 * @param owner - who the schema belongs to, for the error message (`plugin "@esper/plugin-x"`).
 */
export function describeSettings(schema: z.ZodType, owner = 'the config schema'): readonly SettingInfo[] {
  return settingsOf(schema, owner).settings;
}

/** The environment bindings of a config schema: variable name → dotted option path. Throws as {@link describeSettings}. */
export function settingsEnv(schema: z.ZodType, owner?: string): Readonly<Record<string, string>> {
  return settingsOf(schema, owner).env;
}

/** Dotted paths of the options a config schema marks `secret`. Throws as {@link describeSettings}. */
export function secretSettings(schema: z.ZodType, owner?: string): readonly string[] {
  return settingsOf(schema, owner).secrets;
}

/**
 * The definition-time check of a plugin's settings: its schema's metadata (see
 * {@link describeSettings}), and no leftover plugin-level `env` map or `secrets` list (removed:
 * a typo in them used to leave a secret unmasked). Called by `definePlugin`.
 *
 * @throws SettingMetaError naming the plugin and every problem.
 */
export function checkPluginSettings(plugin: { readonly name: string; readonly configSchema?: unknown }): void {
  const owner = `plugin "${plugin.name}"`;
  const schema = plugin.configSchema as z.ZodType | undefined;
  const legacy = legacyProblems(plugin as Record<string, unknown>, schema);
  if (legacy.length > 0) throw new SettingMetaError(owner, legacy);
  if (schema !== undefined) settingsOf(schema, owner);
}

function legacyProblems(plugin: Record<string, unknown>, schema: z.ZodType | undefined): string[] {
  const problems: string[] = [];
  const known = new Set(schema === undefined ? [] : safePaths(schema));
  const where = (path: string) => (known.has(path) ? `on option "${path}"` : `but the schema has no option "${path}"`);
  if (plugin.env !== undefined) {
    const entries = typeof plugin.env === 'object' && plugin.env !== null ? Object.entries(plugin.env) : [];
    const sample = entries[0] !== undefined ? `: ${entries[0][0]} → ${where(String(entries[0][1]))}` : '';
    problems.push(
      `plugin-level \`env\` is no longer read${sample}. Put each variable on its option in the schema: .meta({ env: 'NAME' })`,
    );
  }
  if (plugin.secrets !== undefined) {
    const paths = Array.isArray(plugin.secrets) ? plugin.secrets.map(String) : [];
    problems.push(
      `plugin-level \`secrets\` is no longer read${paths.length > 0 ? ` (${paths.map((p) => `"${p}" ${where(p)}`).join(', ')})` : ''}. ` +
        `Mark each secret option in the schema: z.string().meta({ secret: true })`,
    );
  }
  return problems;
}

function safePaths(schema: z.ZodType): string[] {
  try {
    return walk(schema).settings.map((s) => s.path);
  } catch {
    return [];
  }
}

function settingsOf(schema: z.ZodType, owner = 'the config schema'): SchemaSettings {
  const cached = cache.get(schema);
  if (cached !== undefined) return cached;
  const result = walk(schema);
  if (result.problems.length > 0) throw new SettingMetaError(owner, result.problems);
  const env: Record<string, string> = {};
  for (const s of result.settings) if (s.env !== undefined) env[s.env] = s.path;
  const settings: SchemaSettings = {
    settings: Object.freeze(result.settings),
    env: Object.freeze(env),
    secrets: Object.freeze(result.settings.filter((s) => s.secret).map((s) => s.path)),
  };
  cache.set(schema, settings);
  return settings;
}

/** One schema with the wrappers around it peeled off, and what they said. */
interface Peeled {
  readonly core: z.ZodType;
  /** Every node of the chain, outermost first (they are where a path reaches). */
  readonly chain: readonly z.ZodType[];
  readonly meta: SettingMeta & z.GlobalMeta;
  readonly optional: boolean;
  readonly nullable: boolean;
  readonly hasDefault: boolean;
  readonly default?: unknown;
}

function peel(schema: z.ZodType): Peeled {
  const chain: z.ZodType[] = [];
  let meta: SettingMeta & z.GlobalMeta = {};
  let current = schema;
  let optional = false;
  let nullable = false;
  let found: { value: unknown } | undefined;
  for (let i = 0; i < 32; i += 1) {
    chain.push(current);
    // Outer metadata wins over inner, as an outer `.meta()` was written later.
    meta = { ...(metaOf(current) ?? {}), ...meta };
    const def = defOf(current);
    if (WRAPPERS.has(def.type) && def.innerType !== undefined) {
      if (def.type === 'optional') optional = true;
      if (def.type === 'nullable') nullable = true;
      if (def.type === 'default' && found === undefined) found = { value: def.defaultValue };
      if (def.type === 'prefault') optional = true;
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in !== undefined && def.out !== undefined) {
      // z.preprocess(fn, schema) is pipe(transform, schema): the value is checked by `out`.
      current = defOf(def.in).type === 'transform' ? def.out : def.in;
    } else {
      break;
    }
  }
  return {
    core: current,
    chain,
    meta,
    optional,
    nullable,
    hasDefault: found !== undefined,
    ...(found !== undefined ? { default: found.value } : {}),
  };
}

function walk(root: z.ZodType): { settings: SettingInfo[]; problems: string[] } {
  const settings: SettingInfo[] = [];
  const problems: string[] = [];
  const reached = new Set<z.ZodType>();
  const envPaths = new Map<string, string>();

  const visit = (schema: z.ZodType, path: string): void => {
    const peeled = peel(schema);
    for (const node of peeled.chain) reached.add(node);
    const { meta } = peeled;
    const def = defOf(peeled.core);
    const label = path === '' ? '(root)' : path;
    if (meta.env !== undefined && typeof meta.env !== 'string') problems.push(`${label}: meta.env must be a string, got ${typeof meta.env}`);
    if (meta.secret !== undefined && typeof meta.secret !== 'boolean') problems.push(`${label}: meta.secret must be true or false, got ${typeof meta.secret}`);
    if (def.type === 'object' && def.shape !== undefined) {
      if (typeof meta.env === 'string' || meta.secret === true) {
        problems.push(`${label}: env/secret on an object group; put them on the options inside it`);
      }
      for (const [key, child] of Object.entries(def.shape)) {
        visit(child, path === '' ? key : `${path}.${key}`);
      }
      return;
    }
    const kind = valueKind(peeled.core);
    if (typeof meta.env === 'string') {
      const seen = envPaths.get(meta.env);
      if (!ENV_NAME.test(meta.env)) {
        problems.push(`${label}: env "${meta.env}" is not a valid variable name; use upper-case letters, digits and _ (e.g. TAMIYO_STEP_TIMEOUT_MS)`);
      } else if (seen !== undefined) {
        problems.push(`${label}: env ${meta.env} is already bound to "${seen}"; each variable sets one option`);
      } else {
        envPaths.set(meta.env, path);
      }
      if (kind.kind === 'unknown') {
        problems.push(
          `${label}: env ${meta.env} on a ${def.type} option; an environment string converts only to a number, boolean, string, enum or list of strings`,
        );
      }
    }
    if (meta.secret === true && kind.kind !== 'string') {
      problems.push(`${label}: secret on a ${def.type} option; only string options can be masked and redacted from logs`);
    }
    settings.push({
      path,
      type: typeLabel(peeled.core, peeled.nullable),
      required: !peeled.optional && !peeled.hasDefault,
      hasDefault: peeled.hasDefault,
      ...(peeled.hasDefault ? { default: peeled.default } : {}),
      ...(typeof meta.unset === 'string' ? { unset: meta.unset } : {}),
      ...(typeof meta.env === 'string' ? { env: meta.env } : {}),
      secret: meta.secret === true,
      ...(typeof meta.reference === 'string' ? { reference: meta.reference } : {}),
      ...(typeof meta.description === 'string' ? { description: meta.description } : {}),
      deprecated: meta.deprecated === true,
    });
  };

  visit(root, '');
  problems.push(...unreachable(root, reached));
  return { settings, problems };
}

/**
 * Setting metadata that no option path reaches (on a list element, a union member, a record
 * value …): the resolver would never read it, so it is an error rather than a silent no-op.
 */
function unreachable(root: z.ZodType, reached: ReadonlySet<z.ZodType>): string[] {
  const problems: string[] = [];
  const seen = new Set<z.ZodType>();
  const scan = (schema: z.ZodType, where: string, depth: number): void => {
    if (seen.has(schema) || depth > 64) return;
    seen.add(schema);
    const meta = metaOf(schema);
    if (!reached.has(schema) && meta !== undefined && (meta.env !== undefined || meta.secret !== undefined)) {
      problems.push(`${where || '(root)'}: env/secret inside a list, union or record is never read; only options reached through objects can have them`);
    }
    const def = defOf(schema) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(def)) {
      if (key === 'shape' && typeof value === 'object' && value !== null) {
        for (const [name, child] of Object.entries(value)) if (isSchema(child)) scan(child, where === '' ? name : `${where}.${name}`, depth + 1);
      } else if (isSchema(value)) {
        scan(value, key === 'element' ? `${where}[]` : where, depth + 1);
      } else if (Array.isArray(value)) {
        for (const item of value) if (isSchema(item)) scan(item, where, depth + 1);
      }
    }
  };
  scan(root, '', 0);
  return problems;
}

function isSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

/** A short type for the config tables: `integer ≥ 1`, `number in [0, 1]`, `` `a` | `b` ``. */
function typeLabel(schema: z.ZodType, nullable: boolean): string {
  const def = defOf(schema);
  const kind = valueKind(schema);
  let label: string;
  switch (kind.kind) {
    case 'number': {
      const noun = kind.integer ? 'integer' : 'number';
      const { lower, upper } = numberBounds(schema);
      if (lower !== undefined && upper !== undefined && lower.inclusive && upper.inclusive) label = `${noun} in [${lower.value}, ${upper.value}]`;
      else {
        const parts: string[] = [];
        if (lower !== undefined) parts.push(`${lower.inclusive ? '≥' : '>'} ${lower.value}`);
        if (upper !== undefined) parts.push(`${upper.inclusive ? '≤' : '<'} ${upper.value}`);
        label = parts.length > 0 ? `${noun} ${parts.join(', ')}` : noun;
      }
      break;
    }
    case 'boolean':
      label = 'boolean';
      break;
    case 'string':
      label = 'string';
      break;
    case 'enum':
      label = kind.values.map((v) => `\`${v}\``).join(' | ');
      break;
    case 'string-array':
      label = 'list of strings';
      break;
    default:
      label = def.type === 'array' ? 'list' : def.type === 'record' || def.type === 'object' ? 'object' : def.type;
  }
  return nullable ? `${label} or \`null\`` : label;
}
