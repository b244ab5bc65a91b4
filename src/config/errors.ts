/** ConfigError: every config mistake with its field and fix, printed before anything runs (exit 78). */
import { FilesSyncError } from '../errors.js';

/** sysexits.h EX_CONFIG: the process exits with this when the configuration is unusable. */
export const EXIT_CONFIG = 78;

/** One thing wrong with the configuration, with what to do about it. */
export interface ConfigIssue {
  /** Where: a config field ("folders[1].path"), an env var ("FILES_SYNC_CONCURRENCY") or a flag ("--folder"). */
  path: string;
  message: string;
  fix: string;
}

/** The configuration (file, env or flags) cannot be used; `issues` lists every problem found. */
export class ConfigError extends FilesSyncError {
  readonly issues: ConfigIssue[];

  constructor(
    issues: ConfigIssue[],
    context: { configPath?: string } & Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    const where = typeof context.configPath === 'string' ? ` (${context.configPath})` : '';
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(
      `Invalid configuration${where}: ${count}\n${formatIssues(issues)}`,
      { ...context, issues },
      options,
    );
    this.issues = issues;
  }
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => `${issue.path}: ${issue.message}. Fix: ${issue.fix}`).join('\n');
}

/** Renders a ConfigError for a terminal: one line per issue, `path: message. Fix: ...`. */
export function formatConfigError(err: ConfigError): string {
  return formatIssues(err.issues);
}
