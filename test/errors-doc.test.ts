// Every error class in the packages has a literal `code`, and docs/errors.md lists every code
// (under its package, with its class) and no code that the sources no longer use.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const CODE = /'(ESPER_[A-Z0-9_]+)'/g;

interface SourceCode {
  readonly code: string;
  readonly className: string;
  readonly pkg: string;
  readonly file: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Error classes of every package's `src/`: their codes, and the classes that have none. */
function scanSources(): { codes: SourceCode[]; untyped: string[] } {
  const codes: SourceCode[] = [];
  const untyped: string[] = [];
  for (const dir of readdirSync(join(root, 'packages'))) {
    let pkg: string;
    try {
      pkg = (JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { name: string }).name;
    } catch {
      continue;
    }
    let files: string[];
    try {
      files = sourceFiles(join(root, 'packages', dir, 'src'));
    } catch {
      continue;
    }
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const where = relative(root, file);
      for (const m of text.matchAll(/class (\w+)(?:<[^>{]*>)? extends (\w+)(<[^{]*>)?\s*\{/g)) {
        const [, className, base, typeArgs] = m;
        if (base === 'EsperError') {
          const literals = [...(typeArgs ?? '').matchAll(CODE)].map((c) => c[1]!);
          if (literals.length === 0) untyped.push(`${where}: class ${className} extends EsperError without a literal code type`);
          for (const code of literals) codes.push({ code, className: className!, pkg, file: where });
        } else if (/^(?:Error|TypeError|RangeError|SyntaxError)$/.test(base!) && !(className === 'EsperError' && where === 'packages/core/src/errors.ts')) {
          untyped.push(`${where}: class ${className} extends ${base} instead of EsperError<'ESPER_…'>`);
        }
      }
      for (const m of text.matchAll(/new EsperError(?:<[^>]*>)?\(\s*'(ESPER_[A-Z0-9_]+)'/g)) {
        codes.push({ code: m[1]!, className: 'EsperError', pkg, file: where });
      }
    }
  }
  return { codes, untyped };
}

/** Rows of docs/errors.md: code, class and the package heading (`## \`@esper/core\``) they sit under. */
function scanDocs(): Array<{ code: string; className: string; pkg: string | undefined }> {
  const rows: Array<{ code: string; className: string; pkg: string | undefined }> = [];
  let pkg: string | undefined;
  for (const line of readFileSync(join(root, 'docs', 'errors.md'), 'utf8').split('\n')) {
    const heading = /^## `([^`]+)`/.exec(line);
    if (heading !== null) pkg = heading[1];
    const row = /^\| `(ESPER_[A-Z0-9_]+)` \| `(\w+)` \|/.exec(line);
    if (row !== null) rows.push({ code: row[1]!, className: row[2]!, pkg });
  }
  return rows;
}

describe('error codes', () => {
  const { codes, untyped } = scanSources();
  const docs = scanDocs();

  it('finds the error classes (guards the scan itself)', () => {
    expect(codes.map((c) => c.code)).toEqual(expect.arrayContaining(['ESPER_CONFIG_INVALID', 'ESPER_KERNEL_HOOK_TIMEOUT', 'ESPER_ONNX_GRAPH']));
  });

  it('every error class has a literal code', () => {
    expect(untyped, 'give each error class a code literal: class XError extends EsperError<\'ESPER_AREA_WHAT\'>').toEqual([]);
  });

  it('every code used in the sources is listed in docs/errors.md, under its package, with its class', () => {
    const missing = codes
      .filter((c) => !docs.some((d) => d.code === c.code && d.className === c.className && d.pkg === c.pkg))
      .map((c) => `${c.code} (${c.className}, ${c.file}): add a row under "## \`${c.pkg}\`"`);
    expect(missing, 'docs/errors.md is missing these codes').toEqual([]);
  });

  it('docs/errors.md lists no code the sources do not use, and each once', () => {
    const used = new Set(codes.map((c) => c.code));
    expect(docs.filter((d) => !used.has(d.code)).map((d) => d.code), 'remove these rows from docs/errors.md').toEqual([]);
    const seen = docs.map((d) => d.code);
    expect(seen.filter((code, i) => seen.indexOf(code) !== i), 'listed twice').toEqual([]);
  });
});
