/**
 * `@esper/onnx`: Esper's compute layer. A typed graph IR with a fluent builder over the ONNX
 * protobuf schema, forward operators, ONNX Runtime sessions with a CPU/WebGPU/CUDA fallback
 * order and a digest-keyed cache, and parameter sets with seeded initialisers and checksummed
 * checkpoints. Raw ONNX messages are at `@esper/onnx/proto`.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './ir/index.js';
export * from './ops/index.js';
export * from './runtime/index.js';
export * from './params/index.js';
export * from './autodiff/index.js';
export * from './train/index.js';
export type {} from './compute-types.js';
