import type { AnyPlugin, EsperPlugin } from '../kernel/plugin.js';
import type { CoreConfigInput } from './core-schema.js';

/** The config-section input of one plugin (every option optional: defaults and factory options fill in). */
type SectionInput<P> = P extends EsperPlugin<string, infer _O, infer I> ? Partial<I> : never;

/**
 * A whole Esper config: the plugins to compose, the kernel's sections, and one section per
 * plugin keyed by its `configKey`, typed by that plugin's schema.
 */
export type EsperConfig<P extends readonly AnyPlugin[] = readonly AnyPlugin[]> = Partial<CoreConfigInput> & {
  /** Plugins to compose, in preference order (ties in dependency order follow this order). */
  readonly plugins: P;
} & { readonly [K in P[number] as K['configKey']]?: SectionInput<K> };

/**
 * Declares a config with full typing: each plugin's section is checked against that plugin's
 * options type, and unknown sections do not compile. Use as the default export of
 * `esper.config.ts`.
 *
 * @example
 * ```ts
 * export default defineConfig({
 *   plugins: [oonaMemory(), tamiyo()],
 *   run: { name: 'mnist', seed: 7 },
 *   tamiyo: { stepTimeoutMs: 5 },
 * });
 * ```
 */
export function defineConfig<const P extends readonly AnyPlugin[]>(config: EsperConfig<P>): EsperConfig<P> {
  return config;
}
