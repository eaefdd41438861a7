export * from './optimizers.js';
export * from './training-graph.js';
export * from './trainer.js';
export * from './multi-step.js';
