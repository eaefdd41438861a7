export * from './ports/index.js';
export * from './tokens.js';
export * from './plugin.js';
export * from './events.js';
export * from './errors.js';
export * from './plan.js';
export * from './logger.js';
export * from './kernel.js';
