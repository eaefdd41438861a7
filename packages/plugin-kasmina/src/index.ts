/**
 * `@esper/plugin-kasmina`: Kasmina, the seed executor.
 */
export { KASMINA_ENV, KASMINA_SECRETS, kasminaConfigSchema, type KasminaConfig, type KasminaConfigInput } from './config.js';
export { KasminaExecutor, type KasminaExecutorOptions, type SeedStageChange, type CommandVerifierLike, type TelemetryEmitterLike } from './executor/kasmina-executor.js';
