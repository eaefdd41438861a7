import type { BlueprintCatalog } from '@esper/core';
import { NoBlueprintsError, UnknownBlueprintError } from '../errors.js';

/**
 * The rotation the heuristic germinates from: the configured ids, checked against the catalogue
 * when there is one, or — when none are configured — every catalogued blueprint in catalogue
 * order. Without a catalogue the configured ids are taken as they are (the executor checks them
 * when it grafts).
 *
 * @throws {@link UnknownBlueprintError} (`ESPER_TAMIYO_UNKNOWN_BLUEPRINT`) naming the ids the
 *   catalogue lacks and the ones it has.
 * @throws {@link NoBlueprintsError} (`ESPER_TAMIYO_NO_BLUEPRINTS`) when nothing is left to germinate.
 */
export function resolveBlueprintRotation(configured: readonly string[], catalog: BlueprintCatalog | undefined): string[] {
  if (catalog === undefined) {
    if (configured.length === 0) throw new NoBlueprintsError('blueprintRotation is empty and no plugin provides a BlueprintCatalog');
    return [...configured];
  }
  const known = catalog.list().map((descriptor) => descriptor.blueprintId);
  if (configured.length === 0) {
    if (known.length === 0) throw new NoBlueprintsError('blueprintRotation is empty and the BlueprintCatalog has no blueprints');
    return known;
  }
  const unknown = configured.filter((id) => catalog.get(id) === undefined);
  if (unknown.length > 0) throw new UnknownBlueprintError([...new Set(unknown)], known);
  return [...configured];
}
