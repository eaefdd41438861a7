import { z } from 'zod';

const LOG_LEVEL_ALIASES: Readonly<Record<string, string>> = { warning: 'warn', critical: 'error', fatal: 'error' };

/** The kernel's own config sections: `run`, `kernel`, `log`, `security`. */
export const coreConfigSchema = z.strictObject({
  /** The training run: name, output directory, random seed. */
  run: z
    .strictObject({
      name: z.string().min(1).default('esper'),
      dir: z.string().min(1).default('./runs'),
      seed: z.number().int().nonnegative().default(42),
    })
    .prefault({}),
  /** Kernel behaviour. */
  kernel: z
    .strictObject({
      /** Time limit for each lifecycle hook of each plugin, in ms. */
      hookTimeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /** Logging (env `ESP_LOG_LEVEL`, Python level names accepted). */
  log: z
    .strictObject({
      level: z.preprocess(
        (v) => (typeof v === 'string' ? (LOG_LEVEL_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v),
        z.enum(['debug', 'info', 'warn', 'error']),
      ).default('info'),
    })
    .prefault({}),
  /** Message and command security. */
  security: z
    .strictObject({
      /** HMAC key for Leyline signatures (env `ESPER_LEYLINE_SECRET`). Never printed. */
      leylineSecret: z
        .string()
        .min(1)
        .refine((s) => s.trim() !== '', 'must not be blank: use the key shared by every Esper process')
        .optional(),
      /** How long a command id is remembered against replay, in ms. */
      nonceWindowMs: z.number().int().positive().default(300_000),
      /** Maximum age of a command, in ms. */
      freshnessWindowMs: z.number().int().positive().default(60_000),
      /** How far in the future a command's `issued_at` may be, in ms. */
      maxFutureSkewMs: z.number().int().nonnegative().default(5_000),
    })
    .prefault({}),
});

/** Validated kernel config. */
export type CoreConfig = z.output<typeof coreConfigSchema>;
/** What a user may write for the kernel's sections. */
export type CoreConfigInput = z.input<typeof coreConfigSchema>;

/** Names of the kernel's own sections; plugins cannot use them as `configKey`. */
export const CORE_SECTIONS = ['run', 'kernel', 'log', 'security'] as const;

/** Environment variables the kernel itself reads, by name → path in the config. */
export const CORE_ENV: Readonly<Record<string, string>> = {
  ESPER_LEYLINE_SECRET: 'security.leylineSecret',
  ESP_LOG_LEVEL: 'log.level',
};

/** Secret paths of the kernel's sections. */
export const CORE_SECRETS: readonly string[] = ['security.leylineSecret'];
