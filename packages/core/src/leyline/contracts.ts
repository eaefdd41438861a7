import { fileURLToPath } from 'node:url';
import { ScalarType, type DescMessage, type Message } from '@bufbuild/protobuf';
import { file_leyline } from '../../gen/leyline_pb.js';
import { LeylineVersionUnsupportedError } from './errors.js';

/** Protobuf package of every Leyline type (fully qualified names start with it). */
export const LEYLINE_PACKAGE = 'esper.leyline.v1';

/** Name of the Leyline contract bundle (reference §2.6). */
export const LEYLINE_BUNDLE_NAME = 'leyline-core';

/** Version label of the Leyline contract bundle (reference §2.6). */
export const LEYLINE_BUNDLE_VERSION = 'v1alpha1';

/** The `version` every producer writes into top-level Leyline messages, and the only one accepted. */
export const CONTRACT_VERSION = 1;

/**
 * The top-level Leyline messages that carry a contract `uint32 version = 1` field
 * (SystemStatePacket, AdaptationCommand, FieldReport, PolicyUpdate, EmergencySignal, BSDS,
 * BlueprintBenchmark), derived from the descriptors.
 */
export const VERSIONED_MESSAGES: readonly DescMessage[] = file_leyline.messages.filter((m) => {
  const f = m.fields.find((x) => x.name === 'version');
  return f !== undefined && f.number === 1 && f.fieldKind === 'scalar' && f.scalar === ScalarType.UINT32;
});

/** Outcome of {@link checkContractVersion}: the current version, or `unset` (0, the proto3 default). */
export type ContractVersionStatus = 'current' | 'unset';

/**
 * Checks the contract `version` of a top-level Leyline message. Returns `'current'` for
 * {@link CONTRACT_VERSION} and `'unset'` for 0 (an old or careless producer; the reference
 * never rejected it, so the caller decides). Any other value throws.
 *
 * @throws LeylineVersionUnsupportedError (code `ESPER_LEYLINE_VERSION_UNSUPPORTED`) for any other version.
 */
export function checkContractVersion(message: Message & { readonly version: number }): ContractVersionStatus {
  if (message.version === CONTRACT_VERSION) return 'current';
  if (message.version === 0) return 'unset';
  throw new LeylineVersionUnsupportedError(message.$typeName, message.version, CONTRACT_VERSION);
}

/** A named, versioned contract set and where its generated bindings live (reference §2.6). */
export interface ContractBundle {
  /** Bundle name, e.g. `leyline-core`. */
  readonly name: string;
  /** Version label, e.g. `v1alpha1`. */
  readonly version: string;
  /** Absolute path of the folder holding the generated bindings. */
  readonly schemaDir: string;
}

/** In-memory registry of contract bundles by name (reference §2.6 `ContractRegistry`). */
export class ContractRegistry {
  readonly #bundles = new Map<string, ContractBundle>();

  /** Adds or replaces the bundle with the same name. */
  register(bundle: ContractBundle): void {
    this.#bundles.set(bundle.name, { ...bundle });
  }

  /** The bundle named `name`, or `undefined`. */
  get(name: string): ContractBundle | undefined {
    return this.#bundles.get(name);
  }

  /** A copy of all bundles, in registration order. */
  listAll(): ContractBundle[] {
    return [...this.#bundles.values()];
  }
}

/** Absolute path of this package's generated Leyline bindings (`gen/` in sources, `dist/gen/` when built). */
export const LEYLINE_GENERATED_DIR: string = fileURLToPath(new URL('../../gen', import.meta.url));

/**
 * Registers the default bundle `leyline-core`/`v1alpha1` (schema folder = the generated
 * bindings) into `registry`, or into a new registry, and returns the registry.
 */
export function registerDefaultBundle(registry: ContractRegistry = new ContractRegistry()): ContractRegistry {
  registry.register({ name: LEYLINE_BUNDLE_NAME, version: LEYLINE_BUNDLE_VERSION, schemaDir: LEYLINE_GENERATED_DIR });
  return registry;
}
