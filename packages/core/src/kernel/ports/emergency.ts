import type { EmergencySignal } from '../../leyline/index.js';

/**
 * Emergency signalling (Leyline `EmergencySignal`, levels NOTICE → HALT). In process it is a
 * `SharedArrayBuffer` + `Atomics` cell that every subsystem and worker thread can read without
 * waiting on the event loop; across processes it bridges to Oona's emergency stream.
 */
export interface EmergencyChannel {
  /** Raises a signal; resolves true when it was accepted (not rate-limited). */
  raise(signal: EmergencySignal): Promise<boolean>;
  /** The highest active signal, if any. */
  current(): EmergencySignal | undefined;
  /** Clears the active signal (an operator or the trainer after recovery). */
  clear(): void;
  /** Calls `listener` for every raised signal; returns an unsubscribe function. */
  subscribe(listener: (signal: EmergencySignal) => void): () => void;
}
