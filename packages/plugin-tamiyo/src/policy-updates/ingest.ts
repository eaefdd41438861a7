import { timestampMs } from '@bufbuild/protobuf/wkt';
import { buildTelemetryPacket, SystemClock, type Clock, type Logger, type PolicyUpdateResult, type Signer } from '@esper/core';
import { HealthStatus, MessagePriority, TelemetryLevel, type PolicyUpdate, type TelemetryPacket } from '@esper/core/leyline';
import type { TamiyoConfig } from '../config.js';
import { decodeBundle, verifyBundle, type PolicyBundleHeader } from './bundle.js';
import { PolicyValidationError, type PolicyUpdateRejectionReason } from './errors.js';
import { checkOnnxModel, parseSafetensors, type WeightFile } from './formats.js';

/** A verified, parsed payload, as the policy owner's `prepare` gets it. */
export type PolicyPayload =
  | { readonly format: 'onnx'; readonly model: Uint8Array; readonly header: PolicyBundleHeader }
  | { readonly format: 'safetensors'; readonly weights: WeightFile; readonly header: PolicyBundleHeader };

/**
 * The running policy's side of an update transaction. The ingestor calls `prepare` to validate
 * the payload and load it into a **fresh** candidate (never touching the live policy), then
 * `swap` to make the candidate live. `swap` is synchronous, so nothing runs between the last
 * check and the swap; it should be a reference assignment. If either throws, the live policy is
 * as it was.
 */
export interface PolicyOwner<Candidate = unknown> {
  /** Architecture version of the live policy (e.g. `tamiyo_gnn_v1`). */
  readonly architectureVersion: string;
  /**
   * Validates and loads a candidate. Throw a {@link PolicyValidationError} to name the reason
   * (`registry_mismatch`, `shape_mismatch`); any other error is `incompatible_update`.
   */
  prepare(payload: PolicyPayload, update: PolicyUpdate): Candidate | Promise<Candidate>;
  /** Makes `candidate` the live policy. A throw is `swap_failed`. */
  swap(candidate: Candidate): void;
}

/** Settings of the checks (`tamiyo.policyUpdates`): version and age checks and the age limit. */
export type PolicyUpdateSettings = Pick<TamiyoConfig['policyUpdates'], 'verify' | 'maxAgeSec'>;

/** Constructor arguments of {@link PolicyUpdateIngestor}. */
export interface PolicyUpdateIngestorInit<Candidate> {
  readonly owner: PolicyOwner<Candidate>;
  /**
   * Verifies bundle signatures (the run's `Tokens.Signer`, keyed by `ESPER_LEYLINE_SECRET`).
   * Without one every update is rejected `invalid_signature`: updates are never trusted unsigned.
   */
  readonly signer: Signer | undefined;
  readonly settings?: Partial<PolicyUpdateSettings> | undefined;
  readonly clock?: Clock | undefined;
  readonly telemetry?: { emit(packet: TelemetryPacket, priority: MessagePriority): Promise<void> } | undefined;
  readonly logger?: Logger | undefined;
  /** The policy version before any update (default: the owner's architecture version). */
  readonly initialPolicyVersion?: string | undefined;
  /** Largest payload accepted, bytes (default 256 MiB). */
  readonly maxPayloadBytes?: number | undefined;
}

/** One recorded (accepted) update. */
export interface AppliedPolicyUpdate {
  readonly policyId: string;
  readonly policyVersion: string;
  readonly format: PolicyBundleHeader['format'];
  readonly atMs: number;
}

/** Description of the rejection event (reference §13). */
export const POLICY_UPDATE_REJECTED_EVENT = 'policy_update_rejected';

/**
 * P3: verifies policy updates and applies them as one transaction (reference §13 with §17 item
 * 18 fixed — decision 0055). In order:
 *
 * 1. the payload is a signed bundle (`invalid_payload` otherwise: an empty payload, a pickled
 *    archive or anything else is never decoded as code) whose body matches its digest, and the
 *    signature over the update's identity, timing and header verifies (`invalid_signature`);
 * 2. with `verify` on: a non-empty `tamiyo_policy_version` equals the live architecture
 *    (`version_mismatch`), and with `maxAgeSec` > 0 the update is not older than that, nor more
 *    than that in the future (`stale_update`);
 * 3. a `policy_id` already applied is refused (`replayed_update`);
 * 4. the body is an ONNX model or safetensors weights (`invalid_payload`), a metadata bundle only
 *    renames the policy version;
 * 5. `owner.prepare` validates and loads a fresh candidate, then `owner.swap` makes it live.
 *
 * Any failure leaves the running policy and the policy version untouched, emits a WARNING
 * telemetry packet `tamiyo-policy-update-error` with event `policy_update_rejected {reason,
 * policy_id, detail}` and resolves `{ accepted: false, reason }`. Updates are applied one at a time.
 */
export class PolicyUpdateIngestor<Candidate = unknown> {
  private readonly owner: PolicyOwner<Candidate>;
  private readonly signer: Signer | undefined;
  private readonly settings: PolicyUpdateSettings;
  private readonly clock: Clock;
  private readonly telemetry: PolicyUpdateIngestorInit<Candidate>['telemetry'];
  private readonly logger: Logger | undefined;
  private readonly maxPayloadBytes: number;
  private readonly applied: AppliedPolicyUpdate[] = [];
  private version: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(init: PolicyUpdateIngestorInit<Candidate>) {
    this.owner = init.owner;
    this.signer = init.signer;
    this.settings = { verify: true, maxAgeSec: 0, ...init.settings };
    this.clock = init.clock ?? new SystemClock();
    this.telemetry = init.telemetry;
    this.logger = init.logger;
    this.maxPayloadBytes = init.maxPayloadBytes ?? 256 * 1024 * 1024;
    this.version = init.initialPolicyVersion ?? init.owner.architectureVersion;
  }

