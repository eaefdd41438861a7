import { EsperError } from '@esper/core';

/**
 * The heuristic's blueprint rotation names blueprints the BlueprintCatalog does not know.
 * Thrown at start, before training.
 */
export class UnknownBlueprintError extends EsperError<'ESPER_TAMIYO_UNKNOWN_BLUEPRINT'> {
  constructor(
    /** The ids of the rotation that the catalogue lacks. */
    readonly unknown: readonly string[],
    /** The ids the catalogue has. */
    readonly known: readonly string[],
  ) {
    const quote = (ids: readonly string[]) => ids.map((id) => `"${id}"`).join(', ');
    super(
      'ESPER_TAMIYO_UNKNOWN_BLUEPRINT',
      `tamiyo.heuristic.blueprintRotation names ${unknown.length === 1 ? 'a blueprint' : 'blueprints'} the blueprint catalogue does not have: ` +
        `${quote(unknown)}. Known blueprints: ${known.length === 0 ? '(none)' : quote(known)}. ` +
        'Fix the ids, or leave blueprintRotation empty to use every catalogued blueprint.',
    );
  }
}

/**
 * The heuristic has no blueprint to germinate: the rotation is empty and no BlueprintCatalog
 * (or an empty one) supplies the default.
 */
export class NoBlueprintsError extends EsperError<'ESPER_TAMIYO_NO_BLUEPRINTS'> {
  constructor(detail: string) {
    super(
      'ESPER_TAMIYO_NO_BLUEPRINTS',
      `The heuristic controller has no blueprint to germinate: ${detail}. ` +
        'Set tamiyo.heuristic.blueprintRotation (e.g. ["BP001"]) or add a plugin that provides a BlueprintCatalog with blueprints.',
    );
  }
}
