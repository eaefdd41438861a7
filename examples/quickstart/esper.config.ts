// The quickstart: an MLP host (784-128-128-10, seed slots `hidden1` and `hidden2`) trains on
// real MNIST digits (Tolaria); the heuristic controller (Tamiyo) watches each epoch and grows a
// seed at a slot; the executor (Kasmina) grafts, trains, blends and then keeps or removes it.
// Oona runs in process; telemetry goes to <run dir>/telemetry.jsonl.
//
//   pnpm start                      # from the repository root: build, then esper run examples/quickstart
//   esper run . --epochs 4 --seed 7 --out /tmp/runs
import { defineConfig, telemetryFile } from '@esper/core';
import { kasmina } from '@esper/plugin-kasmina';
import { oonaMemory } from '@esper/plugin-oona-memory';
import { tamiyo } from '@esper/plugin-tamiyo';
import { tolaria } from '@esper/plugin-tolaria';

export default defineConfig({
  plugins: [oonaMemory(), telemetryFile(), tolaria(), kasmina(), tamiyo()],
  run: { name: 'quickstart', dir: './runs', seed: 42 },
  oona: { group: 'quickstart' },
  // Ten epochs of 8 000 training digits (2 000 held out), batches of 64: well under a minute on 2 cores.
  tolaria: { maxEpochs: 10 },
  kasmina: {
    // α ramps from 0 to 1 over 200 optimizer steps: BLENDING spans about two epochs (125 steps each).
    blendingOptimizerSteps: 200,
    embargoEpochs: 1,
    // Grafting is graph surgery in this process; on a busy 2-core machine it takes more than the
    // reference's 10 ms kernel-fetch budget, and the G2 gate would cull every seed for it.
    latencyBudgetMs: 250,
  },
  tamiyo: {
    // The reference's thresholds wait for 5 epochs and a 3-epoch plateau; the quickstart
    // germinates as soon as an epoch gains less than 1 point after epoch 2, so the seed's
    // whole path (germination, training, blending, shadowing, probation, fate) fits in 10 epochs.
    heuristic: {
      minEpochsBeforeGerminate: 2,
      plateauEpochsToGerminate: 1,
      plateauThresholdPoints: 1,
      stabilizationEpochs: 0,
    },
  },
});
