import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { toJsonString } from '@bufbuild/protobuf';
import { z } from 'zod';
import { MessagePriority, TelemetryPacketSchema, type TelemetryPacket } from '../leyline/index.js';
import { priorityName } from '../telemetry/priority.js';
import { definePlugin } from '../kernel/plugin.js';
import type { Logger } from '../kernel/ports/logger.js';
import type { TelemetrySink } from '../kernel/ports/telemetry-sink.js';
import { Tokens } from '../kernel/tokens.js';

/** Options of {@link telemetryFile}. */
export const telemetryFileSchema = z.strictObject({
  /** File name, relative to the run directory unless absolute. */
  file: z.string().min(1).default('telemetry.jsonl'),
  /** Packets buffered before a write (a CRITICAL packet is written at once). */
  batchSize: z.number().int().positive().default(64),
});

/**
 * A {@link TelemetrySink} that appends each `TelemetryPacket` as one JSON line (proto field
 * names, as the reference's JSON mirrors use) with its routing priority:
 * `{"priority":"MESSAGE_PRIORITY_NORMAL","packet":{…}}`.
 */
export class JsonlTelemetrySink implements TelemetrySink {
  private buffer: string[] = [];
  private handle: FileHandle | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(
    readonly path: string,
    private readonly batchSize: number,
    private readonly logger?: Logger,
  ) {}

  emit(packet: TelemetryPacket, priority: MessagePriority): Promise<void> | void {
    const name = priorityName(priority);
    const json = toJsonString(TelemetryPacketSchema, packet, { useProtoFieldName: true });
    this.buffer.push(`{"priority":"${name}","packet":${json}}\n`);
    if (this.buffer.length >= this.batchSize || priority === MessagePriority.CRITICAL) return this.flush();
  }

  /** Writes buffered lines; write failures are logged and counted, never thrown at the producer. */
  flush(): Promise<void> {
    const lines = this.buffer.join('');
    this.buffer = [];
    if (lines === '') return this.writing;
    this.writing = this.writing.then(async () => {
      try {
        if (this.handle === undefined) {
          await mkdir(dirname(this.path), { recursive: true });
          this.handle = await open(this.path, 'a');
        }
        await this.handle.appendFile(lines, 'utf8');
      } catch (error) {
        this.failures += 1;
        this.logger?.error('telemetry file write failed', { path: this.path, error: String(error) });
      }
    });
    return this.writing;
  }

  /** Write failures so far. */
  get writeFailures(): number {
    return this.failures;
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }
}

/**
 * Plugin: telemetry to a JSON-lines file in the run directory. Provides a `TelemetrySink`
 * (a multi port: it composes with other sinks).
 *
 * @example
 * ```ts
 * defineConfig({ plugins: [telemetryFile({ file: 'telemetry.jsonl' })] })
 * ```
 */
export function telemetryFile(options: Partial<z.input<typeof telemetryFileSchema>> = {}) {
  return definePlugin({
    name: '@esper/core/telemetry-file',
    configKey: 'telemetryFile',
    configSchema: telemetryFileSchema,
    factoryOptions: options,
    provides: [Tokens.TelemetrySink],
    setup(ctx) {
      const path = isAbsolute(ctx.options.file) ? ctx.options.file : join(ctx.run.dir, ctx.options.file);
      const sink = new JsonlTelemetrySink(path, ctx.options.batchSize, ctx.logger);
      ctx.onDispose(() => sink.close());
      ctx.provideValue(Tokens.TelemetrySink, sink);
      return {
        stop: () => sink.flush(),
      };
    },
  });
}
