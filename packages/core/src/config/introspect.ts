import type { z } from 'zod';

/**
 * Minimal, read-only introspection of zod 4 schemas: enough to coerce environment strings
 * to the type a path expects and to word validation messages. Unknown shapes degrade to
 * `unknown` rather than failing.
 */

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
  readonly in?: z.ZodType;
  readonly out?: z.ZodType;
  readonly entries?: Record<string, string | number>;
  readonly checks?: ReadonlyArray<{ _zod: { def: CheckDef } }>;
  readonly element?: z.ZodType;
  readonly values?: readonly unknown[];
  readonly options?: readonly z.ZodType[];
}

interface CheckDef {
  readonly check: string;
  readonly value?: number;
  readonly inclusive?: boolean;
  readonly format?: string;
  readonly minimum?: number;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** Strips optional/default/nullable/pipe wrappers down to the schema that validates the value. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let i = 0; i < 32; i += 1) {
    const def = defOf(current);
    if (WRAPPERS.has(def.type) && def.innerType !== undefined) {
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in !== undefined && def.out !== undefined) {
      // z.preprocess(fn, schema) is pipe(transform, schema): the value is checked by `out`.
      current = defOf(def.in).type === 'transform' ? def.out : def.in;
    } else {
      return current;
    }
  }
  return current;
}

/** The schema at a dotted path inside an object schema, or undefined when there is none. */
export function schemaAt(root: z.ZodType, path: readonly (string | number)[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = root;
  for (const key of path) {
    if (current === undefined) return undefined;
    const def = defOf(unwrap(current));
    if (def.type === 'object' && def.shape !== undefined && typeof key === 'string') {
      current = def.shape[key];
    } else if (def.type === 'array' && def.element !== undefined && typeof key === 'number') {
      current = def.element;
    } else {
      return undefined;
    }
  }
  return current;
}

/** The keys an object schema accepts (empty for non-objects). */
export function objectKeys(schema: z.ZodType | undefined): string[] {
  if (schema === undefined) return [];
  const def = defOf(unwrap(schema));
  return def.type === 'object' && def.shape !== undefined ? Object.keys(def.shape) : [];
}

/** Basic kind of value a schema expects, used to coerce environment strings. */
export type ValueKind =
  | { readonly kind: 'number'; readonly integer: boolean }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'string' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'string-array' }
  | { readonly kind: 'unknown' };

/** What kind of value `schema` expects. */
export function valueKind(schema: z.ZodType | undefined): ValueKind {
  if (schema === undefined) return { kind: 'unknown' };
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case 'number':
      return { kind: 'number', integer: (def.checks ?? []).some((c) => isIntegerCheck(c._zod.def)) };
    case 'int':
      return { kind: 'number', integer: true };
    case 'boolean':
      return { kind: 'boolean' };
    case 'string':
      return { kind: 'string' };
    case 'enum':
      return { kind: 'enum', values: Object.values(def.entries ?? {}).map(String) };
    case 'literal':
      return { kind: 'enum', values: (def.values ?? []).map(String) };
    case 'array':
      return def.element !== undefined && valueKind(def.element).kind === 'string'
        ? { kind: 'string-array' }
        : { kind: 'unknown' };
    default:
      return { kind: 'unknown' };
  }
}

function isIntegerCheck(check: CheckDef): boolean {
  return check.check === 'number_format' && (check.format === 'safeint' || check.format === 'int32' || check.format === 'uint32');
}

/** One bound of a number schema: its value and whether the value itself is allowed. */
export interface NumberBound {
  readonly value: number;
  readonly inclusive: boolean;
}

/**
 * The lower and upper bounds set by a number schema's checks (`.min`, `.positive`, `.max`, ...);
 * the last check of each side wins. Pass the unwrapped schema.
 */
export function numberBounds(schema: z.ZodType): { lower?: NumberBound; upper?: NumberBound } {
  let lower: NumberBound | undefined;
  let upper: NumberBound | undefined;
  for (const c of defOf(schema).checks ?? []) {
    const d = c._zod.def;
    if (typeof d.value !== 'number') continue;
    if (d.check === 'greater_than') lower = { value: d.value, inclusive: d.inclusive ?? false };
    if (d.check === 'less_than') upper = { value: d.value, inclusive: d.inclusive ?? false };
  }
  return { ...(lower !== undefined ? { lower } : {}), ...(upper !== undefined ? { upper } : {}) };
}

/**
 * A short phrase for what a schema expects, for messages like
 * `tamiyo.stepTimeoutMs: expected a positive number, got "fast"`.
 */
export function describeExpected(schema: z.ZodType | undefined): string | undefined {
  if (schema === undefined) return undefined;
  const inner = unwrap(schema);
  const def = defOf(inner);
  const kind = valueKind(inner);
  switch (kind.kind) {
    case 'number': {
      const noun = kind.integer ? 'integer' : 'number';
      const { lower, upper } = numberBounds(inner);
      if (lower?.value === 0 && upper === undefined) {
        return lower.inclusive ? `a non-negative ${noun}` : `a positive ${noun}`;
      }
      const parts: string[] = [];
      if (lower !== undefined) parts.push(`${lower.inclusive ? '>=' : '>'} ${lower.value}`);
      if (upper !== undefined) parts.push(`${upper.inclusive ? '<=' : '<'} ${upper.value}`);
      return `${kind.integer ? 'an integer' : 'a number'}${parts.length > 0 ? ` ${parts.join(' and ')}` : ''}`;
    }
    case 'boolean':
      return 'a boolean';
    case 'string': {
      const min = (def.checks ?? []).find((c) => c._zod.def.check === 'min_length');
      return min !== undefined && (min._zod.def.minimum ?? 0) > 0 ? 'a non-empty string' : 'a string';
    }
    case 'enum':
      return `one of ${kind.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'string-array':
      return 'a list of strings';
    default:
      if (def.type === 'object') return 'an object';
      if (def.type === 'array') return 'a list';
      return undefined;
  }
}
