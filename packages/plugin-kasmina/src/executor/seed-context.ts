import type { SeedSlot } from '@esper/core';
import { SeedLifecycleStage } from '@esper/core/leyline';
import type { BlendConfig } from '../blending/modes.js';
import type { SeedGraph } from '../grafting/seed-graph.js';

/**
 * Everything Kasmina knows about the seed of one slot. One context per slot lives for the whole
 * run; it cycles DORMANT → … → DORMANT, and the fields of a seed are cleared when the slot is
 * reset. Internal to the executor.
 */
export class SeedContext {
  stage: SeedLifecycleStage = SeedLifecycleStage.SEED_STAGE_DORMANT;
  /** Seeds germinated in this slot so far (names the parameters of the next one). */
  generation = 0;
  /** Blueprint of the current seed. */
  blueprintId: string | undefined;
  /** Descriptor risk of that blueprint, reported as `risk_score`. */
  riskScore = 0;
  /** The current seed's subgraph (while it is grafted). */
  seed: SeedGraph | undefined;
  /** The GERMINATE's options of the current seed (to rebuild its subgraph). */
  options: Readonly<Record<string, number>> = {};
  /** Time it took to build and splice the kernel, ms (G2). */
  kernelLatencyMs = 0;
  alpha = 0;
  /** Optimizer steps taken in BLENDING (the α schedule's clock). */
  blendSteps = 0;
  /** Optimizer steps taken in TRAINING. */
  trainingSteps = 0;
  /** Epoch at which the seed entered its stage. */
  stageEpoch = 0;
  /** Epoch of germination. */
  germinatedEpoch: number | undefined;
  /** Epoch at which the seed was embargoed. */
  embargoedEpoch: number | undefined;
  isolationViolations = 0;
  /** Last observed L2 norm of the seed's gradient. */
  seedGradNorm: number | undefined;
  /** Mean training loss when the seed entered BLENDING (G4). */
  lossAtBlendingStart: number | undefined;
  /**
   * Paused by `COMMAND_PAUSE` (identity substitution, reference kasmina §7.8): the seed keeps its
   * stage, parameters and place in the graph, but its control inputs are those of the model
   * without it, so the slot passes the host's value through and the seed's parameters get no
   * gradient; α, blending and training steps stand still until it is resumed.
   */
  paused = false;
  /** Reason of the last failed gate. */
  lastGateFailure: string | undefined;
  /**
   * Blend mode from the SEED commands' annotations (undefined: CONVEX, never configured). Set
   * before a GERMINATE grafts, so {@link clear} keeps it; the slot's reset to DORMANT drops it.
   */
  blend: BlendConfig | undefined;

  constructor(readonly slot: SeedSlot) {}

  /** Forgets the seed that lived here (the slot keeps its generation count). */
  clear(): void {
    this.blueprintId = undefined;
    this.riskScore = 0;
    this.seed = undefined;
    this.options = {};
    this.kernelLatencyMs = 0;
    this.alpha = 0;
    this.blendSteps = 0;
    this.trainingSteps = 0;
    this.germinatedEpoch = undefined;
    this.embargoedEpoch = undefined;
    this.isolationViolations = 0;
    this.seedGradNorm = undefined;
    this.lossAtBlendingStart = undefined;
    this.paused = false;
  }
}
