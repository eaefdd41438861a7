// The config tables in the plugin READMEs and docs/config-reference.md are generated from the
// config schemas by scripts/gen-config-docs.ts; they must match what `pnpm gen:docs` writes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { coreConfigSchema } from '../packages/core/src/config/core-schema.js';
import { tolariaConfigSchema } from '../packages/plugin-tolaria/src/config.js';
import { renderConfigDocs, renderTable } from '../scripts/gen-config-docs.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('generated config tables', () => {
  const generated = renderConfigDocs(root);

  it.each([...generated.keys()])('%s is up to date with its config schema', (file) => {
    const committed = readFileSync(join(root, file), 'utf8');
    expect(committed === generated.get(file), `${file} is stale: run \`pnpm gen:docs\` at the repository root and commit the result`).toBe(true);
  });

  it('cover the kernel and every first-party plugin section', () => {
    const reference = generated.get('docs/config-reference.md')!;
    for (const path of ['security.leylineSecret', 'oona.normalStream', 'oona.broker', 'oona.redisUrl', 'tamiyo.stepTimeoutMs', 'kasmina.embargoMs', 'tolaria.maxEpochs']) {
      expect(reference).toContain(`| \`${path}\` |`);
    }
    expect(reference).toContain('| `TAMIYO_STEP_TIMEOUT_MS` | `tamiyo.stepTimeoutMs` | `@esper/plugin-tamiyo` |');
  });

  it('derive every column from the schema', () => {
    const kernel = renderTable({ id: 'kernel', schema: coreConfigSchema }).split('\n');
    expect(kernel.slice(0, 2)).toEqual(['| Option | Env var | Type | Default | Meaning |', '| --- | --- | --- | --- | --- |']);
    expect(kernel).toContain(
      '| `log.level` | `ESP_LOG_LEVEL` | `debug` \\| `info` \\| `warn` \\| `error` | `info` | Kernel log level; Python names `WARNING`, `CRITICAL` accepted. |',
    );
    expect(kernel).toContain(
      '| `security.leylineSecret` | `ESPER_LEYLINE_SECRET` | string | unset | **Secret:** masked when printed, redacted from logs. HMAC key for Leyline signatures (raw UTF-8 bytes). |',
    );
    const tolaria = renderTable({ id: 'tolaria', schema: tolariaConfigSchema, prefix: 'tolaria.' }).split('\n');
    expect(tolaria[0]).toBe('| Option | Env var | Type | Default | Meaning | Reference |');
    expect(tolaria).toContain('| `tolaria.maxEpochs` | — | integer ≥ 1 | **required** | Epochs that `run()` trains. | tolaria §2.1 |');
    expect(tolaria).toContain(
      '| `tolaria.profiler.dir` | `TOLARIA_PROFILER_DIR` | string | unset: `<run.dir>/profiler` | Folder of the `tolaria-epoch-<epoch>.json` traces. | tolaria §2.2, §3.12 |',
    );
    expect(tolaria).toContain(
      '| `tolaria.profiler.activeSteps` | `TOLARIA_PROFILER_ACTIVE_STEPS` | integer > 0 | unset | **Deprecated.** Unused, as in the reference; the service warns when it is set. | tolaria §2.2 |',
    );
  });
});
