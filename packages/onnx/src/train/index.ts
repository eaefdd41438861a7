export * from './optimizers.js';
export * from './training-graph.js';
export * from './trainer.js';
