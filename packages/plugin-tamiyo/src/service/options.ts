import { z } from 'zod';

/** Request stream both sides use unless configured otherwise. */
export const DEFAULT_REQUEST_STREAM = 'tamiyo.requests';

// Env names, units and meanings live in `.meta()`; the config docs are generated from them.

/**
 * The `tamiyo.service` section: Tamiyo as a remote service (decision 0061). When `enabled`, the
 * plugin's `start` hook consumes decision requests from Oona and its `stop` hook drains them
 * (`esper serve` runs a config until SIGINT/SIGTERM).
 */
export const serviceOptionsSchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      env: 'TAMIYO_SERVICE_ENABLED',
      description: 'Serve decision requests from Oona with this config’s controller (one controller instance per training_run_id).',
    }),
    requestStream: z.string().trim().min(1).default(DEFAULT_REQUEST_STREAM).meta({
      description: 'Stream the requests are read from with the Oona client’s consumer group (replicas in one group share the load).',
    }),
    watchEmergency: z.boolean().default(true).meta({
      description: 'Also serve requests that Oona rerouted to the emergency stream (backlog or conservative mode of the trainer’s client).',
    }),
    concurrency: z.number().int().positive().default(4).meta({
      description: 'Decisions in progress at once, over all runs; the packets of one run are always decided one after another.',
    }),
    maxQueued: z.number().int().positive().default(256).meta({
      description: 'Requests admitted and not yet answered; at this count the service stops reading until one is answered.',
    }),
    maxRuns: z.number().int().positive().default(64).meta({
      description: 'Controller instances kept (one per training_run_id); the least recently used idle one is closed beyond this.',
    }),
    runIdleMs: z.number().int().positive().default(600_000).meta({
      description: 'A run’s controller unused this long is flushed and closed when another run’s first request comes, ms.',
    }),
    // The plugin's stop hook has 60 s; the rest is for closing the runs' controllers.
    drainTimeoutMs: z.number().int().positive().max(50_000).default(10_000).meta({
      description: 'How long stopping waits for admitted requests to be answered, ms.',
    }),
    replyCacheSize: z.number().int().positive().default(1_024).meta({
      description: 'Admitted requests remembered (the oldest forgotten beyond this), so a redelivered request is answered with the command already sent instead of being decided twice.',
    }),
    telemetryIntervalMs: z.number().int().nonnegative().default(10_000).meta({
      description: 'How often the service emits its telemetry packet (`tamiyo.service.*`: requests, answers, expired, duplicates, queue depth, runs, decision latency) through the run’s Telemetry, ms; 0: only every `telemetryEveryRequests`.',
    }),
    telemetryEveryRequests: z.number().int().nonnegative().default(0).meta({
      description: 'Also emit the telemetry packet after every N requests received; 0 disables.',
    }),
    housekeepingIntervalMs: z.number().int().nonnegative().default(60_000).meta({
      description: 'How often the reply streams the service answered on are trimmed and expired, ms; 0 disables.',
    }),
    // Answers matter for one deadline (about a second): ten minutes keeps them for debugging.
    replyTtlMs: z.number().int().nonnegative().default(600_000).meta({
      description: 'Answers older than this are trimmed from the reply streams (never one its trainer has not read), ms; 0 keeps them.',
    }),
    replyStreamIdleMs: z.number().int().nonnegative().default(3_600_000).meta({
      description: 'A reply stream that got no answer for this long is deleted with its consumer group (its trainer has finished or gone), ms; 0 never deletes.',
    }),
  })
  .prefault({});

/** Validated `tamiyo.service` options. */
export type ServiceOptions = z.output<typeof serviceOptionsSchema>;

/**
 * The `tamiyo.remote` section: the remote controller (`tamiyo.controller: 'remote'`) that a
 * trainer uses to ask a Tamiyo service over Oona (decision 0061).
 */
export const remoteOptionsSchema = z
  .strictObject({
    requestStream: z.string().trim().min(1).default(DEFAULT_REQUEST_STREAM).meta({
      description: 'Stream the decision requests are published to (the service’s `tamiyo.service.requestStream`).',
    }),
    replyStream: z.string().trim().min(1).optional().meta({
      unset: '`tamiyo.replies.<run id>`',
      description: 'Stream this trainer reads its answers from; one per trainer.',
    }),
    timeoutMs: z.number().int().positive().default(1_500).meta({
      env: 'TAMIYO_REMOTE_TIMEOUT_MS',
      description: 'Deadline of one remote decision, ms, sent with the request; when it passes the decision is a timeout PAUSE. Keep it below `tolaria.tamiyoTimeoutMs`.',
    }),
    watchEmergency: z.boolean().default(true).meta({
      description: 'Also read answers that Oona rerouted to the emergency stream (the service client’s conservative mode).',
    }),
  })
  .prefault({});

/** Validated `tamiyo.remote` options. */
export type RemoteOptions = z.output<typeof remoteOptionsSchema>;
