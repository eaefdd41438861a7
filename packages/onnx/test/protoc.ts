import { execFileSync } from 'node:child_process';

/**
 * Whether `protoc` (the independent protobuf implementation the wire tests decode with) is on
 * PATH. With `REQUIRE_PROTOC` set (`.ci/run` sets it and installs protoc) a missing protoc
 * throws instead, so no protoc suite can pass there by being skipped.
 */
export function protocAvailable(): boolean {
  try {
    execFileSync('protoc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.REQUIRE_PROTOC) throw new Error('REQUIRE_PROTOC is set but protoc is not on PATH (apt-get install protobuf-compiler)');
    return false;
  }
}
