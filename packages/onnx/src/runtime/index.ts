export * from './backend.js';
export * from './session.js';
export * from './runtime.js';
export { toOrtTensor, fromOrtTensor } from './convert.js';
export * from './worker-runner.js';
