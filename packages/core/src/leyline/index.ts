/**
 * Leyline: the protobuf contracts that every Esper subsystem speaks.
 *
 * Generated message types, schemas and enums come from `proto/leyline.proto`
 * (package `esper.leyline.v1`); helpers for encoding, envelopes and versions sit beside them.
 *
 * @packageDocumentation
 */
export * from '../../gen/leyline_pb.js';
export { LeylineDecodeError, LeylineEnvelopeTypeError, LeylineVersionUnsupportedError } from './errors.js';
export { checkWireFormat, decodeMessage, type DecodeOptions } from './decode.js';
export { compareUtf8, toDeterministicBinary } from './deterministic.js';
export { enumName, enumValue } from './enums.js';
export {
  BUS_PAYLOAD_SCHEMAS,
  busMessageTypeOf,
  encodeEnvelope,
  isBusPayloadType,
  payloadSchemaFor,
  unwrapAs,
  unwrapEnvelope,
  wrapEnvelope,
  type BusPayload,
  type BusPayloadSchema,
  type BusPayloadType,
  type BusTypeOf,
  type UnwrappedEnvelope,
  type UnwrappedEnvelopeOf,
} from './envelope.js';
export {
  CONTRACT_VERSION,
  checkContractVersion,
  ContractRegistry,
  LEYLINE_BUNDLE_NAME,
  LEYLINE_BUNDLE_VERSION,
  LEYLINE_GENERATED_DIR,
  LEYLINE_PACKAGE,
  registerDefaultBundle,
  VERSIONED_MESSAGES,
  type ContractBundle,
  type ContractVersionStatus,
} from './contracts.js';
export { fromLeylineJson, toLeylineJson } from './json.js';
