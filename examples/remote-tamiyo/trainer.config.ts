// A trainer that asks the Tamiyo service: the quickstart (MLP on MNIST, Tolaria + Kasmina) with
// `tamiyo.controller: 'remote'`. Each epoch's SystemStatePacket goes to `tamiyo.requests` with a
// deadline; the signed AdaptationCommand comes back on `tamiyo.replies.<run id>`, and Kasmina
// verifies it with the shared ESPER_LEYLINE_SECRET. No answer in time is a PAUSE (WAIT).
//
//   ESPER_LEYLINE_SECRET=… esper run trainer.config.ts --epochs 4
import { defineConfig, telemetryFile } from '@esper/core';
import { kasmina } from '@esper/plugin-kasmina';
import { oonaRedis } from '@esper/plugin-oona-redis';
import { tamiyo } from '@esper/plugin-tamiyo';
import { tolaria } from '@esper/plugin-tolaria';

export default defineConfig({
  plugins: [oonaRedis(), telemetryFile(), tolaria(), kasmina(), tamiyo()],
  // On a machine whose cores it shares with the service, add `nice: 10` here (ESPER_NICE=10): the
  // trainer then yields the CPU to the service's decisions (docs/tamiyo.md, decision 0067).
  run: { name: 'remote-trainer', dir: './runs', seed: 42 },
  // One group per trainer (OONA_GROUP): a group's consumers share entries, trainers must not.
  oona: { group: 'trainer' },
  tolaria: { maxEpochs: 10 },
  kasmina: { blendingOptimizerSteps: 200, embargoEpochs: 1, latencyBudgetMs: 250 },
  // Below Tolaria's own deadline for the controller (tolaria.tamiyoTimeoutMs, 2 s).
  tamiyo: { controller: 'remote', remote: { timeoutMs: 1_500 } },
});
