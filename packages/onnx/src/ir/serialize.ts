import { clearField, clone, create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  TensorProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../gen/onnx_pb.js';
import { OnnxModelParseError } from '../errors.js';
import { allocate, dtypeFromOnnx, onnxDataType, type DType } from './dtype.js';
import { IR_VERSION, subgraphsOf, type AttributeValue, type Dim, type Graph, type Node, type ParameterKind, type ValueInfo } from './graph.js';
import { numel, tensor, tensorBytes, tensorFromBytes, type TensorData } from './tensor-data.js';

/** Metadata key holding the parameter table (`{"name": "initializer" | "input"}`) as JSON. */
export const PARAMETERS_METADATA_KEY = 'esper.parameters';
/** Producer name written into every model. */
export const PRODUCER_NAME = '@esper/onnx';

/** Options of {@link toModelProto} and {@link serializeModel}. */
export interface SerializeOptions {
  /**
   * Also write the start values of input parameters as initializers (ONNX treats an initializer
   * that is also a graph input as a default the caller may override). Default false: training
   * graphs are fed their parameters on every run, and a second copy would only cost memory.
   */
  readonly includeInputParameterValues?: boolean;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function tensorProto(name: string, t: TensorData): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dims: t.dims.map((d) => BigInt(d)),
    dataType: onnxDataType(t.dtype),
    rawData: tensorBytes(t).slice(),
  });
}

function dimProto(d: Dim) {
  if (typeof d === 'number') return { value: { case: 'dimValue' as const, value: BigInt(d) } };
  if (typeof d === 'string') return { value: { case: 'dimParam' as const, value: d } };
  return {};
}

function valueInfoProto(v: ValueInfo) {
  return {
    name: v.name,
    type: {
      value: {
        case: 'tensorType' as const,
        value: { elemType: onnxDataType(v.dtype), ...(v.shape === null ? {} : { shape: { dim: v.shape.map(dimProto) } }) },
      },
    },
  };
}

function attributeProto(name: string, a: AttributeValue): Record<string, unknown> {
  switch (a.type) {
    case 'int': return { name, type: AttributeProto_AttributeType.INT, i: BigInt(a.value) };
    case 'float': return { name, type: AttributeProto_AttributeType.FLOAT, f: a.value };
    case 'string': return { name, type: AttributeProto_AttributeType.STRING, s: utf8.encode(a.value) };
    case 'ints': return { name, type: AttributeProto_AttributeType.INTS, ints: a.value.map((v) => BigInt(v)) };
    case 'floats': return { name, type: AttributeProto_AttributeType.FLOATS, floats: [...a.value] };
    case 'strings': return { name, type: AttributeProto_AttributeType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
    case 'tensor': return { name, type: AttributeProto_AttributeType.TENSOR, t: tensorProto('', a.value) };
    case 'graph': return { name, type: AttributeProto_AttributeType.GRAPH, g: graphProto(a.value, new Set()) };
  }
}

/** The `GraphProto` fields of a graph (subgraphs recurse through their node attributes). */
function graphProto(graph: Graph, skip: ReadonlySet<string>) {
  return {
    name: graph.name,
    node: graph.nodes.map((n) => ({
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      input: [...n.inputs],
      output: [...n.outputs],
      attribute: Object.entries(n.attributes).map(([k, v]) => attributeProto(k, v)),
    })),
    initializer: [...graph.initializers].filter(([n]) => !skip.has(n)).map(([n, t]) => tensorProto(n, t)),
    input: graph.inputs.map(valueInfoProto),
    output: graph.outputs.map(valueInfoProto),
    valueInfo: [...graph.valueInfo.values()].map(valueInfoProto),
  };
}

/**
 * Operator domains other than the default one that nodes of `graph` or of its subgraphs use
 * (`com.microsoft` …), sorted. Each needs an opset import, or ONNX Runtime rejects the model.
 */
function extraDomains(graph: Graph, found = new Set<string>()): Set<string> {
  for (const n of graph.nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') found.add(n.domain);
    for (const sub of subgraphsOf(n)) extraDomains(sub, found);
  }
  return found;
}

/** Input parameters whose start values are left out of the initializers (see {@link SerializeOptions}). */
function skippedParameters(graph: Graph, options: SerializeOptions): Set<string> {
  return new Set(options.includeInputParameterValues ? [] : [...graph.parameters].filter(([, k]) => k === 'input').map(([n]) => n));
}

function modelProto(graph: Graph, skip: ReadonlySet<string>): ModelProto {
  const metadata = new Map(graph.metadata);
  if (graph.parameters.size > 0) metadata.set(PARAMETERS_METADATA_KEY, JSON.stringify(Object.fromEntries(graph.parameters)));
  return create(ModelProtoSchema, {
    irVersion: BigInt(IR_VERSION),
    opsetImport: [{ domain: '', version: BigInt(graph.opset) }, ...[...extraDomains(graph)].sort().map((domain) => ({ domain, version: 1n }))],
    producerName: PRODUCER_NAME,
    metadataProps: [...metadata].map(([key, value]) => ({ key, value })),
    graph: graphProto(graph, skip),
  });
}

/**
 * Converts a graph to an ONNX `ModelProto` message (IR version 10, the graph's opset; version 1
 * of every other operator domain its nodes use).
 */
export function toModelProto(graph: Graph, options: SerializeOptions = {}): ModelProto {
  return modelProto(graph, skippedParameters(graph, options));
}

/** Serializes a graph to ONNX `ModelProto` bytes, ready for ONNX Runtime. Deterministic. */
export function serializeModel(graph: Graph, options: SerializeOptions = {}): Uint8Array {
  return toBinary(ModelProtoSchema, toModelProto(graph, options));
}

/** Options of {@link serializeModelChunked}. */
export interface ChunkedSerializeOptions extends SerializeOptions {
  /**
   * Initializer bytes encoded (and later copied into the result) between two yields. Default
   * 4 MiB. A single initializer larger than this is still encoded in one piece.
   */
  readonly chunkBytes?: number;
  /** Awaited between chunks. Default: one `setImmediate` turn, so timers and I/O run in between. */
  readonly yieldControl?: () => Promise<void>;
}

/** Default {@link ChunkedSerializeOptions.chunkBytes}: 4 MiB. */
export const DEFAULT_SERIALIZE_CHUNK_BYTES = 4 * 1024 * 1024;

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Bytes of the fields of `message` whose numbers pass `keep` (fields are written in number order). */
function encodeFields<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, keep: (fieldNo: number) => boolean): Uint8Array {
  const part = clone(schema, message);
  for (const field of schema.fields) if (!keep(field.number)) clearField(part, field);
  return toBinary(schema, part);
}

