/**
 * `@esper/onnx/proto`: the ONNX protobuf messages (`ModelProto`, `GraphProto`, …) generated
 * from the official `onnx.proto` schema, for callers that need the raw messages.
 *
 * @packageDocumentation
 */
export * from '../../gen/onnx_pb.js';
