/**
 * `mailfetch mailboxes <add|update|remove|enable|disable|list|status|import>`: manage the
 * mailbox registry in the state table (embedded with --local, the default, or DynamoDB
 * with --table), without redeploying. Each subcommand lives in its own file.
 */
import type { CliIo } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { MAILBOXES_USAGE } from './mailboxes-usage';

type Subcommand = (argv: readonly string[], io: CliIo) => Promise<ExitCode>;

const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  add: async (argv, io) => (await import('./mailboxes-edit')).addCommand(argv, io),
  update: async (argv, io) => (await import('./mailboxes-edit')).updateCommand(argv, io),
  remove: async (argv, io) => (await import('./mailboxes-toggle')).toggleCommand('remove', argv, io),
  enable: async (argv, io) => (await import('./mailboxes-toggle')).toggleCommand('enable', argv, io),
  disable: async (argv, io) => (await import('./mailboxes-toggle')).toggleCommand('disable', argv, io),
  list: async (argv, io) => (await import('./mailboxes-status')).listCommand(argv, io),
  status: async (argv, io) => (await import('./mailboxes-status')).statusCommand(argv, io),
  import: async (argv, io) => (await import('./mailboxes-import')).importCommand(argv, io),
};

export async function mailboxesCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(MAILBOXES_USAGE);
    return ExitCode.OK;
  }
  if (sub === undefined) throw new UsageError(`a subcommand is needed: ${Object.keys(SUBCOMMANDS).join(', ')}`, 'mailboxes');
  const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (run === undefined) throw new UsageError(`unknown subcommand "${sub}" (one of: ${Object.keys(SUBCOMMANDS).join(', ')})`, 'mailboxes');
  return run(rest, io);
}
