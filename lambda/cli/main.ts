/**
 * The `mailfetch` command line (bin/mailfetch.js runs it through tsx). Dispatches to the
 * commands and turns what they throw into exit codes: usage and configuration errors 2,
 * everything else 1, with a message on stderr and never a stack trace unless --verbose;
 * fetch and baseline interrupted by Ctrl-C exit 130 (SIGTERM: 143).
 */
import { readFileSync } from 'node:fs';
import { isConfigError } from '../config/config-error';
import { processIo, type CliIo } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { MAIN_USAGE, USAGE_BY_COMMAND } from './usage';

type Command = (argv: readonly string[], io: CliIo) => Promise<ExitCode>;

// Loaded on use: the AWS SDK takes most of a second to load, which --help need not wait for.
const COMMANDS: Readonly<Record<string, Command>> = {
  init: async (argv, io) => (await import('./init-command')).initCommand(argv, io),
  check: async (argv, io) => (await import('./check-command')).checkCommand(argv, io),
  fetch: async (argv, io) => (await import('./fetch-command')).fetchCommand(argv, io),
  baseline: async (argv, io) => (await import('./fetch-command')).fetchCommand(argv, io, 'baseline'),
  reset: async (argv, io) => (await import('./reset-command')).resetCommand(argv, io),
  unlock: async (argv, io) => (await import('./unlock-command')).unlockCommand(argv, io),
  demo: async (argv, io) => (await import('./demo-command')).demoCommand(argv, io),
  mailboxes: async (argv, io) => (await import('./mailboxes-command')).mailboxesCommand(argv, io),
  secrets: async (argv, io) => (await import('./secrets-command')).secretsCommand(argv, io),
};

/** Runs one command line; resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<ExitCode> {
  const [first, ...rest] = argv;
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    if (first === undefined) {
      io.stderr.write(MAIN_USAGE);
      return ExitCode.USAGE;
    }
    if (first === '--help' || first === '-h') {
      io.stdout.write(MAIN_USAGE);
      return ExitCode.OK;
    }
    if (first === 'help') return help(rest[0], io);
    if (first === '--version') {
      io.stdout.write(`${version()}\n`);
      return ExitCode.OK;
    }
    const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!command) {
      throw new UsageError(first.startsWith('-') ? `unknown option ${first} (a command comes first)` : `unknown command "${first}"`);
    }
    return await command(rest, io);
  } catch (err) {
    return reportFailure(err, first, io, verbose);
  }
}

function help(command: string | undefined, io: CliIo): ExitCode {
  if (command === undefined) {
    io.stdout.write(MAIN_USAGE);
    return ExitCode.OK;
  }
  const usage = Object.hasOwn(USAGE_BY_COMMAND, command) ? USAGE_BY_COMMAND[command] : undefined;
  if (usage === undefined) throw new UsageError(`unknown command "${command}"`);
  io.stdout.write(usage);
  return ExitCode.OK;
}

function reportFailure(err: unknown, command: string | undefined, io: CliIo, verbose: boolean): ExitCode {
  if (err instanceof UsageError) {
    const which = err.command ?? (command !== undefined && Object.hasOwn(COMMANDS, command) ? command : undefined);
    io.stderr.write(`mailfetch: ${err.message}\nRun 'mailfetch ${which === undefined ? '' : `${which} `}--help' for usage.\n`);
    return ExitCode.USAGE;
  }
  if (isConfigError(err)) {
    io.stderr.write(`mailfetch: ${err.message}\n`);
    return ExitCode.USAGE;
  }
  const e = err as { code?: unknown; message?: unknown; stack?: unknown };
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  io.stderr.write(`mailfetch: ${code}${message}\n`);
  if (verbose && typeof e?.stack === 'string') io.stderr.write(`${e.stack}\n`);
  return ExitCode.MAILBOX_FAILED;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: string; version?: string };
  return `${pkg.name ?? 'mailfetch'} ${pkg.version ?? ''}`.trim();
}

/** How long a finished command may take to let go of the event loop before it is made to exit. */
const EXIT_GRACE_MS = 2_000;

/**
 * The process entry (bin/mailfetch.js): runs the command with the process's streams and
 * sets the exit code. Without --verbose, the AWS SDK's notice about future Node versions
 * is silenced: it says nothing about this run.
 */
export async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (!argv.includes('--verbose') && !argv.includes('-v')) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const code = await runCli(argv);
  process.exitCode = code;
  // Everything is closed by now; should a socket linger anyway, do not hang on it.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}
