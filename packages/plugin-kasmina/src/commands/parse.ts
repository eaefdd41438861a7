import { CommandType, CommandTypeSchema, type SeedOperation, SeedOperationSchema, enumName, type AdaptationCommand } from '@esper/core/leyline';

/** What a verified command asks of Kasmina. */
export type ParsedCommand =
  /** The growth loop's no-op decision: `COMMAND_PAUSE` with an empty target. */
  | { readonly kind: 'wait' }
  /** A seed operation on the slot `seedId`. */
  | {
      readonly kind: 'seed';
      readonly seedId: string;
      readonly operation: SeedOperation;
      readonly blueprintId: string;
      readonly parameters: Readonly<Record<string, number>>;
      /** The command's annotations, `signature` left out (blend mode, controller notes, …). */
      readonly annotations: Readonly<Record<string, string>>;
    }
  /** `COMMAND_PAUSE` of seed `seedId`: identity substitution, or its end when `resume` (annotation `resume=true`). */
  | { readonly kind: 'pause'; readonly seedId: string; readonly resume: boolean }
  /** Something this executor does not act on, with the reason it gives. */
  | { readonly kind: 'unsupported'; readonly reason: string };

/** Leyline name of a seed operation (`SEED_OP_GERMINATE`). */
export function operationName(operation: SeedOperation): string {
  return enumName(SeedOperationSchema, operation) ?? String(operation);
}

/** Leyline name of a command type (`COMMAND_SEED`). */
export function commandTypeName(type: CommandType): string {
  return enumName(CommandTypeSchema, type) ?? String(type);
}

/**
 * Reads a command (after its signature was verified) into what to do. `COMMAND_SEED` needs a
 * `seed_operation` and a target; the target seed id is `target_seed_id` (seed id = slot id).
 * `COMMAND_PAUSE` with an empty target is WAIT; with a target it pauses that seed, or resumes it
 * when the annotation `resume` is `true` (any case). Everything else is unsupported, with a reason
 * (`unsupported_command:<type>`, `missing_seed_operation`, `missing_target_seed`, …).
 */
export function parseCommand(command: AdaptationCommand): ParsedCommand {
  switch (command.commandType) {
    case CommandType.COMMAND_PAUSE:
      if (command.targetSeedId === '') return { kind: 'wait' };
      // The reference reads `resume` case-insensitively; anything but "true" pauses (kasmina §6.2).
      return { kind: 'pause', seedId: command.targetSeedId, resume: (command.annotations.resume ?? '').trim().toLowerCase() === 'true' };
    case CommandType.COMMAND_SEED: {
      if (command.payload.case !== 'seedOperation') return { kind: 'unsupported', reason: 'missing_seed_operation' };
      const op = command.payload.value;
      if (command.targetSeedId === '') return { kind: 'unsupported', reason: 'missing_target_seed' };
      const { signature: _signature, ...annotations } = command.annotations;
      return { kind: 'seed', seedId: command.targetSeedId, operation: op.operation, blueprintId: op.blueprintId.trim(), parameters: { ...op.parameters }, annotations };
    }
    default:
      return { kind: 'unsupported', reason: `unsupported_command:${commandTypeName(command.commandType)}` };
  }
}
