import { appendFileSync } from 'node:fs';
import { toJson } from '@bufbuild/protobuf';
import type { EventBus } from '@esper/core';
import { AdaptationCommandSchema, type AdaptationCommand } from '@esper/core/leyline';
import { describeCommand } from './names.js';

/** What became of a command: the executor applied it, rejected it, or never answered before the run ended. */
export type CommandOutcomeName = 'applied' | 'rejected' | 'unanswered';

/**
 * One line of `commands.ndjson`. The brief fields repeat what is in `command` so that
 * `grep`/`jq` find germinations without decoding the proto JSON.
 */
export interface CommandLogLine {
  /** Epoch the command was issued in (the last `epoch:start`), when known. */
  readonly epoch?: number;
  readonly outcome: CommandOutcomeName;
  /** The executor's stable reason for a rejection. */
  readonly reason?: string;
  readonly command_id: string;
  readonly type: string;
  readonly target: string;
  readonly operation?: string;
  readonly blueprint_id?: string;
  readonly decision?: string;
  /** The full `AdaptationCommand`, as proto JSON with proto field names. */
  readonly command: unknown;
}

/** Counts of the commands seen, by outcome. */
export interface CommandCounts {
  readonly issued: number;
  readonly applied: number;
  readonly rejected: number;
}

/**
 * Writes `commands.ndjson`: one JSON line per command the controller issued, written when its
 * outcome is known (`command:applied` / `command:rejected` on the run's bus), or at
 * {@link CommandLog.close} as `unanswered`. Lines are appended synchronously, so they are on disk
 * in outcome order even if the process dies right after.
 */
export class CommandLog {
  private readonly pending = new Map<string, { command: AdaptationCommand; epoch: number | undefined }>();
  private readonly offs: Array<() => void> = [];
  private epoch: number | undefined;
  private counts = { issued: 0, applied: 0, rejected: 0 };

  constructor(
    /** Absolute path of the file (created on the first line). */
    readonly path: string,
  ) {}

  /** Subscribes to the run's bus. */
  attach(events: EventBus): this {
    this.offs.push(
      events.on('epoch:start', ({ epoch }) => void (this.epoch = epoch)),
      events.on('command:issued', ({ command }) => {
        this.counts.issued += 1;
        this.pending.set(command.commandId, { command, epoch: this.epoch });
      }),
      events.on('command:applied', ({ command }) => {
        this.counts.applied += 1;
        this.settle(command, 'applied');
      }),
      events.on('command:rejected', ({ command, reason }) => {
        this.counts.rejected += 1;
        this.settle(command, 'rejected', reason);
      }),
    );
    return this;
  }

  /** Commands seen so far. */
  get totals(): CommandCounts {
    return { ...this.counts };
  }

  /** Unsubscribes and writes every command still without an outcome as `unanswered`. */
  close(): void {
    for (const off of this.offs.splice(0)) off();
    for (const { command, epoch } of [...this.pending.values()]) this.write(command, epoch, 'unanswered');
    this.pending.clear();
  }

  private settle(command: AdaptationCommand, outcome: CommandOutcomeName, reason?: string): void {
    const issued = this.pending.get(command.commandId);
    this.pending.delete(command.commandId);
    this.write(command, issued?.epoch ?? this.epoch, outcome, reason);
  }

  private write(command: AdaptationCommand, epoch: number | undefined, outcome: CommandOutcomeName, reason?: string): void {
    const brief = describeCommand(command);
    const line: CommandLogLine = {
      ...(epoch !== undefined ? { epoch } : {}),
      outcome,
      ...(reason !== undefined ? { reason } : {}),
      command_id: command.commandId,
      type: brief.type,
      target: brief.target,
      ...(brief.operation !== undefined ? { operation: brief.operation } : {}),
      ...(brief.blueprintId !== undefined ? { blueprint_id: brief.blueprintId } : {}),
      ...(brief.decision !== undefined ? { decision: brief.decision } : {}),
      command: toJson(AdaptationCommandSchema, command, { useProtoFieldName: true }),
    };
    appendFileSync(this.path, `${JSON.stringify(line)}\n`, 'utf8');
  }
}
