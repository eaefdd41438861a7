import { EsperError } from '@esper/core';
import { SeedLifecycleStageSchema, enumName, type SeedLifecycleStage } from '@esper/core/leyline';

/** Leyline name of a stage (`SEED_STAGE_TRAINING`), or its number when the enum lacks it. */
export function stageName(stage: SeedLifecycleStage): string {
  return enumName(SeedLifecycleStageSchema, stage) ?? String(stage);
}

/**
 * A seed was asked to move between two stages that the lifecycle table does not connect. The
 * seed's stage is unchanged. The executor turns this into a rejected command; code that drives
 * the table directly sees the error.
 */
export class IllegalTransitionError extends EsperError<'ESPER_KASMINA_ILLEGAL_TRANSITION'> {
  constructor(
    /** Stage the seed is in (and stays in). */
    readonly from: SeedLifecycleStage,
    /** Stage that was asked for. */
    readonly to: SeedLifecycleStage,
    /** Stages `from` may move to. */
    readonly allowed: readonly SeedLifecycleStage[],
  ) {
    super(
      'ESPER_KASMINA_ILLEGAL_TRANSITION',
      `A seed in ${stageName(from)} cannot move to ${stageName(to)}; from ${stageName(from)} it may move to ` +
        `${allowed.length === 0 ? 'nothing (terminal stage)' : allowed.map(stageName).join(', ')}. ` +
        `Send the command that leads there first (see the lifecycle table in @esper/plugin-kasmina).`,
    );
  }
}

/** Blueprint ids that the catalogue does not hold (a config names one, or a catalogue is built with a duplicate). */
export class UnknownBlueprintError extends EsperError<'ESPER_KASMINA_UNKNOWN_BLUEPRINT'> {
  constructor(
    /** The ids that were not found. */
    readonly unknown: readonly string[],
    /** Ids the catalogue holds. */
    readonly known: readonly string[],
    /** Where the ids came from, e.g. `tamiyo.heuristic.blueprintRotation`. */
    readonly source = 'the configuration',
  ) {
    super(
      'ESPER_KASMINA_UNKNOWN_BLUEPRINT',
      `Unknown blueprint id${unknown.length > 1 ? 's' : ''} ${unknown.map((id) => JSON.stringify(id)).join(', ')} in ${source}. ` +
        `Kasmina's catalogue holds: ${known.map((id) => JSON.stringify(id)).join(', ')}. Use one of those ids, or add the blueprint to the catalogue.`,
    );
  }
}

/** A blueprint catalogue was built from blueprints that cannot go together (duplicate ids, empty ids). */
export class BlueprintCatalogError extends EsperError<'ESPER_KASMINA_CATALOG_INVALID'> {
  constructor(message: string) {
    super('ESPER_KASMINA_CATALOG_INVALID', message);
  }
}

/** The host handed to `attachHost` is unusable, or a host is already attached. */
export class HostAttachError extends EsperError<'ESPER_KASMINA_HOST_INVALID'> {
  constructor(message: string) {
    super('ESPER_KASMINA_HOST_INVALID', message);
  }
}

/** An operation that needs the host model (compose, control feeds) ran before `attachHost`. */
export class HostNotAttachedError extends EsperError<'ESPER_KASMINA_HOST_MISSING'> {
  constructor(operation: string) {
    super(
      'ESPER_KASMINA_HOST_MISSING',
      `Kasmina cannot ${operation} before a host model is attached: call executor.attachHost(host) once, before compose().`,
    );
  }
}

/** A caller named a seed the executor does not hold in the current composition (e.g. a counterfactual). */
export class UnknownSeedError extends EsperError<'ESPER_KASMINA_UNKNOWN_SEED'> {
  constructor(seedId: string, what: string, present: readonly string[]) {
    super(
      'ESPER_KASMINA_UNKNOWN_SEED',
      `${what}: no seed "${seedId}" in the current composition (seeds grafted now: ${present.length === 0 ? 'none' : present.join(', ')}). ` +
        `Read executor.exportSeedStates() or compose().seedParameters for the seeds that exist.`,
    );
  }
}
