import { z } from 'zod';
import { definePlugin, definePort, type AnyPlugin, type PluginInstance, type PortToken } from '../../src/index.js';

/** A port used only by the kernel tests. */
export interface Greeter {
  greet(name: string): string;
}
export const GreeterPort: PortToken<Greeter> = definePort<Greeter>('test.Greeter', { description: 'test greeter' });

export interface Shouter {
  shout(name: string): string;
}
export const ShouterPort: PortToken<Shouter> = definePort<Shouter>('test.Shouter', { description: 'test shouter' });

export const greeterSchema = z.strictObject({
  greeting: z.string().default('hello').meta({ env: 'TEST_GREETING' }),
  stepTimeoutMs: z.number().positive().default(5).meta({ env: 'TEST_STEP_TIMEOUT_MS' }),
  enabled: z.boolean().default(false).meta({ env: 'TEST_ENABLED' }),
  mode: z.enum(['fast', 'careful']).default('careful').meta({ env: 'TEST_MODE' }),
  nested: z.strictObject({ retries: z.number().int().nonnegative().default(3).meta({ env: 'TEST_RETRIES' }) }).prefault({}),
  password: z.string().optional().meta({ env: 'TEST_PASSWORD', secret: true }),
});

/** A plugin with options, env bindings and a secret (in the schema's `.meta()`); provides Greeter. */
export function greeterPlugin(options: Partial<z.input<typeof greeterSchema>> = {}, log: string[] = []) {
  return definePlugin({
    name: 'test-greeter',
    configKey: 'greeter',
    configSchema: greeterSchema,
    factoryOptions: options,
    provides: [GreeterPort],
    setup(ctx) {
      log.push('greeter:setup');
      ctx.provide(GreeterPort, () => ({ greet: (name) => `${ctx.options.greeting}, ${name}` }));
      return recordingHooks('greeter', log);
    },
  });
}

/** Hooks that append `<name>:<hook>` to `log`. */
export function recordingHooks(name: string, log: string[]) {
  return {
    init: () => void log.push(`${name}:init`),
    start: () => void log.push(`${name}:start`),
    stop: () => void log.push(`${name}:stop`),
    dispose: () => void log.push(`${name}:dispose`),
  };
}

/** A plugin without options that provides/requires whatever the test says. */
export function barePlugin(
  name: string,
  spec: {
    provides?: PortToken<unknown>[];
    requires?: PortToken<unknown>[];
    optionalRequires?: PortToken<unknown>[];
    bind?: PortToken<unknown>[];
    log?: string[];
    hooks?: PluginInstance<unknown>;
    hookTimeoutsMs?: AnyPlugin['hookTimeoutsMs'];
  } = {},
): AnyPlugin {
  const log = spec.log ?? [];
  return definePlugin({
    name,
    configKey: name,
    ...(spec.provides ? { provides: spec.provides } : {}),
    ...(spec.requires ? { requires: spec.requires } : {}),
    ...(spec.optionalRequires ? { optionalRequires: spec.optionalRequires } : {}),
    ...(spec.hookTimeoutsMs ? { hookTimeoutsMs: spec.hookTimeoutsMs } : {}),
    setup(ctx) {
      for (const token of spec.bind ?? spec.provides ?? []) ctx.provideValue(token, { from: name });
      return spec.hooks ?? recordingHooks(name, log);
    },
  });
}
