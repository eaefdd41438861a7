import type { Logger } from '../kernel/ports/logger.js';
import type { Oona } from '../kernel/ports/oona.js';

/**
 * Runs `oona.housekeeping()` every `intervalMs` (0 disables) on an unref'd timer; failures are
 * logged, never thrown. Returns a function that stops the timer. Oona plugins start it in their
 * `start` hook and stop it before closing the client.
 */
export function startHousekeeping(oona: Oona, intervalMs: number, logger?: Logger): () => void {
  if (intervalMs <= 0) return () => undefined;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    oona
      .housekeeping()
      .then((removed) => logger?.debug('oona housekeeping', { removed }))
      .catch((error: unknown) => logger?.warn('oona housekeeping failed', { error: String(error) }))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
