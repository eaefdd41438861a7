export * from './prng.js';
export * from './parameter-set.js';
export * from './init.js';
export * from './checkpoint.js';
