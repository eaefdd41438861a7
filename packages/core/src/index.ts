/**
 * `@esper/core`: the Esper kernel — ports and their DI tokens, the plugin API and lifecycle,
 * the typed event bus, typed config with environment overrides, and the shared telemetry
 * and security helpers. Leyline contracts are at `@esper/core/leyline`; contract suites for
 * plugin authors at `@esper/core/testing`.
 *
 * @packageDocumentation
 */
import 'reflect-metadata';

export * from './errors.js';
export * from './kernel/index.js';
export * from './config/index.js';
export * from './security/index.js';
export * from './telemetry/index.js';
export * from './oona/index.js';
export * from './plugins/telemetry-file.js';
