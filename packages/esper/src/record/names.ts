import {
  CommandTypeSchema,
  enumName,
  SeedLifecycleStage,
  SeedLifecycleStageSchema,
  SeedOperationSchema,
  type AdaptationCommand,
} from '@esper/core/leyline';

/** `SEED_STAGE_TRAINING` → `TRAINING` (the short name people read in progress and summaries). */
export function stageName(stage: SeedLifecycleStage): string {
  return (enumName(SeedLifecycleStageSchema, stage) ?? `STAGE_${stage}`).replace(/^SEED_STAGE_/, '');
}

/** Whether a seed in this stage is a free slot (nothing grafted). */
export function isDormant(stage: SeedLifecycleStage): boolean {
  return stage === SeedLifecycleStage.SEED_STAGE_DORMANT || stage === SeedLifecycleStage.SEED_STAGE_UNKNOWN;
}

/** The parts of a command a person looks for first: type, target, seed operation, blueprint, decision. */
export interface CommandBrief {
  /** `COMMAND_SEED`, `COMMAND_PAUSE`, … */
  readonly type: string;
  readonly target: string;
  /** `SEED_OP_GERMINATE`, … for seed commands. */
  readonly operation?: string;
  readonly blueprintId?: string;
  /** The `decision` annotation (`wait` for a no-op), when present. */
  readonly decision?: string;
}

/** Reads {@link CommandBrief} off a command. */
export function describeCommand(command: AdaptationCommand): CommandBrief {
  const brief: { -readonly [K in keyof CommandBrief]: CommandBrief[K] } = {
    type: enumName(CommandTypeSchema, command.commandType) ?? String(command.commandType),
    target: command.targetSeedId,
  };
  if (command.payload.case === 'seedOperation') {
    brief.operation = enumName(SeedOperationSchema, command.payload.value.operation) ?? String(command.payload.value.operation);
    if (command.payload.value.blueprintId !== '') brief.blueprintId = command.payload.value.blueprintId;
  }
  const decision = command.annotations.decision;
  if (decision !== undefined && decision !== '') brief.decision = decision;
  return brief;
}
