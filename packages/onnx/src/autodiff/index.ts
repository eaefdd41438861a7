export { gradients, type GradientOptions } from './gradients.js';
export { gradientGate, GRADIENT_GATES_METADATA_KEY } from './gate.js';
export { GRADIENT_RULES, DIFFERENTIABLE_OPS, type GradientRule, type RuleContext } from './rules.js';
export { gradientGraph, type GradientGraphOptions } from './gradient-graph.js';
