import { create } from '@bufbuild/protobuf';
import { signCommand, type Clock, type Signer } from '@esper/core';
import {
  AdaptationCommandSchema,
  CommandSeedOperationSchema,
  CommandType,
  SeedOperation,
  SeedOperationSchema,
  enumName,
  type AdaptationCommand,
} from '@esper/core/leyline';
import type { HeuristicDecision } from './rules.js';

/** `issued_by` of every Tamiyo command. */
export const TAMIYO_ISSUER = 'tamiyo';

/** Annotation keys of heuristic commands. */
export const DECISION_ANNOTATIONS = {
  /** `wait`, or the seed operation in lower case without its prefix (`germinate`, `cull`, …). */
  decision: 'decision',
  /** Why, e.g. `plateau`, `embargo`, `hostage`. */
  reason: 'reason',
  /** The rule that matched (a `HeuristicRule`). */
  rule: 'rule',
  /** Confidence in [0, 1], four decimals. */
  confidence: 'confidence',
  /** Which controller decided (`heuristic`). */
  controller: 'controller',
  /** Epoch of the packet the decision was made on. */
  epoch: 'epoch',
  /** WAIT only: the seed the wait is about, when there is one. */
  seedId: 'seed_id',
} as const;

/**
 * Signs a command before it leaves the controller: a fresh `command_id`, `issued_at` = now and
 * the Base64 HMAC in `annotations.signature`, on a copy. The kernel's `Tokens.CommandSigner` is
 * one; {@link hmacCommandSigning} makes one from a `Signer` and a `Clock`.
 */
export interface CommandSigning {
  sign(command: AdaptationCommand): AdaptationCommand;
}

/** A {@link CommandSigning} over core's `signCommand`: HMAC with `signer`, `issued_at` from `clock`. */
export function hmacCommandSigning(signer: Signer, clock: Clock): CommandSigning {
  return { sign: (command) => signCommand(command, signer, { clock }) };
}

/** The annotation value of a decision: `wait`, or `germinate`, `start_training`, …, `cull`. */
export function decisionName(decision: HeuristicDecision): string {
  if (decision.kind === 'wait') return 'wait';
  return (enumName(SeedOperationSchema, decision.operation) ?? `op_${decision.operation}`).replace(/^SEED_OP_/, '').toLowerCase();
}

/**
 * The unsigned `AdaptationCommand` of a decision. WAIT is the growth loop's no-op:
 * `COMMAND_PAUSE` with an empty target and `decision=wait`, which the executor applies as a
 * no-op. A seed operation is `COMMAND_SEED` targeting the slot, with the blueprint for GERMINATE.
 */
export function commandFor(decision: HeuristicDecision, epoch: number): AdaptationCommand {
  const annotations: Record<string, string> = {
    [DECISION_ANNOTATIONS.decision]: decisionName(decision),
    [DECISION_ANNOTATIONS.reason]: decision.reason,
    [DECISION_ANNOTATIONS.rule]: decision.rule,
    [DECISION_ANNOTATIONS.confidence]: decision.confidence.toFixed(4),
    [DECISION_ANNOTATIONS.controller]: 'heuristic',
    [DECISION_ANNOTATIONS.epoch]: String(epoch),
  };
  if (decision.kind === 'wait') {
    if (decision.seedId !== undefined) annotations[DECISION_ANNOTATIONS.seedId] = decision.seedId;
    return create(AdaptationCommandSchema, {
      version: 1,
      commandType: CommandType.COMMAND_PAUSE,
      targetSeedId: '',
      issuedBy: TAMIYO_ISSUER,
      annotations,
    });
  }
  return create(AdaptationCommandSchema, {
    version: 1,
    commandType: CommandType.COMMAND_SEED,
    targetSeedId: decision.seedId,
    issuedBy: TAMIYO_ISSUER,
    payload: {
      case: 'seedOperation',
      value: create(CommandSeedOperationSchema, {
        operation: decision.operation,
        blueprintId: decision.operation === SeedOperation.SEED_OP_GERMINATE ? (decision.blueprintId ?? '') : '',
      }),
    },
    annotations,
  });
}
