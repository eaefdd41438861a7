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
export class ConfigValidationError extends EsperError<'ESPER_CONFIG_INVALID'> {
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
export class ConfigLoadError extends EsperError<'ESPER_CONFIG_LOAD'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESPER_CONFIG_LOAD', message, options);
  }
}

/**
 * A config schema's setting metadata (`.meta({ env, secret })`) is wrong, or a plugin still
 * passes the removed plugin-level `env` map or `secrets` list. Thrown by `definePlugin` (and by
 * `resolveConfig` for plugin objects not made by it), so the mistake shows when the plugin is
 * defined rather than when a variable happens to be set. `problems` lists every one found.
 */
export class SettingMetaError extends EsperError<'ESPER_CONFIG_META_INVALID'> {
  /** One line per problem, each starting with the option path it is at. */
  readonly problems: readonly string[];
  constructor(owner: string, problems: readonly string[]) {
    super(
      'ESPER_CONFIG_META_INVALID',
      `Setting metadata of ${owner} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}); fix the config schema's .meta() and retry:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.problems = problems;
  }
}
