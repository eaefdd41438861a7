import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { AdaptationCommandSchema, CommandType, CONTRACT_VERSION, type AdaptationCommand } from '@esper/core/leyline';

/** Why the trainer decided WAIT on the controller's behalf. */
export type WaitReason = 'controller_timeout' | 'controller_error';

/**
 * The no-op decision ("WAIT") the trainer uses when the controller misses its deadline or fails:
 * `COMMAND_PAUSE` with no target seed, annotated `decision=wait` and `reason=<why>`, issued by
 * `tolaria` at `nowMs`. Executors apply it as a no-op. Sign it before handing it to an executor
 * that verifies commands.
 */
export function waitCommand(reason: WaitReason, nowMs: number, detail?: string): AdaptationCommand {
  return create(AdaptationCommandSchema, {
    version: CONTRACT_VERSION,
    commandId: randomUUID(),
    commandType: CommandType.COMMAND_PAUSE,
    targetSeedId: '',
    issuedAt: timestampFromMs(nowMs),
    issuedBy: 'tolaria',
    annotations: { decision: 'wait', reason, ...(detail === undefined ? {} : { detail: detail.slice(0, 200) }) },
  });
}
