/**
 * `mailfetch mailboxes enable | disable | remove --mailbox ID...`. Every id is checked
 * first: a command naming an unregistered mailbox changes nothing.
 */
import { notRegistered } from '../registry/errors';
import { parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { MAILBOXES_BASE_OPTIONS, MAILBOX_ID_OPTION, withRegistry, writeLine } from './mailboxes-options';
import { MAILBOXES_USAGE } from './mailboxes-usage';

const TOGGLE_OPTIONS = { ...MAILBOXES_BASE_OPTIONS, ...MAILBOX_ID_OPTION } as const;

export type Toggle = 'enable' | 'disable' | 'remove';

export async function toggleCommand(toggle: Toggle, argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = `mailboxes ${toggle}`;
  const values = parseCommand(command, argv, TOGGLE_OPTIONS);
  if (values.help) {
    io.stdout.write(MAILBOXES_USAGE);
    return ExitCode.OK;
  }
  const ids = [...new Set(values.mailbox ?? [])];
  if (ids.length === 0) throw new UsageError(`${toggle} needs --mailbox ID (repeatable)`, command);
  const json = values.json === true;
  return withRegistry(values, io, command, async ({ registry }) => {
    for (const id of ids) if ((await registry.get(id)) === undefined) throw notRegistered(id, registry.description);
    for (const id of ids) {
      if (toggle === 'remove') {
        await registry.remove(id);
        writeLine(io, json, { mailbox: id, change: 'removed' }, `removed ${id} (its state stays: 'mailfetch reset --mailbox ${id} --yes' before removing forgets it)`);
      } else {
        await registry.setEnabled(id, toggle === 'enable');
        writeLine(io, json, { mailbox: id, enabled: toggle === 'enable' }, `${id}: ${toggle}d`);
      }
    }
    return ExitCode.OK;
  });
}
