/**
 * `mailfetch reset`: forgets one mailbox's state (records, summary, lease). An operator
 * action only: the worker's event cannot reset. Objects in S3 stay; a later fetch stores
 * every message on the server again under the same keys. The mailbox is named in
 * --config FILE, or without it in the registry; its registry item stays.
 */
import { MAILBOX_OPTIONS, STORAGE_OPTIONS, parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { createCliLogger, loadMailboxes } from './setup';
import { registryMailboxes } from './registry-selection';
import { openStorage, storageChoice } from './storage';
import { RESET_USAGE } from './usage';

const RESET_OPTIONS = { ...MAILBOX_OPTIONS, ...STORAGE_OPTIONS, yes: { type: 'boolean' } } as const;

export async function resetCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const values = parseCommand('reset', argv, RESET_OPTIONS);
  if (values.help) {
    io.stdout.write(RESET_USAGE);
    return ExitCode.OK;
  }
  const ids = values.mailbox ?? [];
  if (ids.length !== 1) throw new UsageError('reset needs exactly one --mailbox ID', 'reset');
  const choice = storageChoice(values, io.env, io.cwd, 'reset');
  const [id] = ids as [string];
  // With --config the id must be in the file; without, in the registry (checked below).
  if (values.config !== undefined) await loadMailboxes(values.config, ids, io, 'reset');
  if (!values.yes) {
    throw new UsageError(`reset forgets every message recorded for mailbox "${id}", so the next fetch stores them all again; add --yes to do it`, 'reset');
  }
  const log = createCliLogger(io, values.verbose, { mailbox: id }, values.json);
  const storage = await openStorage(choice, { readOnly: false });
  try {
    if (values.config === undefined) await registryMailboxes(storage.registry, ids, 'reset', { allowDisabled: true });
    const removed = await storage.state.resetMailbox(id);
    log.info('mailbox state reset', { removed });
    io.stdout.write(
      values.json
        ? `${JSON.stringify({ mailbox: id, removed })}\n`
        : `${id}: state reset, ${removed} item${removed === 1 ? '' : 's'} removed (${storage.description}).\n` +
            'The next fetch treats every message on the server as new.\n',
    );
    return ExitCode.OK;
  } finally {
    await storage.close();
  }
}