  /** The service's policy version (the last accepted update's version string, or the architecture). */
  get policyVersion(): string {
    return this.version;
  }

  /** Accepted updates, oldest first. */
  history(): readonly AppliedPolicyUpdate[] {
    return [...this.applied];
  }

  /** Verifies and applies `update` (after any update still in progress). Never throws. */
  ingest(update: PolicyUpdate): Promise<PolicyUpdateResult> {
    const next = this.chain.then(
      () => this.ingestNow(update),
      () => this.ingestNow(update),
    );
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async ingestNow(update: PolicyUpdate): Promise<PolicyUpdateResult> {
    let stage: PolicyUpdateRejectionReason = 'invalid_payload';
    try {
      if (update.payload.byteLength > this.maxPayloadBytes) {
        throw new PolicyValidationError('invalid_payload', `the payload is ${update.payload.byteLength} bytes, over the limit of ${this.maxPayloadBytes}`);
      }
      const bundle = decodeBundle(update.payload);
      if (this.signer === undefined) {
        throw new PolicyValidationError('invalid_signature', 'no signing key is configured (ESPER_LEYLINE_SECRET), so no update can be verified');
      }
      if (!verifyBundle(update, bundle, this.signer)) {
        throw new PolicyValidationError('invalid_signature', 'the bundle signature does not verify with this run’s key');
      }
      if (this.settings.verify) this.checkVersionAndAge(update);
      if (update.policyId !== '' && this.applied.some((a) => a.policyId === update.policyId)) {
        throw new PolicyValidationError('replayed_update', `policy_id "${update.policyId}" was already applied`);
      }
      const { header, body } = bundle;
      const newVersion = update.tamiyoPolicyVersion.trim();
      if (header.format === 'metadata') {
        if (newVersion !== '') this.version = newVersion;
        return this.accept(update, header);
      }
      let payload: PolicyPayload;
      if (header.format === 'onnx') {
        checkOnnxModel(body);
        payload = { format: 'onnx', model: body, header };
      } else {
        payload = { format: 'safetensors', weights: parseSafetensors(body), header };
      }
      stage = 'incompatible_update';
      const candidate = await this.owner.prepare(payload, update);
      stage = 'swap_failed';
      this.owner.swap(candidate);
      this.version = newVersion !== '' ? newVersion : this.owner.architectureVersion;
      return this.accept(update, header);
    } catch (error) {
      const reason = error instanceof PolicyValidationError && stage !== 'swap_failed' ? error.reason : stage;
      return this.reject(update, reason, error);
    }
  }

  private checkVersionAndAge(update: PolicyUpdate): void {
    const v = update.tamiyoPolicyVersion.trim();
    if (v !== '' && v !== this.owner.architectureVersion && !v.startsWith(`${this.owner.architectureVersion}@`)) {
      throw new PolicyValidationError(
        'version_mismatch',
        `the update is for "${v}", the running policy is "${this.owner.architectureVersion}" (a version string may add "@<tag>")`,
      );
    }
    const limitMs = this.settings.maxAgeSec * 1000;
    if (limitMs > 0) {
      const issued = update.issuedAt === undefined ? 0 : timestampMs(update.issuedAt);
      const age = this.clock.nowMs() - issued;
      if (age > limitMs) throw new PolicyValidationError('stale_update', `issued ${Math.round(age / 1000)} s ago, the limit is ${this.settings.maxAgeSec} s`);
      if (-age > limitMs) throw new PolicyValidationError('stale_update', `issued ${Math.round(-age / 1000)} s in the future`);
    }
  }

  private accept(update: PolicyUpdate, header: PolicyBundleHeader): PolicyUpdateResult {
    this.applied.push({ policyId: update.policyId, policyVersion: this.version, format: header.format, atMs: this.clock.nowMs() });
    this.logger?.info('tamiyo: policy update applied', { policyId: update.policyId, policyVersion: this.version, format: header.format });
    return { accepted: true, policyVersion: this.version };
  }

  private reject(update: PolicyUpdate, reason: PolicyUpdateRejectionReason, error: unknown): PolicyUpdateResult {
    const detail = error instanceof Error ? error.message : String(error);
    this.logger?.warn('tamiyo: policy update rejected; the running policy is unchanged', { policyId: update.policyId, reason, detail });
    if (this.telemetry !== undefined) {
      try {
        const packet = buildTelemetryPacket(
          {
            packetId: 'tamiyo-policy-update-error',
            source: 'tamiyo',
            level: TelemetryLevel.WARNING,
            events: [
              {
                description: POLICY_UPDATE_REJECTED_EVENT,
                level: TelemetryLevel.WARNING,
                attributes: { reason, policy_id: update.policyId, detail: detail.slice(0, 512) },
              },
            ],
            health: { status: HealthStatus.DEGRADED, summary: POLICY_UPDATE_REJECTED_EVENT, derive: false },
          },
          { clock: this.clock },
        );
        this.telemetry.emit(packet, MessagePriority.NORMAL).catch((e: unknown) => this.logger?.warn('tamiyo: rejection telemetry was not delivered', { error: String(e) }));
      } catch (e) {
        this.logger?.warn('tamiyo: rejection telemetry could not be built', { error: String(e) });
      }
    }
    return { accepted: false, reason };
  }
}