/**
 * {@link serializeModel} for large models on a thread that must stay responsive: the same bytes
 * (byte for byte), but initializers are encoded a few MiB at a time with a yield in between, so
 * no single synchronous stretch handles more than about `chunkBytes` of weights (plus one
 * initializer). Protobuf writes the fields of a message in field-number order, so the model is
 * the fields before `graph`, the graph (its fields before the initializers, each initializer,
 * the fields after), then the fields after `graph`.
 */
export async function serializeModelChunked(graph: Graph, options: ChunkedSerializeOptions = {}): Promise<Uint8Array> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_SERIALIZE_CHUNK_BYTES;
  const pause = options.yieldControl ?? nextMacrotask;
  const skip = skippedParameters(graph, options);
  // The model with no initializers at all: small, so encoded in one go.
  const bare = modelProto(graph, new Set(graph.initializers.keys()));
  const bareGraph = bare.graph!;
  const graphNo = ModelProtoSchema.field.graph!.number;
  const initializerNo = GraphProtoSchema.field.initializer!.number;
  const pieces: Uint8Array[] = [encodeFields(GraphProtoSchema, bareGraph, (n) => n < initializerNo)];
  let pending = 0;
  for (const [name, t] of graph.initializers) {
    if (skip.has(name)) continue;
    if (pending >= chunkBytes) {
      pending = 0;
      await pause();
    }
    const piece = toBinary(GraphProtoSchema, create(GraphProtoSchema, { initializer: [tensorProto(name, t)] }));
    pieces.push(piece);
    pending += piece.byteLength;
  }
  pieces.push(encodeFields(GraphProtoSchema, bareGraph, (n) => n > initializerNo));
  const graphBytes = pieces.reduce((sum, p) => sum + p.byteLength, 0);
  const parts = [
    encodeFields(ModelProtoSchema, bare, (n) => n < graphNo),
    new BinaryWriter().tag(graphNo, WireType.LengthDelimited).uint32(graphBytes).finish(),
    ...pieces,
    encodeFields(ModelProtoSchema, bare, (n) => n > graphNo),
  ];
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let at = 0;
  pending = 0;
  for (const p of parts) {
    if (pending >= chunkBytes) {
      pending = 0;
      await pause();
    }
    out.set(p, at);
    at += p.byteLength;
    pending += p.byteLength;
  }
  return out;
}

function parseTensor(t: TensorProto): TensorData {
  const dtype = dtypeFromOnnx(t.dataType);
  const dims = t.dims.map((d) => Number(d));
  if (t.rawData.byteLength > 0 || numel(dims) === 0) return tensorFromBytes(dtype, dims, t.rawData);
  const out = allocate(dtype, numel(dims));
  const src: ArrayLike<number | bigint> =
    dtype === 'float32' ? t.floatData : dtype === 'float64' ? t.doubleData : dtype === 'int64' ? t.int64Data : t.int32Data;
  if (src.length !== out.length) throw new OnnxModelParseError(`tensor "${t.name}": ${src.length} values for dims [${dims.join(', ')}]`);
  for (let i = 0; i < out.length; i++) (out as unknown as (number | bigint)[])[i] = dtype === 'int64' ? BigInt(src[i] as number | bigint) : Number(src[i]);
  return tensor(dtype, dims, out);
}

