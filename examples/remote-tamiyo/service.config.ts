// The Tamiyo service: one process that decides for every trainer whose `tamiyo.controller` is
// 'remote' (decision 0061). It reads decision requests from the `tamiyo.requests` stream on
// Redis with the consumer group `tamiyo` (start several with the same group to share the load),
// keeps one heuristic controller per training run, and answers each trainer on its own stream.
//
//   ESPER_LEYLINE_SECRET=… esper serve service.config.ts      # Ctrl-C drains and stops
import { defineConfig } from '@esper/core';
import { oonaRedis } from '@esper/plugin-oona-redis';
import { tamiyo } from '@esper/plugin-tamiyo';

export default defineConfig({
  plugins: [oonaRedis(), tamiyo()],
  run: { name: 'tamiyo-service', dir: './runs' },
  // Replicas share the group; each needs its own consumer name (the default: <hostname>-<pid>).
  oona: { group: 'tamiyo' },
  tamiyo: {
    controller: 'heuristic',
    service: { enabled: true, concurrency: 4 },
    // The quickstart's thresholds, so a short run grows a seed. The service has no Kasmina and so
    // no BlueprintCatalog: it names the blueprints of the trainers' catalogue itself.
    heuristic: {
      blueprintRotation: ['residual-mlp', 'residual-mlp-wide'],
      minEpochsBeforeGerminate: 2,
      plateauEpochsToGerminate: 1,
      plateauThresholdPoints: 1,
      stabilizationEpochs: 0,
    },
  },
});
