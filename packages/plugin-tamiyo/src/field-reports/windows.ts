import { readFile } from 'node:fs/promises';
import { writeFileAtomic, type Logger } from '@esper/core';

/** File name of the observation-window sidecar, next to the log (reference §12.6). */
export const FIELD_REPORT_WINDOWS_FILE = 'field_reports.windows.json';

/**
 * One open observation window (reference §12.3 field names, as persisted). Min and max are `null`
 * in the file while no finite delta was seen (JSON has no infinities).
 */
export interface ObservationWindow {
  readonly seed_id: string;
  readonly blueprint_id: string;
  readonly training_run_id: string;
  readonly policy_version: string;
  /** Epoch of the packet the command was decided on. */
  readonly start_epoch: number;
  /** Decisions observed so far, the issuing one included. */
  collected: number;
  /** Decisions to observe (N). */
  readonly target: number;
  sum_loss_delta: number;
  min_loss_delta: number | null;
  max_loss_delta: number | null;
  sum_hook_latency_ms: number;
  count_hook_latency: number;
  last_reason: string;
  has_critical: boolean;
  /** Issue time of the command, ISO-8601 UTC. */
  readonly issued_at_iso: string;
}

/** Open windows by command id, in creation order, persisted in `field_reports.windows.json`. */
export class ObservationWindows {
  private constructor(
    /** The sidecar file. */
    readonly path: string,
    private readonly windows: Map<string, ObservationWindow>,
    private readonly fsync: boolean,
  ) {}

  /** Loads the sidecar; a missing, unreadable or malformed file starts empty (reference §12.6). */
  static async load(path: string, options: { fsync?: boolean; logger?: Logger | undefined } = {}): Promise<ObservationWindows> {
    const windows = new Map<string, ObservationWindow>();
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      // No windows yet.
    }
    if (text !== undefined) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
        for (const [commandId, value] of Object.entries(parsed as Record<string, unknown>)) {
          const w = parseWindow(value);
          if (w !== undefined) windows.set(commandId, w);
        }
      } catch (error) {
        options.logger?.warn('tamiyo: the observation-window file is unreadable; starting with no open windows', {
          path,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return new ObservationWindows(path, windows, options.fsync ?? true);
  }

  /** Open windows by command id (a copy). */
  snapshot(): Readonly<Record<string, ObservationWindow>> {
    return structuredClone(Object.fromEntries(this.windows));
  }

  has(commandId: string): boolean {
    return this.windows.has(commandId);
  }

  open(commandId: string, window: ObservationWindow): void {
    this.windows.set(commandId, window);
  }

  entries(): IterableIterator<[string, ObservationWindow]> {
    return this.windows.entries();
  }

  close(commandId: string): void {
    this.windows.delete(commandId);
  }

  /** Writes the sidecar atomically (temp file, fsync, rename). */
  async save(): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(Object.fromEntries(this.windows)), { fsync: this.fsync });
  }
}

function parseWindow(value: unknown): ObservationWindow | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : '');
  const num = (k: string) => (typeof v[k] === 'number' && Number.isFinite(v[k]) ? (v[k] as number) : 0);
  const opt = (k: string) => (typeof v[k] === 'number' && Number.isFinite(v[k]) ? (v[k] as number) : null);
  return {
    seed_id: str('seed_id'),
    blueprint_id: str('blueprint_id'),
    training_run_id: str('training_run_id'),
    policy_version: str('policy_version'),
    start_epoch: num('start_epoch'),
    collected: num('collected'),
    target: Math.max(1, num('target')),
    sum_loss_delta: num('sum_loss_delta'),
    min_loss_delta: opt('min_loss_delta'),
    max_loss_delta: opt('max_loss_delta'),
    sum_hook_latency_ms: num('sum_hook_latency_ms'),
    count_hook_latency: num('count_hook_latency'),
    last_reason: str('last_reason'),
    has_critical: v.has_critical === true,
    issued_at_iso: str('issued_at_iso'),
  };
}
