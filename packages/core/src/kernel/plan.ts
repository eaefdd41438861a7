import type { ResolvedConfig, ResolvedPlugin } from '../config/resolve.js';
import { DependencyCycleError, DuplicateProviderError, MissingProviderError } from './errors.js';
import { portInfo, Tokens } from './tokens.js';

/** Who provides one port in a composed config. */
export interface PortBinding {
  readonly token: symbol;
  readonly port: string;
  /** Plugin names, or `kernel` for a kernel default. */
  readonly providers: readonly string[];
}

/** The checked boot order of a config: plugins in dependency order and the provider of each port. */
export interface BootPlan {
  /** Plugins in the order `init`/`start` run (teardown runs in reverse). */
  readonly order: readonly ResolvedPlugin[];
  /** Every port some plugin provides or requires, with its providers. */
  readonly bindings: readonly PortBinding[];
}

/**
 * Checks that every required port has a provider (exactly one unless the port is multi),
 * and orders plugins so that each starts after the providers of the ports it requires.
 * Ties keep config order. Throws typed errors that name the plugins involved.
 */
export function planBoot(config: ResolvedConfig): BootPlan {
  const providers = new Map<symbol, string[]>();
  const providerIndex = new Map<symbol, number[]>();
  config.plugins.forEach(({ plugin }, index) => {
    for (const token of plugin.provides ?? []) {
      const names = providers.get(token) ?? [];
      if (names.includes(plugin.name)) continue;
      names.push(plugin.name);
      providers.set(token, names);
      providerIndex.set(token, [...(providerIndex.get(token) ?? []), index]);
    }
  });

  for (const [token, names] of providers) {
    const info = portInfo(token);
    if (!info.multi && names.length > 1) {
      throw new DuplicateProviderError(
        `Port ${info.name} is provided by ${names.map((n) => `"${n}"`).join(' and ')}, but it takes exactly one provider. Remove all but one of these plugins from the config.`,
      );
    }
  }

  const hasSecret = config.core.security.leylineSecret !== undefined;
  const kernelProvides = (token: symbol): boolean => {
    if (token === Tokens.Signer) return hasSecret;
    return portInfo(token).kernelDefault;
  };

  for (const { plugin } of config.plugins) {
    for (const token of plugin.requires ?? []) {
      if (providers.has(token) || kernelProvides(token)) continue;
      const info = portInfo(token);
      const hint =
        token === Tokens.Signer
          ? 'Set the ESPER_LEYLINE_SECRET environment variable (or security.leylineSecret in the config).'
          : `Add a plugin that provides ${info.name} (${info.description}) to "plugins".`;
      throw new MissingProviderError(`Plugin "${plugin.name}" requires port ${info.name}, but nothing provides it. ${hint}`);
    }
  }

  // Dependency edges: plugin i depends on every plugin that provides a port i (optionally) requires.
  const n = config.plugins.length;
  const deps: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  config.plugins.forEach(({ plugin }, i) => {
    for (const token of [...(plugin.requires ?? []), ...(plugin.optionalRequires ?? [])]) {
      for (const j of providerIndex.get(token) ?? []) if (j !== i) deps[i]!.add(j);
    }
  });

  const order: number[] = [];
  const done = new Set<number>();
  while (order.length < n) {
    // Lowest config index whose dependencies have all been placed: stable and deterministic.
    let next = -1;
    for (let i = 0; i < n; i += 1) {
      if (!done.has(i) && [...deps[i]!].every((d) => done.has(d))) {
        next = i;
        break;
      }
    }
    if (next === -1) throw new DependencyCycleError(findCycle(deps, done).map((i) => config.plugins[i]!.plugin.name));
    order.push(next);
    done.add(next);
  }

  const tokens = new Set<symbol>(providers.keys());
  for (const { plugin } of config.plugins) for (const t of plugin.requires ?? []) tokens.add(t);
  const bindings: PortBinding[] = [...tokens].map((token) => ({
    token,
    port: portInfo(token).name,
    providers: providers.get(token) ?? (kernelProvides(token) ? ['kernel'] : []),
  }));

  return { order: order.map((i) => config.plugins[i]!), bindings };
}

function findCycle(deps: readonly Set<number>[], done: ReadonlySet<number>): number[] {
  const start = deps.findIndex((_, i) => !done.has(i));
  const path: number[] = [];
  const seen = new Map<number, number>();
  let current = start;
  while (!seen.has(current)) {
    seen.set(current, path.length);
    path.push(current);
    current = [...deps[current]!].find((d) => !done.has(d)) ?? start;
  }
  return [...path.slice(seen.get(current)), current];
}
