/** Exit codes shared by every entry point: 0 ok, 1 runtime failure, 2 usage or configuration error. */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** Base of every error oodkit raises on purpose; `exitCode` tells the CLI how to exit. */
export class OodkitError extends Error {
  readonly exitCode: number = EXIT_RUNTIME;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A runtime failure that is the user's data's fault (corrupt file, NaN loss, ...). */
export class DataError extends OodkitError {}

/** Wrong command-line usage. */
export class UsageError extends OodkitError {
  override readonly exitCode = EXIT_USAGE;
}

/** One problem found in a configuration; `path` is the dotted key path inside the merged config. */
export interface ConfigIssue {
  path: string;
  message: string;
  file?: string;
  line?: number;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.file ? `${issue.file}${issue.line !== undefined ? `:${issue.line}` : ''}: ` : '';
  const key = issue.path ? `${issue.path}: ` : '';
  return `${where}${key}${issue.message}`;
}

/** Every problem of a configuration at once, so users fix them in one pass. */
export class ConfigError extends OodkitError {
  override readonly exitCode = EXIT_USAGE;
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], headline?: string) {
    const head = headline ?? `configuration has ${issues.length} problem${issues.length === 1 ? '' : 's'}`;
    super(`${head}:\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`);
    this.issues = issues;
  }
}
