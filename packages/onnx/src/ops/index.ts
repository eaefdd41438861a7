export * from './math.js';
export * from './reduce.js';
export * from './layout.js';
export * from './nn.js';
export * from './loss.js';
export * from './control.js';
export * from './segment.js';
export type { Operand } from './util.js';
