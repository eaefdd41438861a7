import { EsperError } from '../errors.js';

/** One problem found in a config, with the path it is at. */
export interface ConfigIssue {
  /** Dotted path, e.g. `tamiyo.stepTimeoutMs` or `plugins[2]`. */
  readonly path: string;
  /** What is wrong and what was expected. */
  readonly message: string;
  /** Environment variable the bad value came from, if any. */
  readonly envVar?: string;
}

/** Formats one issue the way the CLI prints it. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? '(config)' : issue.path;
  return `${where}${issue.envVar !== undefined ? ` (from ${issue.envVar})` : ''}: ${issue.message}`;
}

/**
 * The config is invalid. `issues` lists every problem found (not just the first), each with
 * a precise path; the message lists them one per line.
 */
export class ConfigValidationError extends EsperError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], source?: string) {
    super(
      'ESPER_CONFIG_INVALID',
      `Invalid Esper config${source !== undefined ? ` ${source}` : ''} (${issues.length} problem${issues.length === 1 ? '' : 's'}); fix these and retry:\n` +
        issues.map((i) => `  - ${formatIssue(i)}`).join('\n'),
    );
    this.issues = issues;
  }
}

/** A config file could not be read or evaluated. */
export class ConfigLoadError extends EsperError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_CONFIG_LOAD', message, options);
  }
}
