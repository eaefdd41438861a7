#!/usr/bin/env node
// Regenerates the ONNX protobuf bindings from proto/onnx.proto (the official schema of the
// onnx/onnx repository, Apache-2.0) with protoc and protoc-gen-es (@bufbuild/protobuf v2).
// Usage: `pnpm --filter @esper/onnx gen` (writes gen/), or
// `node scripts/gen-onnx.mjs --out <dir>` (used by the staleness test).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateBindings } from '../../../scripts/protoc-es.mjs';

generateBindings({
  pkgDir: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
  protoFile: 'onnx.proto',
  label: 'onnx',
  header:
    '// Generated from proto/onnx.proto (onnx/onnx, Apache-2.0) by protoc + protoc-gen-es. Do not edit by hand.\n' +
    '// Regenerate with `pnpm --filter @esper/onnx gen`; a test fails when this file is stale.\n',
});
