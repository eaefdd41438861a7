import { EsperError } from '@esper/core';

/**
 * The remote protocol cannot work with this run's command signer: its key is a random per-run
 * key (no `ESPER_LEYLINE_SECRET`), so commands signed in the service cannot be verified by the
 * trainer's Kasmina. Thrown at start, by the service and by the remote controller.
 */
export class RemoteSigningError extends EsperError<'ESPER_TAMIYO_REMOTE_SIGNING'> {
  constructor(side: 'service' | 'remote controller') {
    super(
      'ESPER_TAMIYO_REMOTE_SIGNING',
      `The Tamiyo ${side} needs a shared command-signing secret, but this run signs with a random per-run key. ` +
        'Set the same ESPER_LEYLINE_SECRET (security.leylineSecret) for the trainers and the Tamiyo service.',
    );
  }
}

/** `tamiyo.service.enabled` with `tamiyo.controller: 'remote'`: the service would forward every request to itself. */
export class RemoteServiceLoopError extends EsperError<'ESPER_TAMIYO_SERVICE_LOOP'> {
  constructor() {
    super(
      'ESPER_TAMIYO_SERVICE_LOOP',
      "tamiyo.service.enabled is set with tamiyo.controller: 'remote', so the service would ask itself. " +
        "Give the service config the controller that decides ('heuristic' or 'gnn').",
    );
  }
}

/**
 * A remote decision could not be had: the request was not published (`reason` `not_sent`,
 * Oona dropped or refused it), the service answered that the controller failed (`failed`), or
 * the remote controller was closed while the call waited (`closed`). Tolaria treats it as a
 * failed controller call (WAIT).
 */
export class RemoteDecisionError extends EsperError<'ESPER_TAMIYO_REMOTE_DECISION'> {
  constructor(
    readonly reason: 'not_sent' | 'failed' | 'closed',
    detail: string,
  ) {
    super(
      'ESPER_TAMIYO_REMOTE_DECISION',
      `The remote Tamiyo decision was not made (${reason}): ${detail}. ` +
        'Check that a Tamiyo service (esper serve) reads the request stream on the same Oona, and its log.',
    );
  }
}

/**
 * A request read while the service stops: the read is failed on purpose, so Oona puts the
 * request back on the stream for another replica (or this one after a restart).
 */
export class ServiceStoppingError extends EsperError<'ESPER_TAMIYO_SERVICE_STOPPING'> {
  constructor() {
    super('ESPER_TAMIYO_SERVICE_STOPPING', 'The Tamiyo service is stopping; the request goes back to the stream for another replica. Nothing to do.');
  }
}
