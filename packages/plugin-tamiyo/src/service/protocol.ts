import { create } from '@bufbuild/protobuf';
import { AdaptationCommandSchema, CommandType, type AdaptationCommand, type SystemStatePacket } from '@esper/core/leyline';
import { TAMIYO_ISSUER } from '../heuristic/commands.js';

/**
 * Envelope attributes of the remote protocol (decision 0061). Requests are `SystemStatePacket`s
 * and answers `AdaptationCommand`s in ordinary Leyline `BusEnvelope`s; everything the exchange
 * needs besides them travels in the envelope's string attributes, so the wire stays Leyline.
 */
export const REMOTE_ATTRIBUTES = {
  /** Request: the stream the answer goes to. Answer: echoed, so a reader of a shared stream can tell its own answers. */
  replyTo: 'reply_to',
  /** Request and answer: the packet's `packet_id`. */
  correlationId: 'correlation_id',
  /** Request: wall-clock deadline, Unix ms (decimal). */
  deadline: 'deadline_unix_ms',
  /** Request: `step` (`evaluateStep`) or `epoch` (`evaluateEpoch`). */
  evaluate: 'evaluate',
  /** Answer: the packet's `training_run_id`. */
  trainingRunId: 'training_run_id',
  /** Answer: how it was made, one of {@link REMOTE_OUTCOMES}. */
  outcome: 'outcome',
  /** Answer with outcome `failed`: what the controller threw. */
  error: 'error',
} as const;

/**
 * How an answer was made: `decided` by the run's controller; `failed`: the controller threw (the
 * answer is a signed PAUSE, the error in `error`). A request whose deadline passed before its
 * turn gets no answer (decision 0061): the trainer has given up on it by then.
 */
export const REMOTE_OUTCOMES = ['decided', 'failed'] as const;

/** One of {@link REMOTE_OUTCOMES}. */
export type RemoteOutcome = (typeof REMOTE_OUTCOMES)[number];

/** Which controller call a request stands for. */
export type EvaluateKind = 'step' | 'epoch';

/** A decision request as the service reads it from a delivery. */
export interface RemoteRequest {
  readonly packet: SystemStatePacket;
  readonly replyTo: string;
  readonly correlationId: string;
  /** Unix ms. */
  readonly deadlineMs: number;
  readonly evaluate: EvaluateKind;
  /** The packet's `training_run_id`, or the reply stream when the packet has none (one trainer, one lane). */
  readonly runKey: string;
}

/** The default answer stream of a trainer: one per run id, so trainers never share one. */
export function defaultReplyStream(runId: string): string {
  return `tamiyo.replies.${runId}`;
}

/** The envelope attributes of a request. */
export function requestAttributes(replyTo: string, correlationId: string, deadlineMs: number, evaluate: EvaluateKind): Record<string, string> {
  return {
    [REMOTE_ATTRIBUTES.replyTo]: replyTo,
    [REMOTE_ATTRIBUTES.correlationId]: correlationId,
    [REMOTE_ATTRIBUTES.deadline]: String(Math.floor(deadlineMs)),
    [REMOTE_ATTRIBUTES.evaluate]: evaluate,
  };
}

/**
 * Reads a request from a delivered packet and its envelope attributes; `undefined` when the
 * attributes do not make one (a state packet someone published for another reader).
 */
export function parseRequest(packet: SystemStatePacket, attributes: Readonly<Record<string, string>>): RemoteRequest | undefined {
  const replyTo = attributes[REMOTE_ATTRIBUTES.replyTo];
  const correlationId = attributes[REMOTE_ATTRIBUTES.correlationId];
  const deadline = Number(attributes[REMOTE_ATTRIBUTES.deadline]);
  const evaluate = attributes[REMOTE_ATTRIBUTES.evaluate];
  if (replyTo === undefined || replyTo === '' || correlationId === undefined || correlationId === '') return undefined;
  if (!Number.isFinite(deadline) || (evaluate !== 'step' && evaluate !== 'epoch')) return undefined;
  return { packet, replyTo, correlationId, deadlineMs: deadline, evaluate, runKey: packet.trainingRunId !== '' ? packet.trainingRunId : replyTo };
}

/** The envelope attributes of an answer. */
export function replyAttributes(request: RemoteRequest, outcome: RemoteOutcome, error?: string): Record<string, string> {
  return {
    [REMOTE_ATTRIBUTES.replyTo]: request.replyTo,
    [REMOTE_ATTRIBUTES.correlationId]: request.correlationId,
    [REMOTE_ATTRIBUTES.trainingRunId]: request.packet.trainingRunId,
    [REMOTE_ATTRIBUTES.outcome]: outcome,
    ...(error !== undefined ? { [REMOTE_ATTRIBUTES.error]: error.slice(0, 200) } : {}),
  };
}

/**
 * An unsigned PAUSE for a remote decision that was not made: `reason` is `timeout_remote` (the
 * trainer's deadline passed without an answer) or `service_error` (the service's controller threw). Shaped as the reference's timeout command (tamiyo §4 step 3), so Kasmina and
 * the run record treat it as a WAIT.
 */
export function remotePauseCommand(epoch: number, reason: 'timeout_remote' | 'service_error'): AdaptationCommand {
  return create(AdaptationCommandSchema, {
    version: 1,
    commandType: CommandType.COMMAND_PAUSE,
    targetSeedId: '',
    issuedBy: TAMIYO_ISSUER,
    annotations: { controller: 'remote', epoch: String(epoch), decision: 'wait', reason, risk_reason: reason },
  });
}
