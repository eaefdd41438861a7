import { isAbsolute, join } from 'node:path';
import { createEsper, loadConfigFile, portInfo, type Env, type Esper } from '@esper/core';
import { formatTable } from '../record/format.js';

/** Loads, validates and plans a config file; throws the config and plan errors. */
export async function composeConfig(configPath: string, env: Env, cwd: string): Promise<Esper> {
  const raw = await loadConfigFile(isAbsolute(configPath) ? configPath : join(cwd, configPath));
  return createEsper(raw, { env, source: configPath });
}

/** `esper validate`: one line saying the config is valid, and the environment overrides applied. */
export function validateReport(esper: Esper, configPath: string): string {
  const names = esper.plan.order.map((p) => p.plugin.name);
  let text = `✓ ${configPath} is valid: ${names.length} plugin${names.length === 1 ? '' : 's'}${names.length > 0 ? ` (${names.join(', ')})` : ''}.\n`;
  const overrides = Object.entries(esper.config.envOverrides);
  if (overrides.length > 0) {
    text += `  environment overrides: ${overrides.map(([path, name]) => `${name} → ${path}`).join(', ')}\n`;
  }
  return text;
}

/** `esper config`: the resolved config (secrets masked), what the environment set, and each port's provider. */
export function configReport(esper: Esper, configPath: string, json: boolean): string {
  const ports = Object.fromEntries(esper.plan.bindings.map((b) => [b.port, b.providers.join(', ') || '(none)']));
  if (json) {
    return `${JSON.stringify({ config: esper.config.masked(), envOverrides: esper.config.envOverrides, ports }, null, 2)}\n`;
  }
  const overrides = Object.entries(esper.config.envOverrides);
  return (
    `# Resolved config for ${configPath} (secrets masked)\n` +
    `${JSON.stringify(esper.config.masked(), null, 2)}\n\n` +
    `# Set from the environment\n${overrides.length === 0 ? '  (nothing)\n' : overrides.map(([p, n]) => `  ${p} ← ${n}\n`).join('')}\n` +
    `# Ports\n${formatTable([['port', 'provided by'], ...Object.entries(ports)])}`
  );
}

/** `esper plugins`: the composed plugins in boot order with the ports they provide and require. */
export function pluginsReport(esper: Esper, json: boolean): string {
  const rows = esper.plan.order.map(({ plugin }, i) => ({
    order: i + 1,
    name: plugin.name,
    configKey: plugin.configKey,
    provides: (plugin.provides ?? []).map((t) => portInfo(t).name),
    requires: (plugin.requires ?? []).map((t) => portInfo(t).name),
  }));
  if (json) return `${JSON.stringify(rows, null, 2)}\n`;
  return formatTable([
    ['#', 'plugin', 'section', 'provides', 'requires'],
    ...rows.map((r) => [String(r.order), r.name, r.configKey, r.provides.join(', ') || '-', r.requires.join(', ') || '-']),
  ]);
}
