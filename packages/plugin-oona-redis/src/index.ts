/**
 * `@esper/plugin-oona-redis`: the Oona message fabric on Redis Streams (node-redis), with the
 * same semantics as `@esper/plugin-oona-memory` (both pass the contract suite in
 * `@esper/core/testing`) and the reference's wire format.
 *
 * @packageDocumentation
 */
export { oonaRedis, oonaRedisSchema, redisBackendFor, type OonaRedisInput, type OonaRedisOptions } from './plugin.js';
/** The plugin factory as the default export, so a JSON config can name the package alone: `"plugins": ["@esper/plugin-oona-redis"]`. */
export { oonaRedis as default } from './plugin.js';
export { RedisStreamBackend, redisClientOptions, type RedisBackendOptions } from './backend.js';
export { maskRedisUrl } from './url.js';
