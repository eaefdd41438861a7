import { fileURLToPath } from 'node:url';
import { findProtoc } from '../../../scripts/protoc.mjs';

/**
 * protoc, the independent protobuf implementation the ONNX wire tests decode with: Google's C++
 * compiler from the pinned `protoc` devDependency (see scripts/protoc.mjs), so these tests run
 * wherever `pnpm install` ran, with no system package and no skip.
 */
export const protoc = findProtoc(fileURLToPath(new URL('..', import.meta.url)));
