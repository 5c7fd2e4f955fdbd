/**
 * The one error configuration loading throws. Validation collects every problem before
 * throwing, so a user fixes the whole file in one pass instead of one error per deploy.
 * Problems never quote secret values: they name the field and say what is wrong with it.
 */

export const CONFIG_ERROR_CODE = 'INVALID_CONFIG';

export interface ConfigErrorOptions {
  /** Where the configuration came from (a file path), shown first in the message. */
  readonly source?: string;
  readonly cause?: unknown;
  /** The whole message, when the problem is not the configuration's content (a file that cannot be read). */
  readonly message?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = CONFIG_ERROR_CODE;
  /** Each problem as `<field path>: <what is wrong>`, in the order found. */
  readonly problems: readonly string[];
  readonly source?: string;

  constructor(problems: readonly string[], options: ConfigErrorOptions = {}) {
    super(options.message ?? formatProblems(problems, options.source), options.cause === undefined ? undefined : { cause: options.cause });
    this.problems = Object.freeze([...problems]);
    if (options.source !== undefined) this.source = options.source;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}

function formatProblems(problems: readonly string[], source: string | undefined): string {
  const where = source === undefined ? 'invalid configuration' : `invalid configuration in ${source}`;
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `${where} (${count}):\n${problems.map((p) => `  - ${p}`).join('\n')}`;
}
