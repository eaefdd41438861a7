#!/usr/bin/env node
// Regenerates the Leyline TypeScript bindings from proto/leyline.proto with protoc and
// protoc-gen-es (@bufbuild/protobuf v2). Usage: `pnpm gen` (writes gen/), or
// `node scripts/gen-leyline.mjs --out <dir>` (used by the staleness test).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateBindings } from '../../../scripts/protoc-es.mjs';

generateBindings({
  pkgDir: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
  protoFile: 'leyline.proto',
  wellKnownTypes: true,
  label: 'leyline',
  header:
    '// Generated from proto/leyline.proto by protoc + protoc-gen-es. Do not edit by hand.\n' +
    '// Regenerate with `pnpm gen` at the repository root; a test fails when this file is stale.\n',
});
