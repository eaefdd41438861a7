/**
 * Oona internals shared by every Oona plugin: the {@link OonaClient} (all fabric rules), the
 * narrow {@link StreamBackend} port, the in-memory broker, settings, breaker, token bucket,
 * kernel guards and metrics.
 *
 * @packageDocumentation
 */
export * from './backend.js';
export * from './breaker.js';
export * from './catalogue.js';
export * from './client.js';
export * from './errors.js';
export * from './faults.js';
export * from './housekeeping.js';
export * from './ids.js';
export * from './kernel-guard.js';
export * from './memory-backend.js';
export * from './metrics.js';
export * from './settings.js';
export * from './token-bucket.js';
