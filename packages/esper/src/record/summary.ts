import type { CommandCounts } from './command-log.js';

/** How the training loop ended. */
export type RunOutcome = 'completed' | 'stopped' | 'failed';

/** What a seed came to: kept in the model, removed, or neither when the run ended. */
export type SeedFate = 'FOSSILIZED' | 'CULLED' | 'TERMINATED' | 'LIVE';

/** One epoch as the trainer reported it (its `SystemStatePacket`). Accuracies in % points. */
export interface EpochSummary {
  readonly epoch: number;
  readonly globalStep: number;
  readonly trainLoss?: number;
  readonly trainAccuracy?: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  readonly samplesPerS?: number;
  readonly epochWallMs?: number;
  /** Total parameter count of the composed model. */
  readonly parameters?: number;
  /** Stage of every seed slot at the end of the epoch (`TRAINING`, `DORMANT`, …), by seed id. */
  readonly seeds: Readonly<Record<string, string>>;
}

/** One stage a seed entered, with the epoch it entered it in. */
export interface SeedStep {
  readonly stage: string;
  readonly epoch?: number;
  readonly reason?: string;
}

/**
 * One life of a seed: from leaving DORMANT (germination) to FOSSILIZED, back to DORMANT after a
 * cull, or the end of the run. A slot may host several lives in one run.
 */
export interface SeedLife {
  readonly seedId: string;
  /** Slot of the host the seed is attached at (seed id == slot id). */
  readonly slot: string;
  readonly blueprintId?: string;
  /** Stages entered, in order, starting with the first stage after DORMANT. */
  readonly path: readonly SeedStep[];
  readonly fate: SeedFate;
  /** The stage it was in last. */
  readonly stage: string;
}

/** What `esper run` prints at the end and writes to `summary.json`. */
export interface RunSummary {
  readonly runId: string;
  readonly name: string;
  /** Absolute run directory. */
  readonly dir: string;
  /** The config file, as named on the command line. */
  readonly config: string;
  /** The plugin that provided the trainer. */
  readonly trainer: string;
  readonly seed: number;
  readonly maxEpochs?: number;
  readonly outcome: RunOutcome;
  /** Code and message of the failure, for `outcome: "failed"`. */
  readonly error?: { readonly code?: string; readonly message: string };
  /** ISO time the run started. */
  readonly startedAt: string;
  readonly wallMs: number;
  readonly epochs: readonly EpochSummary[];
  readonly finalValAccuracy?: number;
  readonly bestValAccuracy?: { readonly epoch: number; readonly value: number };
  /** Parameter count of the host before growth and of the composed model at the end. */
  readonly parameters: { readonly initial?: number; readonly final?: number };
  readonly seeds: readonly SeedLife[];
  /** Slots where no seed ever germinated. */
  readonly freeSlots: readonly string[];
  readonly commands: CommandCounts;
  /** Files in the run directory, relative to it, sorted. */
  readonly files: readonly string[];
}
