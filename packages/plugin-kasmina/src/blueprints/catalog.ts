import type { BlueprintCatalog } from '@esper/core';
import type { BlueprintDescriptor } from '@esper/core/leyline';
import { BlueprintCatalogError, UnknownBlueprintError } from '../errors.js';
import type { Blueprint } from './blueprint.js';
import { residualMlp } from './residual-mlp.js';

/**
 * Blueprints every Kasmina knows: `residual-mlp` (hidden width ¼ of the slot's) and
 * `residual-mlp-wide` (hidden width equal to the slot's).
 */
export const DEFAULT_BLUEPRINTS: readonly Blueprint[] = Object.freeze([
  residualMlp({ id: 'residual-mlp', name: 'Residual MLP adapter (bottleneck ¼)', hiddenRatio: 0.25, risk: 0.1 }),
  residualMlp({ id: 'residual-mlp-wide', name: 'Residual MLP adapter (wide, 1×)', hiddenRatio: 1, risk: 0.2 }),
]);

/**
 * The ids among `ids` that `catalog` does not hold, in order and without repeats. For config
 * checks that hold only the `BlueprintCatalog` port (Tamiyo's rotation), before training.
 */
export function unknownBlueprintIds(catalog: BlueprintCatalog, ids: readonly string[]): string[] {
  return [...new Set(ids.filter((id) => catalog.get(id) === undefined))];
}

/**
 * Throws {@link UnknownBlueprintError} listing the ids of `ids` that `catalog` does not hold and
 * the ids it does; `source` names where the ids came from in the message.
 */
export function assertKnownBlueprints(catalog: BlueprintCatalog, ids: readonly string[], source?: string): void {
  const unknown = unknownBlueprintIds(catalog, ids);
  if (unknown.length > 0) throw new UnknownBlueprintError(unknown, catalog.list().map((d) => d.blueprintId), source);
}

/**
 * Kasmina's blueprint catalogue: the `BlueprintCatalog` port (Leyline `BlueprintDescriptor`s by
 * id) over blueprints that Kasmina can build.
 */
export class KasminaBlueprintCatalog implements BlueprintCatalog {
  private readonly byId = new Map<string, Blueprint>();

  /**
   * @throws {@link BlueprintCatalogError} for an empty or repeated blueprint id.
   */
  constructor(blueprints: readonly Blueprint[] = DEFAULT_BLUEPRINTS) {
    for (const b of blueprints) {
      const id = b.descriptor.blueprintId;
      if (id.trim() === '') throw new BlueprintCatalogError(`A blueprint named "${b.descriptor.name}" has an empty blueprint id: give every blueprint a non-empty id.`);
      if (this.byId.has(id)) throw new BlueprintCatalogError(`Blueprint id "${id}" appears twice in the catalogue: ids must be unique.`);
      this.byId.set(id, b);
    }
  }

  get(blueprintId: string): BlueprintDescriptor | undefined {
    return this.byId.get(blueprintId)?.descriptor;
  }

  list(): readonly BlueprintDescriptor[] {
    return [...this.byId.values()].map((b) => b.descriptor);
  }

  /** The buildable blueprint of an id, or `undefined`. */
  blueprint(blueprintId: string): Blueprint | undefined {
    return this.byId.get(blueprintId);
  }

  /** Blueprint ids, in catalogue order. */
  ids(): string[] {
    return [...this.byId.keys()];
  }
}
