import { EsperError } from '../errors.js';
import type { PortInfo } from './tokens.js';

/** A required port has no provider. */
export class MissingProviderError extends EsperError<'ESPER_KERNEL_MISSING_PROVIDER'> {
  constructor(message: string) {
    super('ESPER_KERNEL_MISSING_PROVIDER', message);
  }
}

/** More than one plugin provides a single-provider port. */
export class DuplicateProviderError extends EsperError<'ESPER_KERNEL_DUPLICATE_PROVIDER'> {
  constructor(message: string) {
    super('ESPER_KERNEL_DUPLICATE_PROVIDER', message);
  }
}

/** Plugins require each other in a cycle, so no start order exists. */
export class DependencyCycleError extends EsperError<'ESPER_KERNEL_DEPENDENCY_CYCLE'> {
  constructor(readonly cycle: readonly string[]) {
    super(
      'ESPER_KERNEL_DEPENDENCY_CYCLE',
      `Plugins depend on each other in a cycle: ${cycle.join(' -> ')}. Break it by making one of these requirements optional (optionalRequires) or by moving the shared port into its own plugin.`,
    );
  }
}

/**
 * A plugin's `setup` did not bind, through its own `ctx.provide`/`ctx.provideValue`, exactly the
 * ports it declares in `provides`.
 */
export class ProvidesMismatchError extends EsperError<'ESPER_KERNEL_PROVIDES_MISMATCH'> {
  constructor(message: string) {
    super('ESPER_KERNEL_PROVIDES_MISMATCH', message);
  }
}

/** A plugin hook (`setup`, a lifecycle hook, a lifecycle event hook or an `onDispose` callback) did not finish within its timeout. */
export class HookTimeoutError extends EsperError<'ESPER_KERNEL_HOOK_TIMEOUT'> {
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

/** A plugin hook threw or rejected; the original error is the `cause`. */
export class HookFailedError extends EsperError<'ESPER_KERNEL_HOOK_FAILED'> {
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
export class TeardownError extends EsperError<'ESPER_KERNEL_TEARDOWN'> {
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
export class PortUnavailableError extends EsperError<'ESPER_KERNEL_PORT_UNAVAILABLE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_KERNEL_PORT_UNAVAILABLE', message, options);
  }
}

/** The run was already stopped. */
export class RunStoppedError extends EsperError<'ESPER_KERNEL_RUN_STOPPED'> {
  constructor(runId: string) {
    super('ESPER_KERNEL_RUN_STOPPED', `Run ${runId} has been stopped; start a new run with esper.start().`);
  }
}

/** A third-party port name has no namespace (see `PORT_NAME_PATTERN`). */
export class PortNameError extends EsperError<'ESPER_KERNEL_PORT_NAME'> {
  constructor(readonly portName: string) {
    super(
      'ESPER_KERNEL_PORT_NAME',
      `Port name "${portName}" has no namespace. Names without one belong to @esper/core; name your port after your package, e.g. "acme.${portName.replace(/[^A-Za-z0-9_]/g, '') || 'MyPort'}" or "@acme/plugin-x:${portName.replace(/[^A-Za-z0-9_]/g, '') || 'MyPort'}".`,
    );
  }
}

/** A port name was declared again with a different definition (multi or kernel default). */
export class PortConflictError extends EsperError<'ESPER_KERNEL_PORT_CONFLICT'> {
  constructor(
    readonly portName: string,
    existing: Pick<PortInfo, 'multi' | 'kernelDefault'>,
    requested: Pick<PortInfo, 'multi' | 'kernelDefault'>,
  ) {
    const show = (i: Pick<PortInfo, 'multi' | 'kernelDefault'>): string =>
      `${i.multi ? 'multi-provider' : 'single-provider'}${i.kernelDefault ? ', kernel default' : ''}`;
    super(
      'ESPER_KERNEL_PORT_CONFLICT',
      `Port "${portName}" is already declared as ${show(existing)}; it cannot be redeclared as ${show(requested)}. ` +
        `Use the existing token (import it from the package that declares it), or declare a new port under your own namespace.`,
    );
  }
}

/** A plugin definition or the instance its `setup` returned has a member the kernel does not know. */
export class UnknownHookError extends EsperError<'ESPER_KERNEL_UNKNOWN_HOOK'> {
  constructor(
    readonly plugin: string,
    readonly hook: string,
    readonly where: 'definition' | 'instance' | 'hookTimeoutsMs',
    readonly valid: readonly string[],
  ) {
    const place =
      where === 'definition'
        ? 'its definition'
        : where === 'instance'
          ? 'the object its setup() returned'
          : 'its hookTimeoutsMs';
    super(
      'ESPER_KERNEL_UNKNOWN_HOOK',
      `Plugin "${plugin}" has an unknown member "${hook}" in ${place}. Valid names there: ${valid.join(', ')}.` +
        (hook === 'register' || hook === 'hooks'
          ? ' Plugins now have one setup(ctx) that binds ports and returns the run\'s hooks; see docs/plugin-authoring.md.'
          : ''),
    );
  }
}

/** A plugin definition is malformed (no name, no config key, no setup function, bad timeout). */
export class InvalidPluginError extends EsperError<'ESPER_KERNEL_INVALID_PLUGIN'> {
  constructor(message: string) {
    super('ESPER_KERNEL_INVALID_PLUGIN', message);
  }
}

/** `resolve` was called for a multi-provider port, which has no single provider. */
export class MultiPortResolveError extends EsperError<'ESPER_KERNEL_MULTI_PORT'> {
  constructor(readonly portName: string) {
    super(
      'ESPER_KERNEL_MULTI_PORT',
      `Port ${portName} takes several providers, so resolve() cannot pick one. Use resolveAll(Tokens.${portName}) (or the token you declared) to get every provider.`,
    );
  }
}
