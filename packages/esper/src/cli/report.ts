import { formatIssue, type ConfigIssue } from '@esper/core';

/**
 * An error as the CLI prints it: what happened, what to do, and its code, without a stack
 * trace. For a cause chain (a plugin's error inside the kernel's `HookFailedError`), each cause's
 * message is added when the outer message does not already quote it, and the codes are listed
 * outermost first: `[ESPER_KERNEL_HOOK_FAILED ← ESPER_KASMINA_UNKNOWN_BLUEPRINT]`. Errors without
 * an Esper code (bugs) keep their stack.
 *
 * Errors are recognised by their `code` (`ESPER_*`), not by class: a config file's plugins may
 * load their own copy of `@esper/core`, whose error classes are not this copy's.
 */
export function formatCliError(error: unknown, context: { readonly config?: string } = {}): string {
  const invalid = configIssues(error);
  if (invalid !== undefined) return formatInvalidConfig(invalid, context.config, esperCode(error)!);
  const code = esperCode(error);
  if (code === undefined) {
    return `✗ unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`;
  }
  const lines = [`✗ ${(error as Error).message}`];
  const codes = [code];
  let said = (error as Error).message;
  let cause: unknown = (error as Error).cause;
  for (let depth = 0; cause !== undefined && cause !== null && depth < 8; depth += 1) {
    const issues = configIssues(cause);
    if (issues !== undefined) {
      lines.push(...issues.map((issue) => `  ${formatIssue(issue)}`));
    } else {
      const message = withoutRequireStack(cause instanceof Error ? cause.message : String(cause));
      if (!said.includes(message)) lines.push(`  caused by: ${message}`);
      said += `\n${message}`;
    }
    const causeCode = (cause as { code?: unknown }).code;
    if (typeof causeCode === 'string' && causeCode.startsWith('ESPER_')) codes.push(causeCode);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  lines.push(`  [${codes.join(' ← ')}]`);
  return `${lines.join('\n')}\n`;
}

/** Node's module-resolution errors end with a "Require stack:" list of internal files: not for the user. */
function withoutRequireStack(message: string): string {
  return message.replace(/\nRequire stack:(?:\n- .*)*\s*$/, '');
}

/** The `ESPER_*` code of an error, or undefined for an error that is not Esper's. */
export function esperCode(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ESPER_') ? code : undefined;
}

function configIssues(error: unknown): readonly ConfigIssue[] | undefined {
  if (esperCode(error) !== 'ESPER_CONFIG_INVALID') return undefined;
  const issues = (error as { issues?: unknown }).issues;
  return Array.isArray(issues) ? (issues as ConfigIssue[]) : undefined;
}

function formatInvalidConfig(issues: readonly ConfigIssue[], config: string | undefined, code: string): string {
  const n = issues.length;
  return (
    `✗ ${config ?? 'The config'} is invalid (${n} problem${n === 1 ? '' : 's'}):\n` +
    issues.map((issue) => `  ${formatIssue(issue)}\n`).join('') +
    `  [${code}]\n`
  );
}
