/**
 * `@esper/plugin-kasmina`: Kasmina, the seed executor. For now its typed settings; the executor
 * service comes with the Kasmina issue.
 */
export { KASMINA_ENV, KASMINA_SECRETS, kasminaConfigSchema, type KasminaConfig, type KasminaConfigInput } from './config.js';
