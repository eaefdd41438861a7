import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { ParameterSet, loadCheckpoint, saveCheckpoint, type TensorData, type TrainerState } from '@esper/onnx';
import { CheckpointError } from '../errors.js';

const PARAM = 'param:';
const STATE = 'state:';

/** What an epoch checkpoint records besides the tensors. */
export interface CheckpointInfo {
  readonly runId: string;
  /** Epoch whose end it records (0-based). */
  readonly epoch: number;
  readonly globalStep: number;
  /** Topology version of the composition the parameters belong to. */
  readonly topologyVersion: number;
}

/** A checkpoint read back: the trainer state and what it records. */
export interface LoadedCheckpoint {
  readonly state: TrainerState;
  readonly info: CheckpointInfo;
}

/** Path of epoch `epoch`'s checkpoint in `dir`: `<dir>/epoch-<epoch>.ckpt`. */
export const epochCheckpointPath = (dir: string, epoch: number): string => join(dir, `epoch-${epoch}.ckpt`);

/**
 * Writes the trainer's parameters, optimizer state and step count as an `@esper/onnx` checkpoint
 * (checksummed tensors, string metadata) atomically: a temporary file, fsync, rename, then an
 * fsync of the folder so the rename itself survives a crash. Creates `dir` when missing.
 *
 * @throws CheckpointError (`ESPER_TOLARIA_CHECKPOINT`) naming the file when it cannot be written.
 */
export async function writeCheckpoint(path: string, dir: string, state: TrainerState, info: CheckpointInfo): Promise<void> {
  const tensors = new ParameterSet();
  for (const [name, t] of state.parameters) tensors.add(PARAM + name, t);
  for (const [name, t] of state.optimizerState) tensors.add(STATE + name, t);
  const metadata = {
    runId: info.runId,
    epoch: String(info.epoch),
    globalStep: String(info.globalStep),
    stepCount: String(state.stepCount),
    topologyVersion: String(info.topologyVersion),
  };
  try {
    await mkdir(dir, { recursive: true });
    await saveCheckpoint(path, tensors, metadata);
    const folder = await open(dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch (cause) {
    throw new CheckpointError(`could not write checkpoint ${path}: ${(cause as Error).message}. Check that the folder is writable and the disk has room.`, { cause });
  }
}

/**
 * Reads a checkpoint written by {@link writeCheckpoint}, verifying every checksum.
 *
 * @throws CheckpointError when the file is missing, corrupt or not a Tolaria checkpoint.
 */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  let loaded;
  try {
    loaded = await loadCheckpoint(path);
  } catch (cause) {
    throw new CheckpointError(`could not read checkpoint ${path}: ${(cause as Error).message}`, { cause });
  }
  const parameters = new ParameterSet();
  const optimizerState = new Map<string, TensorData<'float32'>>();
  for (const [name, t] of loaded.parameters) {
    if (name.startsWith(PARAM)) parameters.add(name.slice(PARAM.length), t);
    else if (name.startsWith(STATE)) optimizerState.set(name.slice(STATE.length), t);
    else throw new CheckpointError(`checkpoint ${path} holds tensor "${name}", which is neither a parameter nor optimizer state: not a Tolaria checkpoint`);
  }
  const m = loaded.metadata;
  const int = (key: string): number => {
    const v = Number(m[key]);
    if (!Number.isInteger(v)) throw new CheckpointError(`checkpoint ${path} has no valid "${key}" in its metadata: not a Tolaria checkpoint`);
    return v;
  };
  return {
    state: { parameters, optimizerState, stepCount: int('stepCount') },
    info: { runId: m.runId ?? '', epoch: int('epoch'), globalStep: int('globalStep'), topologyVersion: int('topologyVersion') },
  };
}
