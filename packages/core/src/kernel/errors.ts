import { EsperError } from '../errors.js';

/** A required port has no provider. */
export class MissingProviderError extends EsperError {
  constructor(message: string) {
    super('ESPER_KERNEL_MISSING_PROVIDER', message);
  }
}

/** More than one plugin provides a single-provider port. */
export class DuplicateProviderError extends EsperError {
  constructor(message: string) {
    super('ESPER_KERNEL_DUPLICATE_PROVIDER', message);
  }
}

/** Plugins require each other in a cycle, so no start order exists. */
export class DependencyCycleError extends EsperError {
  constructor(readonly cycle: readonly string[]) {
    super(
      'ESPER_KERNEL_DEPENDENCY_CYCLE',
      `Plugins depend on each other in a cycle: ${cycle.join(' -> ')}. Break it by making one of these requirements optional (optionalRequires) or by moving the shared port into its own plugin.`,
    );
  }
}

/** A plugin's `register` bound ports other than the ones it declared in `provides`. */
export class ProvidesMismatchError extends EsperError {
  constructor(message: string) {
    super('ESPER_KERNEL_PROVIDES_MISMATCH', message);
  }
}

/** A lifecycle hook (or `register`) did not finish within its timeout. */
export class HookTimeoutError extends EsperError {
  constructor(
    readonly plugin: string,
    readonly hook: string,
    readonly timeoutMs: number,
  ) {
    super(
      'ESPER_KERNEL_HOOK_TIMEOUT',
      `Plugin "${plugin}" did not finish its ${hook} hook within ${timeoutMs} ms. Make the hook faster, or raise kernel.hookTimeoutMs (or the plugin's hookTimeoutsMs.${hook}).`,
    );
  }
}

/** A lifecycle hook (or `register`) threw; the original error is the `cause`. */
export class HookFailedError extends EsperError {
  constructor(
    readonly plugin: string,
    readonly hook: string,
    cause: unknown,
  ) {
    super(
      'ESPER_KERNEL_HOOK_FAILED',
      `Plugin "${plugin}" failed in its ${hook} hook: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** Stopping or disposing some plugins failed; every failure is in `errors`, and teardown still ran for all. */
export class TeardownError extends EsperError {
  constructor(readonly errors: readonly unknown[]) {
    super(
      'ESPER_KERNEL_TEARDOWN',
      `${errors.length} plugin teardown step(s) failed (the others completed):\n` +
        errors.map((e) => `  - ${e instanceof Error ? e.message : String(e)}`).join('\n'),
      { cause: errors[0] },
    );
  }
}

/** A port was resolved that nothing provides in this run. */
export class PortUnavailableError extends EsperError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_KERNEL_PORT_UNAVAILABLE', message, options);
  }
}

/** The run was already stopped. */
export class RunStoppedError extends EsperError {
  constructor(runId: string) {
    super('ESPER_KERNEL_RUN_STOPPED', `Run ${runId} has been stopped; start a new run with esper.start().`);
  }
}
