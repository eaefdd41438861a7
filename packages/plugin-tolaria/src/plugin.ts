import { join } from 'node:path';
import { definePlugin, Tokens } from '@esper/core';
import { z } from 'zod';
import { tolariaConfigSchema } from './config.js';
import { loopOptionsShape } from './loop/options.js';
import { prepareTask } from './loop/task.js';
import { TolariaTrainer } from './loop/tolaria-trainer.js';

/** The `tolaria` config section: the reference's settings plus the epoch loop's (`dataset`, `host`, `training`). */
export const tolariaPluginSchema = z.strictObject({ ...tolariaConfigSchema.shape, ...loopOptionsShape });

/** Validated options of {@link tolaria}. */
export type TolariaOptions = z.output<typeof tolariaPluginSchema>;
/** What the `tolaria` config section (and the factory) may hold; `maxEpochs` is required. */
export type TolariaInput = z.input<typeof tolariaPluginSchema>;

/**
 * Plugin: Tolaria, the trainer. Provides `Tokens.Trainer` (a {@link TolariaTrainer}): an MLP host
 * with seed slots `hidden1`, `hidden2`, … trained on MNIST (or Gaussian blobs), epoch after epoch,
 * calling the `Controller` under the `tamiyoTimeoutMs` deadline and the `SeedExecutor` at each
 * epoch boundary, with checkpoints under `<run.dir>/checkpoints` (or `checkpointDir`). Signs its
 * own WAIT decisions with the kernel's `CommandSigner` and reports through `Telemetry`.
 *
 * @example
 * ```ts
 * export default defineConfig({ plugins: [tolaria({ maxEpochs: 8 }), kasmina(), tamiyo()] });
 * ```
 */
export function tolaria(options: Partial<TolariaInput> = {}) {
  return definePlugin({
    name: '@esper/plugin-tolaria',
    configKey: 'tolaria',
    configSchema: tolariaPluginSchema,
    factoryOptions: options,
    provides: [Tokens.Trainer],
    requires: [Tokens.Controller, Tokens.SeedExecutor],
    setup(ctx) {
      const o = ctx.options;
      let trainer: TolariaTrainer | undefined;
      ctx.provide(Tokens.Trainer, (r) => {
        trainer = new TolariaTrainer(
          {
            maxEpochs: o.maxEpochs,
            training: o.training,
            lr: { policy: o.lr.policy, warmupSteps: o.lr.warmupSteps, cosineTMaxSteps: o.lr.cosineTMaxSteps, stepSizeEpochs: o.lr.stepSizeEpochs, stepGamma: o.lr.stepGamma },
            controllerTimeoutMs: o.tamiyoTimeoutMs,
            checkpointDir: o.checkpointDir ?? join(ctx.run.dir, 'checkpoints'),
          },
          {
            run: ctx.run,
            executor: r.resolve(Tokens.SeedExecutor),
            controller: r.resolve(Tokens.Controller),
            task: () => prepareTask(o, ctx.run.seed),
            clock: ctx.clock,
            events: ctx.events,
            lifecycle: ctx.lifecycle,
            telemetry: r.tryResolve(Tokens.Telemetry),
            signer: r.tryResolve(Tokens.CommandSigner),
            logger: ctx.logger,
          },
        );
        return trainer;
      });
      ctx.onDispose(() => trainer?.dispose());
    },
  });
}