function parseValueInfo(v: ValueInfoProto): ValueInfo {
  const tt = v.type?.value;
  if (tt?.case !== 'tensorType') throw new OnnxModelParseError(`value "${v.name}" is not a tensor (only tensor values are supported)`);
  const dtype: DType = dtypeFromOnnx(tt.value.elemType);
  const shape = tt.value.shape
    ? tt.value.shape.dim.map((d): Dim => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null))
    : null;
  return { name: v.name, dtype, shape };
}

function parseAttribute(a: AttributeProto, opset: number): AttributeValue {
  switch (a.type) {
    case AttributeProto_AttributeType.INT: return { type: 'int', value: Number(a.i) };
    case AttributeProto_AttributeType.FLOAT: return { type: 'float', value: a.f };
    case AttributeProto_AttributeType.STRING: return { type: 'string', value: fromUtf8.decode(a.s) };
    case AttributeProto_AttributeType.INTS: return { type: 'ints', value: a.ints.map((v) => Number(v)) };
    case AttributeProto_AttributeType.FLOATS: return { type: 'floats', value: [...a.floats] };
    case AttributeProto_AttributeType.STRINGS: return { type: 'strings', value: a.strings.map((s) => fromUtf8.decode(s)) };
    case AttributeProto_AttributeType.TENSOR:
      if (!a.t) throw new OnnxModelParseError(`attribute "${a.name}" has no tensor`);
      return { type: 'tensor', value: parseTensor(a.t) };
    case AttributeProto_AttributeType.GRAPH:
      if (!a.g) throw new OnnxModelParseError(`attribute "${a.name}" has no graph`);
      return { type: 'graph', value: parseGraph(a.g, opset, new Map(), new Map()) };
    default:
      throw new OnnxModelParseError(`attribute "${a.name}" has type ${AttributeProto_AttributeType[a.type] ?? a.type}, which @esper/onnx does not support`);
  }
}

/**
 * Parses ONNX `ModelProto` bytes into a {@link Graph}. Throws {@link OnnxModelParseError} for
 * bytes that are not a model or use features outside the IR (sequences, external data,
 * lists of subgraphs).
 */
export function parseModel(bytes: Uint8Array): Graph {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (cause) {
    throw new OnnxModelParseError(`bytes are not an ONNX ModelProto: ${(cause as Error).message}`, { cause });
  }
  const g = model.graph;
  if (!g) throw new OnnxModelParseError('model has no graph');
  const opset = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!opset) throw new OnnxModelParseError('model does not import the default ONNX opset');
  const metadata = new Map(model.metadataProps.map((p) => [p.key, p.value] as const));
  const parameters = new Map<string, ParameterKind>();
  const table = metadata.get(PARAMETERS_METADATA_KEY);
  if (table !== undefined) {
    metadata.delete(PARAMETERS_METADATA_KEY);
    try {
      for (const [k, v] of Object.entries(JSON.parse(table) as Record<string, string>)) parameters.set(k, v === 'input' ? 'input' : 'initializer');
    } catch (cause) {
      throw new OnnxModelParseError(`metadata ${PARAMETERS_METADATA_KEY} is not valid JSON`, { cause });
    }
  }
  return parseGraph(g, Number(opset.version), parameters, metadata);
}

function parseGraph(g: GraphProto, opset: number, parameters: Map<string, ParameterKind>, metadata: Map<string, string>): Graph {
  for (const t of g.initializer) if (t.externalData.length > 0) throw new OnnxModelParseError(`initializer "${t.name}" uses external data, which @esper/onnx does not load`);
  const nodes: Node[] = g.node.map((n) => ({
    name: n.name,
    opType: n.opType,
    domain: n.domain === 'ai.onnx' ? '' : n.domain,
    inputs: [...n.input],
    outputs: [...n.output],
    attributes: Object.fromEntries(n.attribute.map((a) => [a.name, parseAttribute(a, opset)])),
  }));
  return {
    name: g.name,
    opset,
    inputs: g.input.map(parseValueInfo),
    outputs: g.output.map(parseValueInfo),
    nodes,
    initializers: new Map(g.initializer.map((t) => [t.name, parseTensor(t)] as const)),
    parameters,
    valueInfo: new Map(g.valueInfo.map((v) => [v.name, parseValueInfo(v)] as const)),
    metadata,
  };
}
