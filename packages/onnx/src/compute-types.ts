import type { Graph } from './ir/graph.js';
import type { TensorData } from './ir/tensor-data.js';

// Types core's growth contract (`HostModel`, `ComposedModel`, `SeedExecutor.controlFeeds`) with
// this package's IR: wherever @esper/onnx is imported, `ComputeGraph` is `Graph` and
// `ComputeTensor` is `TensorData`.
declare module '@esper/core' {
  interface ComputeTypes {
    graph: Graph;
    tensor: TensorData;
  }
}

export {};
