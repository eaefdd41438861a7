/**
 * Leyline: the protobuf contracts that every Esper subsystem speaks.
 *
 * Generated message types, schemas and enums come from `proto/leyline.proto`
 * (package `esper.leyline.v1`); helpers for encoding, envelopes and versions sit beside them.
 *
 * @packageDocumentation
 */
export * from '../../gen/leyline_pb.js';
