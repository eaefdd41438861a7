/**
 * `@esper/plugin-oona-memory`: the Oona message fabric in process, with the same semantics as
 * `@esper/plugin-oona-redis` (both pass the contract suite in `@esper/core/testing`).
 *
 * @packageDocumentation
 */
export { oonaMemory, oonaMemorySchema, type OonaMemoryInput, type OonaMemoryOptions } from './plugin.js';
/** The plugin factory as the default export, so a JSON config can name the package alone: `"plugins": ["@esper/plugin-oona-memory"]`. */
export { oonaMemory as default } from './plugin.js';
export { MemoryBroker, MemoryStreamBackend } from './broker/memory-backend.js';
