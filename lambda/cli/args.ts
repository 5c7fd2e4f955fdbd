/**
 * Command-line parsing on node:util parseArgs (strict: an unknown flag is a usage error
 * that names it). Option tables are shared by the commands that take them.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes';

type ParseArgsOptions = NonNullable<ParseArgsConfig['options']>;

/** --config, --mailbox, --json, --verbose, --help: taken by check, fetch, baseline, reset. */
export const MAILBOX_OPTIONS = {
  config: { type: 'string', short: 'c' },
  mailbox: { type: 'string', short: 'm', multiple: true },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where messages and state go. */
export const STORAGE_OPTIONS = {
  local: { type: 'string' },
  bucket: { type: 'string' },
  table: { type: 'string' },
  prefix: { type: 'string' },
  'force-path-style': { type: 'boolean' },
  'create-missing': { type: 'boolean' },
  'event-bus': { type: 'string' },
} as const;

/**
 * Runs a parseArgs call and turns its errors into UsageErrors with a plain message:
 * `unknown option --frobnicate`, `option --config needs a value`, ...
 */
export function parseOrUsage<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(describeParseError(err), command);
  }
}

function describeParseError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const quoted = /'([^']*)'/.exec(message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted ?? message}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "Option '--config <value>' argument missing" / "Option '--json' does not take an argument"
      // The quoted part is "-c, --config <value>" for an option with a short form: name the long one.
      if (/argument missing/.test(message)) return `option ${/--[\w-]+/.exec(quoted ?? '')?.[0] ?? quoted?.split(' ')[0] ?? ''} needs a value`;
      return message.charAt(0).toLowerCase() + message.slice(1);
    default:
      return message;
  }
}

/** parseArgs with the settings every command uses: strict, no positionals. */
export function parseCommand<const O extends ParseArgsOptions>(command: string, argv: readonly string[], options: O) {
  return parseOrUsage(command, () => parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values);
}

/** A positive number of seconds, as milliseconds. */
export function parseSeconds(value: string | undefined, option: string, command: string, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0)) throw new UsageError(`${option} must be a positive number of seconds, got "${value}"`, command);
  return seconds * 1000;
}
