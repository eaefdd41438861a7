import { z } from 'zod';
import { secretSettings, settingsEnv } from './meta.js';

const LOG_LEVEL_ALIASES: Readonly<Record<string, string>> = { warning: 'warn', critical: 'error', fatal: 'error' };

/** The kernel's own config sections: `run`, `kernel`, `log`, `security`. */
export const coreConfigSchema = z.strictObject({
  run: z
    .strictObject({
      name: z.string().min(1).default('esper').meta({ description: 'Run name (prefix of the run id).' }),
      dir: z.string().min(1).default('./runs').meta({ description: 'Parent of the run directory (`<dir>/<runId>`).' }),
      seed: z.number().int().nonnegative().default(42).meta({ description: 'Seed for every random generator of the run.' }),
      // Per thread on Linux; applied to every thread at start (decision 0067).
      nice: z
        .number()
        .int()
        .min(0)
        .max(19)
        .default(0)
        .meta({
          env: 'ESPER_NICE',
          description:
            'CPU niceness of this process, 0–19 (higher yields more). Set 10 on a trainer that shares cores with a Tamiyo service, so decisions keep their 5 ms budget.',
        }),
    })
    .prefault({}),
  kernel: z
    .strictObject({
      hookTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .meta({ description: 'Time limit of each lifecycle hook, ms (a plugin may override it per hook).' }),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z
        .preprocess(
          (v) => (typeof v === 'string' ? (LOG_LEVEL_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v),
          z.enum(['debug', 'info', 'warn', 'error']),
        )
        .default('info')
        .meta({ env: 'ESP_LOG_LEVEL', description: 'Kernel log level; Python names `WARNING`, `CRITICAL` accepted.' }),
    })
    .prefault({}),
  security: z
    .strictObject({
      leylineSecret: z
        .string()
        .min(1)
        .refine((s) => s.trim() !== '', 'must not be blank: use the key shared by every Esper process')
        .optional()
        .meta({ env: 'ESPER_LEYLINE_SECRET', secret: true, description: 'HMAC key for Leyline signatures (raw UTF-8 bytes).' }),
      nonceWindowMs: z
        .number()
        .int()
        .positive()
        .default(300_000)
        .meta({ description: 'How long a command id is remembered against replay, ms.' }),
      freshnessWindowMs: z.number().int().positive().default(60_000).meta({ description: 'Maximum age of a command, ms.' }),
      maxFutureSkewMs: z
        .number()
        .int()
        .nonnegative()
        .default(5_000)
        .meta({ description: 'How far in the future a command’s `issued_at` may be, ms.' }),
    })
    .prefault({}),
});

/** Validated kernel config. */
export type CoreConfig = z.output<typeof coreConfigSchema>;
/** What a user may write for the kernel's sections. */
export type CoreConfigInput = z.input<typeof coreConfigSchema>;

/** Names of the kernel's own sections; plugins cannot use them as `configKey`. */
export const CORE_SECTIONS = ['run', 'kernel', 'log', 'security'] as const;

/** Environment variables the kernel itself reads, by name → path in the config (from the schema's `.meta({ env })`). */
export const CORE_ENV: Readonly<Record<string, string>> = settingsEnv(coreConfigSchema, 'the kernel config');

/** Secret paths of the kernel's sections (from the schema's `.meta({ secret })`). */
export const CORE_SECRETS: readonly string[] = secretSettings(coreConfigSchema, 'the kernel config');
